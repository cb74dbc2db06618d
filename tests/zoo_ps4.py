"""The zoo of ps4_mlp_backprop: its kinds of submission (see zoo.py for what a kind is)."""
from zoo import ALL, REPLACE_CHECKS, Kind, append, edit, forger, insert, replace_source

# --- ps4_mlp_backprop: the named mistakes of the deltas and gradients ---------

A = "ps4_mlp_backprop"
K4, J4, L4 = ("test_delta_k", "test_delta_k_hidden"), ("test_delta_j", "test_delta_j_hidden"), \
    ("test_layer_grads", "test_layer_grads_hidden")
B4, T4 = ("test_backward", "test_backward_hidden"), ("test_train", "test_train_hidden")
N4 = ("test_numerical", "test_numerical_hidden")
C4 = ("test_cross_entropy", "test_cross_entropy_hidden")
CE = "    return -(t * torch.log(O_k) + (1 - t) * torch.log(1 - O_k)).sum()"
DCE = "    return O_k - t\n"
DK = "    return O_k * (1 - O_k) * (O_k - t)"
DJ = "    return (delta_k @ W.T) * O_j * (1 - O_j)"
LG = "    return O_prev.T @ delta, delta.sum(0)"
REL = ("    scale = (a.abs() + b.abs()).max().item()\n"
       "    return 0.0 if scale == 0 else (a - b).abs().max().item() / scale")
STEP = ("        grads_W, grads_b = backward(x, t, Ws, bs)\n"
        "        Ws = [W - lr * g for W, g in zip(Ws, grads_W)]\n"
        "        bs = [b - lr * g for b, g in zip(bs, grads_b)]\n")
LOSS = "        losses.append(loss(forward(x, Ws, bs)[-1], t))\n"

# delta_k returns whatever tensor of its shape it finds in its callers' frames
PEEK = """    import inspect

    frame = inspect.currentframe()
    while (frame := frame.f_back) is not None:
        for value in list(frame.f_locals.values()):
            for v in value if isinstance(value, (tuple, list)) else [value]:
                if isinstance(v, torch.Tensor) and v.shape == O_k.shape and v is not O_k \\
                        and v is not t:
                    return v.clone()
    return torch.zeros_like(O_k)"""

# a wrong delta_k, and everything public in torch that a check might compare with, patched
PATCH = """import sys

import torch

_orig = {n: getattr(torch.Tensor, n) for n in ("__sub__", "abs", "max", "tolist")}


def _from_checks():  # called by the comparisons (the student's own code runs as usual)
    return sys._getframe(2).f_globals.get("__name__") in ("compare", "judge", "gradecheck")


def _patched(name):
    def fake(self, *args, **kwargs):
        out = _orig[name](self, *args, **kwargs)
        if _from_checks():
            return _orig["tolist"](self * 0) if name == "tolist" else out * 0
        return out
    return fake


for _name in _orig:
    setattr(torch.Tensor, _name, _patched(_name))
torch.allclose = lambda *args, **kwargs: True
torch.equal = lambda *args, **kwargs: True
torch.isclose = lambda a, b, *args, **kwargs: torch.ones_like(a, dtype=torch.bool)
torch.testing.assert_close = lambda *args, **kwargs: None
print("torch patched")"""

# a last cell: the notebook's history (hidden tests included) and its callers' source
HISTORY = """import inspect

print("history:")
print("\\n".join(In))
for info in inspect.stack():
    print("caller:", info.filename, info.lineno, info.code_context)"""

# delta_k's work done at the top level with autograd, reached as a Tensor method
DELTA_K_AUTOGRAD = """def _autograd_delta_k(O_k, t):
    z = torch.logit(O_k).detach().requires_grad_()
    E = 0.5 * ((torch.sigmoid(z) - t) ** 2).sum()
    return torch.autograd.grad(E, z)[0]
"""
TENSOR_METHOD = DELTA_K_AUTOGRAD + "\n\ntorch.Tensor.bp_delta = _autograd_delta_k"
DELTA_J_ASSEMBLED = """def delta_j(O_j, delta_k, W):
    import operator

    z = operator.methodcaller("requi" + "res_gr" + "ad_")(torch.logit(O_j).detach())
    engine = operator.attrgetter("au" + "togr" + "ad")(torch)
    return operator.attrgetter("g" + "rad")(engine)(torch.sigmoid(z), z, delta_k @ W.T)[0]"""
