"""The zoo of ps2_multi_output_perceptron: its kinds of submission (see zoo.py for what a
kind is). Every named mistake of the catalogue that ps2's checks use (mistakes.py) has a
kind whose feedback names it, except NO_SIGMA_PRIME for delta_k itself: there O - t is
named as dE/dO (DE_DO, listed first), and NO_SIGMA_PRIME fires in grad_W_mean and
grad_w_jk instead. Plus the hostile kinds: delegation to the shipped helpers, frame
peeking, patching torch, printing the history, state kept between calls."""
from zoo import ALL, Kind, append, edit, insert

A = "ps2_multi_output_perceptron"
K2 = ("test_delta_k", "test_delta_k_hidden")
W2 = ("test_grad_W", "test_grad_W_hidden")
B2 = ("test_grad_b", "test_grad_b_hidden")
M2 = ("test_grad_W_mean", "test_grad_W_mean_hidden")
J2 = ("test_grad_w_jk", "test_grad_w_jk_hidden")
DK = "    return O * (1 - O) * (O - t)"
GW = "    return x.T @ delta"
GB = "    return delta.sum(0)"
GM = "    return (2 / O.numel()) * grad_W(x, delta_k(O, t))"
GJ = "    return x[:, j] @ delta_k(O[:, k], t[:, k])"
USES_DK = {*K2, *M2, *J2}  # delta_k is called by grad_W_mean and grad_w_jk
USES_GW = {*W2, *M2}  # grad_W is called by grad_W_mean
SIGN = "the sign is flipped: use (O - t), not (t - O)."  # the period: not the longer one
MEAN = "the mean over the batch was taken instead of the sum"


def delta_k(new):
    return edit("delta_k", DK, new)


def grad_W(new):
    return edit("grads", GW, new)


def grad_b(new):
    return edit("grads", GB, new)


def grad_W_mean(new):
    return edit("grad_W_mean", GM, new)


def grad_w_jk(new):
    return edit("grad_w_jk", GJ, new)


# a function that implements nothing and returns what it finds in its callers' frames
FRAME_PEEKING = '''    import inspect

    want = (x.shape[1], delta.shape[1])

    def search(value, depth=0):
        if isinstance(value, torch.Tensor):
            return value if tuple(value.shape) == want and value is not x else None
        if depth < 3 and isinstance(value, (list, tuple, set)):
            items = value
        elif depth < 3 and isinstance(value, dict):
            items = value.values()
        elif depth < 3 and isinstance(getattr(value, "__dict__", None), dict) \
                and not inspect.ismodule(value):
            items = value.__dict__.values()
        else:
            return None
        for item in list(items):
            found = search(item, depth + 1)
            if found is not None:
                return found
        return None

    frame = inspect.currentframe()
    while (frame := frame.f_back) is not None:
        for scope in (frame.f_locals, frame.f_globals):
            found = search(dict(scope))
            if found is not None:
                return found.clone()
    return torch.zeros(want, dtype=x.dtype)'''

# patches of everything public a check in the kernel could compare with
PATCHES = '''import sys

import torch

_sub = torch.Tensor.__sub__
CHECKERS = ("compare.py", "judge.py", "references.py", "mistakes.py")


def _forged_sub(a, b):
    """Exact everywhere but in the course's checking modules, where it is zero."""
    out = _sub(a, b)
    caller = sys._getframe(1).f_code.co_filename
    return out * 0 if caller.endswith(CHECKERS) else out


torch.Tensor.__sub__ = _forged_sub
torch.Tensor.tolist = lambda self: [0.0] * self.numel()
torch.Tensor.abs = lambda self: torch.zeros_like(self)
torch.Tensor.max = lambda self, *args, **kwargs: torch.zeros((), dtype=self.dtype)
torch.allclose = lambda *args, **kwargs: True
torch.equal = lambda *args, **kwargs: True
torch.isclose = lambda a, b, *args, **kwargs: torch.ones_like(a, dtype=torch.bool)
print("torch patched")'''

# prints everything the kernel has run, and the source of every caller, when called
HISTORY = '''import inspect

print("\\n".join(In))
for frame in inspect.stack():
    print(frame.filename, frame.lineno, frame.code_context)
print("history printed")'''
PRINTS_CALLERS = ('    import inspect\n\n'
                  '    for frame in inspect.stack():\n'
                  '        print(frame.filename, frame.code_context)\n' + DK)

# the first answer, cached in a global and returned at every later call
CACHED = """    if not CACHE:
        CACHE.append(delta.sum(0))
    return CACHE[0]"""