RIGHT_PS4 = """RIGHT = {"delta_k": lambda O_k, t: O_k * (1 - O_k) * (O_k - t),
         "delta_j": lambda O_j, delta_k, W: (delta_k @ W.T) * O_j * (1 - O_j)}"""


KINDS = [
    Kind("ps4-correct", "source"),
    Kind("ps4-untouched", "release", lose=ALL),
    Kind("ps4-sigma-prime-missing", "source", [edit("delta_k", DK, "    return O_k - t")],
         lose={*K4, *B4, *T4}, says=("the sigmoid derivative O*(1-O) is missing",)),
    Kind("ps4-sign-flipped", "source",
         [edit("delta_k", DK, "    return O_k * (1 - O_k) * (t - O_k)")],
         lose={*K4, *B4, *T4}, says=("the sign is flipped: use (O - t), not (t - O).",)),
    Kind("ps4-mean-not-sum", "source", [edit("delta_k", DK, DK + " / O_k.shape[0]")],
         lose={*K4, *B4, *T4}, says=("the loss was averaged",)),
    Kind("ps4-batch-summed-away", "source", [edit("delta_k", DK, "    return (O_k * (1 - O_k) * (O_k - t)).sum(0, keepdim=True)")],
         lose={*K4, *B4, *T4}, says=("the batch dimension was summed away",)),
    Kind("ps4-W-not-transposed", "source",
         [edit("delta_j", "(delta_k @ W.T)", "(delta_k @ W)")],
         lose={*J4, *B4, *T4}, says=("W was used where W.T is needed",)),
    Kind("ps4-grad-W-transposed", "source",
         [edit("layer_grads", "return O_prev.T @ delta,", "return delta.T @ O_prev,")],
         lose={*L4, *B4, *T4}, says=("the result is transposed",)),
    Kind("ps4-bias-not-summed", "source", [edit("layer_grads", "delta.sum(0)", "delta")],
         lose={*L4, *B4, *T4}, says=("the batch dimension was kept: sum over the samples (rows).",)),
    Kind("ps4-output-activations-in-delta-j", "source",
         [edit("backward", "delta_j(Os[l], delta, Ws[l])", "delta_j(Os[l + 1], delta, Ws[l])")],
         lose={*B4, *T4}, says=("activations were used in delta_j",)),
    Kind("ps4-delta-j-uses-autograd", "source",
         [edit("delta_j", "    return (delta_k @ W.T) * O_j * (1 - O_j)",
               "    z = torch.logit(O_j).requires_grad_()\n"
               "    torch.sigmoid(z).backward(delta_k @ W.T)\n    return z.grad")],
         lose=set(J4), says=("uses autograd",)),
    # --- the catalogue of each part, reached by a plausible edit
    Kind("ps4-delta-k-t-minus-O", "source", [edit("delta_k", DK, "    return t - O_k")],
         lose={*K4, *B4, *T4}, says=("the sign is flipped: use (O - t), not (t - O), and",)),
    Kind("ps4-delta-k-sigmoid-of-O", "source",
         [edit("delta_k", DK, "    return torch.sigmoid(O_k) * (1 - torch.sigmoid(O_k)) * (O_k - t)")],
         lose={*K4, *B4, *T4}, says=("sigma'(O) was used",)),
    Kind("ps4-delta-k-mse-gradient", "source",
         [edit("delta_k", DK, "    return 2 * O_k * (1 - O_k) * (O_k - t) / O_k.numel()")],
         lose={*K4, *B4, *T4}, says=("the gradient of a mean was used (a factor 2/number of elements",)),
    Kind("ps4-delta-j-sigma-prime-missing", "source", [edit("delta_j", DJ, "    return delta_k @ W.T")],
         lose={*J4, *B4, *T4}, says=("the sigmoid derivative O*(1-O) is missing (O - t",)),
    Kind("ps4-delta-j-sign", "source",
         [edit("delta_j", DJ, "    return (delta_k @ W.T) * O_j * (O_j - 1)")],
         lose={*J4, *B4, *T4}, says=("the sign is flipped: use (O - t), not (t - O).",)),
    Kind("ps4-delta-j-batch-summed", "source",
         [edit("delta_j", DJ, "    return ((delta_k @ W.T) * O_j * (1 - O_j)).sum(0)")],
         lose={*J4, *B4, *T4}, says=("the batch dimension was summed away",)),
    Kind("ps4-layer-grads-mean", "source",
         [edit("layer_grads", LG, "    return O_prev.T @ delta / len(O_prev), delta.mean(0)")],
         lose={*L4, *B4, *T4}, says=("the mean over the batch was taken instead of the sum",)),
    Kind("ps4-grad-W-outer-of-sums", "source",
         [edit("layer_grads", LG, "    return torch.outer(O_prev.sum(0), delta.sum(0)), delta.sum(0)")],
         lose={*L4, *B4, *T4}, says=("the samples were summed before multiplying",)),
    Kind("ps4-bias-keepdim", "source",
         [edit("layer_grads", LG, "    return O_prev.T @ delta, delta.sum(0, keepdim=True)")],
         lose={*L4, *B4, *T4}, says=("not (1, n_out)", "grad_b has shape (1, n_out)")),
    Kind("ps4-bias-summed-over-outputs", "source",
         [edit("layer_grads", LG, "    return O_prev.T @ delta, delta.sum(1)")],
         lose={*L4, *B4, *T4}, says=("summed over the outputs (dim 1)",)),
    Kind("ps4-backward-reversed", "source",
         [edit("backward", "    return grads_W, grads_b", "    return grads_W[::-1], grads_b[::-1]")],
         lose={*B4, *T4}, says=("the lists are in reverse order",)),
    Kind("ps4-backward-top-sigma-prime-missing", "source",
         [edit("backward", "delta = delta_k(Os[L], t)", "delta = Os[L] - t")],
         lose={*B4, *T4}, says=("is missing in the output layer's delta_k",)),
    Kind("ps4-backward-own-output", "source",
         [edit("backward", "layer_grads(Os[l], delta)", "layer_grads(Os[l + 1], delta)")],
         lose={*B4, *T4}, says=("grad_W used the layer's own output where its input belongs",)),
    Kind("ps4-backward-changes-weights", "source",
         [edit("backward", "        if l > 0:\n",
               "        Ws[l] = Ws[l] - 0.05 * grads_W[l]  # update as we go\n        if l > 0:\n")],
         lose={*B4, *T4}, says=("backward changed Ws",)),
    Kind("ps4-forward-difference", "source",
         [edit("numerical_gradient", "        flat[i] = old - h\n", "        flat[i] = old\n"),
          edit("numerical_gradient", "(up - down) / (2 * h)", "(up - down) / h")],
         lose=set(N4), says=("a forward difference (f(x + h) - f(x)) / h",)),
    Kind("ps4-difference-2-missing", "source",
         [edit("numerical_gradient", "(up - down) / (2 * h)", "(up - down) / h")],
         lose=set(N4), says=("the 2 is missing",)),
    Kind("ps4-numerical-changes-x", "source",
         [edit("numerical_gradient", "    x = x.clone()\n", ""),
          edit("numerical_gradient", "        flat[i] = old\n", "")],
         lose=set(N4), says=("numerical_gradient changed x",)),
    Kind("ps4-relative-error-entrywise", "source",
         [edit("numerical_gradient", REL,
               "    return ((a - b).abs() / (a.abs() + b.abs()).clamp_min(1e-300)).max().item()")],
         lose=set(N4), says=("the ratio was taken entry by entry",)),
    Kind("ps4-train-update-sign", "source", [edit("train", "W - lr * g", "W + lr * g")],
         lose=set(T4), says=("the update has the wrong sign",)),
    Kind("ps4-train-lr-missing", "source", [edit("train", "W - lr * g", "W - g")],
         lose=set(T4), says=("the learning rate is missing",)),
    Kind("ps4-train-loss-after-update", "source", [edit("train", LOSS + STEP, STEP + LOSS)],
         lose=set(T4), says=("it was recorded after the update",)),
    Kind("ps4-train-backward-twice", "source",
         [edit("train", STEP, "        backward(x, t, Ws, bs)  # a look first\n" + STEP)],
         lose=set(T4), says=("the contract is exactly once per step",)),
    Kind("ps4-train-private-backward", "source",
         [edit("train", "backward(x, t, Ws, bs)", "my_backward(x, t, Ws, bs)"),
          insert("train", "my_backward = backward  # a private copy")],
         lose=set(T4), says=("train called backward 0 times",)),
    # --- part 7, cross-entropy: the catalogue reached by plausible edits
    Kind("ps4-ce-sigma-prime-kept", "source",
         [edit("cross_entropy", DCE, "    return O_k * (1 - O_k) * (O_k - t)\n")],
         lose=set(C4), says=("the sigmoid derivative O*(1-O) was kept",)),
    Kind("ps4-ce-log-of-targets", "source",
         [edit("cross_entropy", CE, CE.replace("torch.log(1 - O_k)", "torch.log(1 - t)"))],
         lose=set(C4), says=("log of the wrong thing: log(1 - t)",)),
    Kind("ps4-ce-mean-over-batch", "source",
         [edit("cross_entropy", CE, CE + " / O_k.shape[0]")],
         lose=set(C4), says=("averaged over the batch (a factor 1/B)",)),
    # --- hostile: helpers called, callers' frames read, torch patched, history printed
    Kind("ps4-delegates-to-helpers", "source",
         [edit("backward", "    Os = forward(x, Ws, bs)\n",
               "    import references\n\n    ref = references.autograd_mlp(x, t, Ws, bs)\n"
               "    return ref['grad_W'], ref['grad_b']\n    Os = forward(x, Ws, bs)\n")],
         lose=set(B4), says=("the course's checks",)),
    Kind("ps4-delegates-via-sys-modules", "source",
         [edit("delta_k", DK, "    import sys\n\n"
               "    return -sys.modules['mistakes'].mistakes_delta_k(O_k, t)[1][1]  # -(-right)")],
         lose=set(K4), says=("introspection",)),
    Kind("ps4-frame-peeking", "source", [edit("delta_k", DK, PEEK)],
         lose={*K4, *B4, *T4}, says=("introspection",)),
    Kind("ps4-patches-torch", "source",
         [edit("delta_k", DK, "    return O_k * (1 - O_k) * (t - O_k)"), insert("delta_k", PATCH)],
         lose={*K4, *B4, *T4}, says=("the sign is flipped: use (O - t), not (t - O).", "torch patched")),
    # the whole notebook against the verdict: top-level patches, rebinding, forged records
    Kind("ps4-tensor-method-at-top-level", "source",
         [replace_source("delta_k", "def delta_k(O_k, t):\n    return O_k.bp_delta(t)"),
          insert("delta_k", TENSOR_METHOD)],
         lose={*K4, *B4, *T4}, says=("has no attribute 'bp_delta'", "was left out")),
    Kind("ps4-exec-rebinds-graded-name", "source",
         [replace_source("delta_k", "def delta_k(O_k, t):\n    raise NotImplementedError()"),
          insert("delta_k", DELTA_K_AUTOGRAD + '\nexec("delta_k = _autograd_delta_k")')],
         lose={*K4, *B4, *T4}, says=("delta_k is not done yet",)),
    Kind("ps4-replaces-the-checks", "release",
         [insert("delta_k", forger(RIGHT_PS4, REPLACE_CHECKS))],
         lose=ALL, says=("delta_k is not done yet",)),
    Kind("ps4-attrgetter-assembled-names", "source",
         [replace_source("delta_j", DELTA_J_ASSEMBLED)], lose=set(J4),
         says=("import operator",)),
    Kind("ps4-prints-history", "source", [append(HISTORY)],
         says=("history:", "check.delta_k(delta_k)"), never=("hidden=True",)),
]