KINDS = [
    Kind("ps2-correct", "source"),
    Kind("ps2-untouched", "release", lose=ALL),
    # --- delta_k: every mistake also breaks grad_W_mean and grad_w_jk, which call it
    Kind("ps2-delta-is-dE-dO", "source", [delta_k("    return O - t")], lose=USES_DK,
         says=("that is dE/dO = O - t, the gradient at the output",
               "the sigmoid derivative O*(1-O) is missing", "fix delta_k first")),
    Kind("ps2-delta-sign-flipped", "source", [delta_k("    return O * (1 - O) * (t - O)")],
         lose=USES_DK, says=(SIGN,)),
    Kind("ps2-delta-t-minus-O", "source", [delta_k("    return t - O")], lose=USES_DK,
         says=("the sign is flipped: use (O - t), not (t - O), and the sigmoid derivative",)),
    Kind("ps2-delta-sigma-prime-of-O", "source",
         [delta_k("    return torch.sigmoid(O) * (1 - torch.sigmoid(O)) * (O - t)")],
         lose=USES_DK, says=("sigma'(O) was used",)),
    Kind("ps2-delta-batch-summed", "source",
         [delta_k("    return (O * (1 - O) * (O - t)).sum(0, keepdim=True)")], lose=USES_DK,
         says=("the batch dimension was summed away",)),
    Kind("ps2-delta-averaged-over-B", "source", [delta_k(DK + " / O.shape[0]")],
         lose=USES_DK, says=("the loss was averaged (a factor 1/batch size B)",)),
    Kind("ps2-delta-mean-gradient-B", "source", [delta_k(DK + " * 2 / O.shape[0]")],
         lose=USES_DK, says=("the gradient of a mean was used (a factor 2/batch size B)",)),
    Kind("ps2-delta-averaged-over-BK", "source", [delta_k(DK + " / O.numel()")],
         lose=USES_DK, says=("the loss was averaged (a factor 1/number of elements B*K)",)),
    Kind("ps2-delta-mean-gradient-BK", "source", [delta_k(DK + " * 2 / O.numel()")],
         lose=USES_DK,
         says=("the gradient of a mean was used (a factor 2/number of elements B*K)",)),
    # --- grad_W: every mistake also breaks grad_W_mean, which calls it
    Kind("ps2-grad-W-sign-flipped", "source", [grad_W("    return -x.T @ delta")],
         lose=USES_GW, says=(SIGN, "fix grad_W first")),
    Kind("ps2-grad-W-mean", "source", [grad_W("    return x.T @ delta / x.shape[0]")],
         lose=USES_GW, says=(MEAN,)),
    Kind("ps2-grad-W-transposed", "source", [grad_W("    return delta.T @ x")],
         lose=USES_GW, says=("the result is transposed: W has shape (n_in, n_out)",
                             "the result is transposed: W has shape (n, K)")),
    Kind("ps2-grad-W-outer-of-sums", "source",
         [grad_W("    return torch.outer(x.sum(0), delta.sum(0))")], lose=USES_GW,
         says=("the samples were summed before multiplying",)),
    Kind("ps2-grad-W-assigned-not-added", "source",
         [grad_W("    G = torch.zeros(x.shape[1], delta.shape[1], dtype=x.dtype)\n"
                 "    for s in range(x.shape[0]):\n"
                 "        G = torch.outer(x[s], delta[s])  # should be +=\n"
                 "    return G")],
         lose=USES_GW, says=("only the last sample counts",)),
    # --- grad_b
    Kind("ps2-grad-b-batch-kept", "source", [grad_b("    return delta")], lose=set(B2),
         says=("the batch dimension was kept: sum over the samples (rows).",)),
    Kind("ps2-grad-b-keepdim", "source", [grad_b("    return delta.sum(0, keepdim=True)")],
         lose=set(B2), says=("(shape (n_out,), not (1, n_out))",)),
    Kind("ps2-grad-b-summed-over-outputs", "source", [grad_b("    return delta.sum(1)")],
         lose=set(B2), says=("it was summed over the outputs (dim 1)",)),
    Kind("ps2-grad-b-sign-flipped", "source", [grad_b("    return -delta.sum(0)")],
         lose=set(B2), says=(SIGN,)),
    Kind("ps2-grad-b-mean", "source", [grad_b("    return delta.mean(0)")], lose=set(B2),
         says=(MEAN,)),
    Kind("ps2-grad-b-assigned-not-added", "source",
         [grad_b("    g = torch.zeros(delta.shape[1], dtype=delta.dtype)\n"
                 "    for row in delta:\n"
                 "        g = row  # should be +=\n"
                 "    return g")],
         lose=set(B2), says=("only the last sample counts",)),
    # --- grad_W_mean
    Kind("ps2-mean-is-grad-of-E", "source",
         [grad_W_mean("    return grad_W(x, delta_k(O, t))")], lose=set(M2),
         says=("that is dE/dW of the summed loss E",)),
    Kind("ps2-mean-factor-2-missing", "source",
         [grad_W_mean("    return (1 / O.numel()) * grad_W(x, delta_k(O, t))")], lose=set(M2),
         says=("the factor 2 is missing",)),
    Kind("ps2-mean-over-B-only", "source",
         [grad_W_mean("    return (2 / O.shape[0]) * grad_W(x, delta_k(O, t))")],
         lose=set(M2), says=("divided by the batch size B only",)),
    Kind("ps2-mean-over-K-only", "source",
         [grad_W_mean("    return (2 / O.shape[1]) * grad_W(x, delta_k(O, t))")],
         lose=set(M2), says=("divided by K only",)),
    Kind("ps2-mean-factor-inverted", "source",
         [grad_W_mean("    return (O.numel() / 2) * grad_W(x, delta_k(O, t))")],
         lose=set(M2), says=("multiplied by (B*K)/2 instead of by 2/(B*K)",)),
    Kind("ps2-mean-sign-flipped", "source",
         [grad_W_mean("    return (2 / O.numel()) * x.T @ (O * (1 - O) * (t - O))")],
         lose=set(M2), says=(SIGN,)),
    Kind("ps2-mean-transposed", "source",
         [grad_W_mean("    return (2 / O.numel()) * delta_k(O, t).T @ x")], lose=set(M2),
         says=("the result is transposed: W has shape (n, K)",)),
    Kind("ps2-mean-delta-wrong", "source",
         [grad_W_mean("    return (2 / O.numel()) * x.T @ (O - t)")], lose=set(M2),
         says=("delta is wrong (the sigmoid derivative O*(1-O) is missing",)),
    # --- grad_w_jk
    Kind("ps2-jk-sign-flipped", "source",
         [grad_w_jk("    return -(x[:, j] @ delta_k(O[:, k], t[:, k]))")], lose=set(J2),
         says=(SIGN,)),
    Kind("ps2-jk-sigma-prime-missing", "source",
         [grad_w_jk("    return x[:, j] @ (O[:, k] - t[:, k])")], lose=set(J2),
         says=("the sigmoid derivative O*(1-O) is missing",)),
    Kind("ps2-jk-all-outputs", "source",
         [grad_w_jk("    return x[:, j] @ delta_k(O, t).sum(1)")], lose=set(J2),
         says=("the deltas of all outputs were added",)),
    Kind("ps2-jk-all-inputs", "source",
         [grad_w_jk("    return x.sum(1) @ delta_k(O[:, k], t[:, k])")], lose=set(J2),
         says=("the inputs of all nodes were added",)),
    Kind("ps2-jk-swapped", "source",
         [grad_w_jk("    return x[:, k] @ delta_k(O[:, j], t[:, j])")], lose=set(J2),
         says=("j and k are swapped",)),
    Kind("ps2-jk-mean", "source",
         [grad_w_jk("    return x[:, j] @ delta_k(O[:, k], t[:, k]) / x.shape[0]")],
         lose=set(J2), says=(MEAN,)),
    Kind("ps2-jk-reads-other-columns", "source",
         [grad_w_jk("    e_j = torch.zeros(x.shape[1], dtype=x.dtype)\n    e_j[j] = 1\n"
                    "    return (x @ e_j) @ delta_k(O[:, k], t[:, k])  # x[:, j], by a product")],
         lose=set(J2), says=("must read only input j and output k",)),
    # --- by hand, and nothing of the course's own code
    Kind("ps2-delta-uses-autograd", "source",
         [delta_k("    z = torch.logit(O).requires_grad_()\n"
                  "    E = 0.5 * ((torch.sigmoid(z) - t) ** 2).sum()\n"
                  "    return torch.autograd.grad(E, z)[0]")],
         lose=set(K2), says=("uses autograd",)),
    Kind("ps2-delegates-to-helpers", "source",
         [delta_k("    import references\n\n    K = O.shape[1]\n"
                  "    eye, zero = torch.eye(K, dtype=O.dtype), torch.zeros(K, dtype=O.dtype)\n"
                  "    return references.autograd_mlp(torch.logit(O), t, [eye], [zero])"
                  "[\"delta\"][0]")],
         lose={*K2, *J2}, says=("the course's checks",)),  # its delta_k fails on 1-D slices
    Kind("ps2-delegates-to-mistakes", "source",
         [insert("grads", "import mistakes"),
          grad_b("    return -dict(mistakes.mistakes_grad_b(delta))[mistakes.SIGN]")],
         lose=set(B2), says=("the course's checks",)),
    # --- hostile: nothing in the kernel decides a verdict, or reads the hidden tests back
    Kind("ps2-frame-peeking", "source", [grad_W(FRAME_PEEKING)], lose=USES_GW,
         says=("introspection",)),
    Kind("ps2-patches-torch", "source",
         [insert("setup", PATCHES), grad_b("    return -delta.sum(0)")], lose=set(B2),
         says=("torch patched", SIGN)),
    Kind("ps2-prints-history", "source",
         [delta_k(PRINTS_CALLERS), append(HISTORY)],
         lose=set(K2), says=("history printed", "introspection"), never=("hidden=True",)),
    Kind("ps2-state-between-calls", "source",
         [insert("grads", "CACHE = []  # grad_b's first answer"), grad_b(CACHED)],
         lose=set(B2), says=("shape (4,), expected (2,)",)),
]
