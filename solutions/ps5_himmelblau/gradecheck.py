"""Compare hand-written gradients with torch.autograd, and say what is wrong.

One small module shared by the lectures and the assignments (each assignment
folder holds a link to this file, so nbgrader ships it with the notebook).

* ``cmp(name, mine, expected)`` prints one line: exact / approx / max diff.
* ``numeric_grad(f, x)`` and ``rel_error(a, b)``: central differences, the
  second, independent oracle (as in CS231n).
* ``check(name, mine, expected, mistakes)`` raises an AssertionError that
  shows shapes and the max abs difference, and names the mistake when the
  answer equals one of the typical wrong answers in ``mistakes``.
* ``random_mlp`` and ``autograd_mlp``: seeded sigmoid networks and autograd's
  answers for them (``seeded_draw`` draws random architectures).
* ``mistakes_*`` build those typical wrong answers for the deltas and
  gradients of the course, up to a whole backward pass.
* ``by_hand(name, fn, *args)`` calls a student's function with autograd
  switched off, so a "hand-written" gradient that calls autograd fails.
* ``check_backward``, ``recording`` and ``check_training`` check a whole
  backward pass and gradient descent written with it.

Verdicts use plain Python floats (``tolist``), not torch.allclose or
numpy.testing, so redefining those in a notebook cannot make a check pass.
"""
import ast
import contextlib
import inspect
import math
import textwrap
import warnings
from itertools import pairwise

import torch

ATOL = 1e-10  # float64: hand-written and autograd agree to ~1e-15
RTOL = 1e-7


def _floats(x):
    """Flatten a tensor (or number) to a list of Python floats."""
    if isinstance(x, torch.Tensor):
        x = x.detach().double().reshape(-1).tolist()
    return [float(v) for v in (x if isinstance(x, list) else [x])]


def max_abs_diff(a, b):
    """Largest |a - b| over all elements (inf if either has NaN)."""
    pairs = list(zip(_floats(a), _floats(b)))
    if any(math.isnan(u) or math.isnan(v) for u, v in pairs):
        return math.inf
    return max((abs(u - v) for u, v in pairs), default=0.0)


def close(a, b, atol=ATOL, rtol=RTOL):
    """True if same shape and |a - b| <= atol + rtol * |b| everywhere."""
    if tuple(a.shape) != tuple(b.shape):
        return False
    return all(abs(u - v) <= atol + rtol * abs(v) for u, v in zip(_floats(a), _floats(b)))


def _canary():
    """The comparison itself must be able to fail; stop if it was tampered with."""
    one, two = torch.tensor([1.0], dtype=torch.float64), torch.tensor([2.0], dtype=torch.float64)
    if close(one, two) or not close(one, one) or max_abs_diff(one, two) != 1.0:
        raise AssertionError("The comparison helpers were modified by code in this notebook; "
                             "restart the kernel and run all cells.")


def cmp(name, mine, expected):
    """Print whether `mine` equals `expected` exactly, approximately, and by how much."""
    exact = tuple(mine.shape) == tuple(expected.shape) and torch.equal(mine, expected)
    approx = close(mine, expected)
    diff = max_abs_diff(mine, expected) if tuple(mine.shape) == tuple(expected.shape) else math.inf
    print(f"{name:<10} | exact: {exact!s:<5} | approx: {approx!s:<5} | max diff: {diff:.1e}")
    return approx


def numeric_grad(f, x, h=1e-6):
    """Central differences: d f / d x[i] ~ (f(x + h e_i) - f(x - h e_i)) / 2h, for scalar f."""
    x = x.detach().clone().double()
    grad = torch.zeros_like(x)
    flat, gflat = x.view(-1), grad.view(-1)
    for i in range(flat.numel()):
        old = flat[i].item()
        flat[i] = old + h
        up = float(f(x))
        flat[i] = old - h
        down = float(f(x))
        flat[i] = old
        gflat[i] = (up - down) / (2 * h)
    return grad


def rel_error(a, b):
    """max |a - b| / max(|a| + |b|), the relative error CS231n reports."""
    scale = max((abs(u) + abs(v) for u, v in zip(_floats(a), _floats(b))), default=0.0)
    return max_abs_diff(a, b) / max(scale, 1e-300)


def _shape(x):
    return tuple(x.shape) if hasattr(x, "shape") else type(x).__name__


def check(name, mine, expected, mistakes=(), where="", atol=ATOL, rtol=RTOL):
    """Raise an AssertionError saying how `mine` differs from `expected`.

    `mistakes` is a sequence of (description, wrong_answer) pairs; if `mine`
    matches one of them, the message names it.
    """
    _canary()
    at = f" ({where})" if where else ""
    if not isinstance(mine, torch.Tensor):
        raise TypeError(f"{name}{at}: expected a torch.Tensor of shape "
                        f"{_shape(expected)}, got {type(mine).__name__}.")
    guess = next((why for why, wrong in mistakes
                  if isinstance(wrong, torch.Tensor) and close(mine, wrong, atol, rtol)), None)
    hint = f"\nMost likely: {guess}." if guess else ""
    if tuple(mine.shape) != tuple(expected.shape):
        raise AssertionError(f"{name}{at}: shape {_shape(mine)}, expected {_shape(expected)}.{hint}")
    if not close(mine, expected, atol, rtol):
        raise AssertionError(
            f"{name}{at}: wrong values, max abs diff {max_abs_diff(mine, expected):.3g} "
            f"(tolerance {atol:g} + {rtol:g}*|expected|).{hint}")


# ---------------------------------------------------------------------------
# The reference: the same sigmoid network built in torch, differentiated by autograd.

def random_mlp(seed, sizes, batch, scale=1.0):
    """Seeded float64 inputs x (batch, sizes[0]), targets t in (0, 1) (batch, sizes[-1]),
    weights Ws[l] (sizes[l], sizes[l+1]) and biases bs[l] (sizes[l+1],)."""
    g = torch.Generator().manual_seed(seed)
    f64 = torch.float64
    x = torch.randn(batch, sizes[0], generator=g, dtype=f64)
    t = torch.rand(batch, sizes[-1], generator=g, dtype=f64)
    Ws = [scale * torch.randn(m, n, generator=g, dtype=f64) for m, n in pairwise(sizes)]
    bs = [scale * torch.randn(n, generator=g, dtype=f64) for n in sizes[1:]]
    return x, t, Ws, bs


def seeded_draw(seed):
    """draw(lo, hi): a random integer in [lo, hi], from a generator seeded with `seed`, so
    random architectures are the same at every grading."""
    g = torch.Generator().manual_seed(seed)

    def draw(lo, hi):
        return int(torch.randint(lo, hi + 1, (), generator=g))

    return draw


def autograd_mlp(x, t, Ws, bs):
    """Autograd's answers for O_l = sigmoid(O_{l-1} @ W_l + b_l), E = 1/2 sum (O_L - t)^2.

    Returns a dict of lists, one entry per layer: "O" (activations, input first),
    "delta" (dE/dz from z.retain_grad()), "grad_W", "grad_b"; and the loss "E".
    """
    Ws = [W.detach().clone().requires_grad_() for W in Ws]
    bs = [b.detach().clone().requires_grad_() for b in bs]
    O, zs = [x.detach()], []
    for W, b in zip(Ws, bs):
        z = O[-1] @ W + b
        z.retain_grad()
        zs.append(z)
        O.append(torch.sigmoid(z))
    E = 0.5 * ((O[-1] - t) ** 2).sum()
    E.backward()
    return {"O": [o.detach() for o in O], "delta": [z.grad for z in zs],
            "grad_W": [W.grad for W in Ws], "grad_b": [b.grad for b in bs], "E": E.item()}


def autograd_mse(x, t, W, b):
    """O = sigmoid(x @ W + b) and autograd's dL/dW for L = F.mse_loss(O, t), the mean."""
    W = W.detach().clone().requires_grad_()
    O = torch.sigmoid(x @ W + b)
    (grad,) = torch.autograd.grad(torch.nn.functional.mse_loss(O, t), W)
    return O.detach(), grad


# ---------------------------------------------------------------------------
# Typical wrong answers. Each returns (description, tensor) pairs computed from
# the same inputs as the right answer, so `check` can name the mistake.

SIGN = "the sign is flipped: use (O - t), not (t - O)"
NO_SIGMA_PRIME = ("the sigmoid derivative O*(1-O) is missing (O - t is dE/dO; "
                  "delta is dE/dz = dE/dO * O*(1-O))")
DE_DO = ("that is dE/dO = O - t, the gradient at the output; delta is dE/dz, so multiply "
         "by sigma'(z) = O*(1-O)")
BATCH_SUMMED = "the batch dimension was summed away: keep one row per sample"
BATCH_KEPT = "the batch dimension was kept: sum over the samples (rows)"


def _scaled(right, n_batch, n_elems):
    """Mean instead of sum: the right answer divided by N or scaled by 2/N."""
    out = []
    for n, what in ((n_batch, "batch size B"), (n_elems, "number of elements B*K")):
        if n > 1:
            out += [(f"the loss was averaged (a factor 1/{what}): E sums over outputs and samples",
                     right / n),
                    (f"the gradient of a mean was used (a factor 2/{what}): E = 1/2 * sum((O - t)**2)",
                     2 * right / n)]
    return out


def mistakes_delta_k(O, t):
    """Wrong versions of delta_k = O(1-O)(O-t), shape (B, K)."""
    right = O * (1 - O) * (O - t)
    B = O.shape[0]
    return [(NO_SIGMA_PRIME, O - t), (SIGN, -right),
            (SIGN + ", and " + NO_SIGMA_PRIME, t - O),
            ("sigma'(O) was used: O is already sigmoid(z), so sigma'(z) = O*(1-O)",
             torch.sigmoid(O) * (1 - torch.sigmoid(O)) * (O - t)),
            (BATCH_SUMMED, right.sum(0)), (BATCH_SUMMED, right.sum(0, keepdim=True))
            ] + _scaled(right, B, O.numel())


def mistakes_delta_j(O_j, delta_k, W, O_k=None):
    """Wrong versions of delta_j = (delta_k @ W.T) * O_j(1-O_j); W has shape (J, K)."""
    back = delta_k @ W.T
    right = back * O_j * (1 - O_j)
    out = [(NO_SIGMA_PRIME, back), (SIGN, -right), (BATCH_SUMMED, right.sum(0)),
           (BATCH_SUMMED, right.sum(0, keepdim=True))]
    if W.shape[0] == W.shape[1]:
        out.append(("W was used where W.T is needed (delta_k @ W.T sums over the outputs k)",
                    (delta_k @ W) * O_j * (1 - O_j)))
    if O_k is not None and O_k.shape == O_j.shape:
        out.append(("the output layer's activations O_k were used where O_j belongs",
                    back * O_k * (1 - O_k)))
    return out + _scaled(right, O_j.shape[0], delta_k.numel())


def mistakes_grad_W(O_prev, delta):
    """Wrong versions of dE/dW = O_prev.T @ delta, shape (n_in, n_out)."""
    right = O_prev.T @ delta
    out = [(SIGN, -right), ("the mean over the batch was taken instead of the sum",
                            right / O_prev.shape[0])]
    transposed = ("the result is transposed: W has shape (n_in, n_out), so dE/dW = "
                  "O_prev.T @ delta (delta.T @ O_prev is the nn.Linear layout)")
    out.append((transposed, right.T))
    if O_prev.shape[0] > 1:
        out.append((("the samples were summed before multiplying: dE/dW is the sum of the "
                      "per-sample outer products, x.T @ delta, not outer(x.sum(0), delta.sum(0))"),
                     torch.outer(O_prev.sum(0), delta.sum(0))))
    return out


def mistakes_grad_b(delta):
    """Wrong versions of dE/db = delta summed over the batch, shape (n_out,)."""
    right = delta.sum(0)
    return [(BATCH_KEPT, delta), (BATCH_KEPT + " (shape (n_out,), not (1, n_out))",
                                  right.reshape(1, -1)),
            ("it was summed over the outputs (dim 1) instead of the samples (dim 0)",
             delta.sum(1)),
            (SIGN, -right), ("the mean over the batch was taken instead of the sum",
                             right / delta.shape[0])]


def mistakes_output_layer(O_prev, O, t):
    """Wrong dE/dW and dE/db of a sigmoid output layer: every delta_k mistake carried
    through to the gradients, plus the layout mistakes of each gradient."""
    delta = O * (1 - O) * (O - t)
    wrong_W, wrong_b = mistakes_grad_W(O_prev, delta), mistakes_grad_b(delta)
    for why, d in mistakes_delta_k(O, t):
        if d.shape == delta.shape:
            wrong_W.append((why, O_prev.T @ d))
            wrong_b.append((why, d.sum(0)))
    return wrong_W, wrong_b


def mistakes_grad_W_mean(x, O, t):
    """Wrong dL/dW for L = F.mse_loss(O, t) = 2/(B*K) * E: wrong factors (those that equal
    2/(B*K) for this shape are left out), the sign, the layout, and delta_k's mistakes."""
    B, K = O.shape
    N = B * K
    G = x.T @ (O * (1 - O) * (O - t))  # dE/dW of the summed loss E
    factors = [
        (("that is dE/dW of the summed loss E = 1/2 * sum((O - t)**2); F.mse_loss is a mean "
          "over the B*K elements, so its gradient is 2/(B*K) times that"), 1.0),
        (("the factor 2 is missing: d/dO of (O - t)**2 / N is 2 * (O - t) / N (E had a 1/2 "
          "that cancelled the 2; the mean has none)"), 1 / N),
        ("divided by the batch size B only: F.mse_loss averages over all B*K elements", 2 / B),
        ("divided by K only: F.mse_loss averages over all B*K elements", 2 / K),
        ("multiplied by (B*K)/2 instead of by 2/(B*K)", N / 2),
    ]
    wrong, seen = [], {2 / N}
    for why, factor in factors:
        if factor not in seen:
            seen.add(factor)
            wrong.append((why, factor * G))
    right = (2 / N) * G
    wrong += [(SIGN, -right),
              ("the result is transposed: W has shape (n, K), so the gradient is (n, K) too",
               right.T)]
    return wrong + [(f"delta is wrong ({why}); fix delta_k in part 1 first", (2 / N) * (x.T @ d))
                    for why, d in mistakes_delta_k(O, t) if d.shape == O.shape]


def mistakes_grad_w_jk(x, O, t, j, k):
    """Wrong dE/dw_jk = sum over the batch of x_j * delta_k, for one weight W[j, k]."""
    delta = O * (1 - O) * (O - t)
    right = x[:, j] @ delta[:, k]
    (B, n), K = x.shape, O.shape[1]
    wrong = [(SIGN, -right), (NO_SIGMA_PRIME, x[:, j] @ (O - t)[:, k])]
    if K > 1:
        wrong.append((("the deltas of all outputs were added: w_jk feeds only output node k, "
                       "so only delta_k appears"), x[:, j] @ delta.sum(1)))
    if n > 1:
        wrong.append((("the inputs of all nodes were added: w_jk starts at input node j, "
                       "so only x_j appears"), x.sum(1) @ delta[:, k]))
    if j != k and k < n and j < K:
        wrong.append(("j and k are swapped: w_jk = W[j, k] goes from input j to output k",
                      x[:, k] @ delta[:, j]))
    if B > 1:
        wrong.append(("the mean over the batch was taken instead of the sum", right / B))
    return wrong


def nan_except(x, O, t, j, k):
    """Copies of x, O and t in which every column but x[:, j], O[:, k], t[:, k] is NaN:
    an answer for the one weight w_jk that reads any other column becomes NaN."""
    x, O, t = x.clone(), O.clone(), t.clone()
    x[:, [i for i in range(x.shape[1]) if i != j]] = math.nan
    others = [m for m in range(O.shape[1]) if m != k]
    O[:, others] = t[:, others] = math.nan
    return x, O, t


def mistakes_backward(x, t, Ws, bs):
    """Wrong backward passes of a whole network (see autograd_mlp), as (wrong_W, wrong_b):
    wrong_W[l] holds the (description, wrong dE/dW) pairs of layer l, wrong_b[l] those of b."""
    Os = [x]
    for W, b in zip(Ws, bs):
        Os.append(torch.sigmoid(Os[-1] @ W + b))
    L, B, N = len(Ws), x.shape[0], t.numel()

    def run(top_prime=True, hidden_prime=True, W_T=True, O_below=True, O_in=True, sum_b=True):
        """The backward pass with one step done wrong (None if the shapes forbid it)."""
        d = (Os[L] - t) * Os[L] * (1 - Os[L]) if top_prime else Os[L] - t
        gW, gb = [None] * L, [None] * L
        try:
            for l in reversed(range(L)):
                gW[l] = (Os[l] if O_in else Os[l + 1]).T @ d
                gb[l] = d.sum(0) if sum_b else d
                if l > 0:
                    M, O_j = (Ws[l].T if W_T else Ws[l]), (Os[l] if O_below else Os[l + 1])
                    d = d @ M * O_j * (1 - O_j) if hidden_prime else d @ M
        except RuntimeError:
            return None
        return gW, gb

    right_W, right_b = run()

    def each(f):
        return [f(g) for g in right_W], [f(g) for g in right_b]

    named = [
        (SIGN, each(lambda g: -g)),
        ("the sigmoid derivative O*(1-O) is missing in the output layer's delta_k",
         run(top_prime=False)),
        ("the sigmoid derivative O_j*(1-O_j) is missing in the hidden layers' delta_j",
         run(hidden_prime=False)),
        ("W was used where W.T is needed in delta_j (delta_k @ W.T sums over the upper nodes)",
         run(W_T=False)),
        ("the upper layer's activations were used in delta_j where the hidden layer's O_j belong",
         run(O_below=False)),
        ("grad_W used the layer's own output where its input belongs: O_prev.T @ delta",
         run(O_in=False)),
        ("the bias gradient was not summed over the batch: sum delta over the rows",
         run(sum_b=False)),
        ("the lists are in reverse order: grads_W[0] must belong to Ws[0], the first layer",
         (right_W[::-1], right_b[::-1])),
        ("the loss was averaged (a factor 1/B): E sums over the samples", each(lambda g: g / B)),
        ("the gradient of a mean was used (a factor 2/(B*K)): E = 1/2 * sum((O - t)**2)",
         each(lambda g: 2 * g / N)),
    ]
    named = [(why, grads) for why, grads in named if grads is not None]
    transposed = ("grad_W is transposed: it has the shape of W, (n_in, n_out), so it is "
                  "O_prev.T @ delta (delta.T @ O_prev is the nn.Linear layout)")
    row = "grad_b has shape (1, n_out): it must have the shape of b, (n_out,)"
    return ([[(why, gW[l]) for why, (gW, _) in named] + [(transposed, right_W[l].T)]
             for l in range(L)],
            [[(why, gb[l]) for why, (_, gb) in named] + [(row, right_b[l].reshape(1, -1))]
             for l in range(L)])


# ---------------------------------------------------------------------------
# "By hand" means by hand: no autograd inside the student's function.

_ATTRS = {"backward", "autograd", "retain_grad", "grad_fn", "grad", "func", "functorch"}
_NAMES = {"autograd", "functorch"}


class AutogradUsed(AssertionError):
    pass


def _uses_autograd(fn):
    """Autograd features named in fn's source: x.backward(), torch.autograd, x.grad, ..."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return []
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in _ATTRS:
            found.add("." + node.attr)
        elif isinstance(node, ast.Name) and node.id in _NAMES:
            found.add(node.id)
    return sorted(found)


def _refuse(*args, **kwargs):
    raise AutogradUsed("autograd was called")


def by_hand(name, fn, *args, where="", **kwargs):
    """Call fn(*args) with autograd switched off; fail if fn uses it.

    Student warnings are recorded, not printed, so a harmless warning does not
    turn a correct answer into a failed grade cell. Given `where` (say, the
    network's sizes), a crash of fn (RuntimeError, IndexError, ValueError or
    TypeError) becomes an AssertionError that says where it happened.
    """
    used = _uses_autograd(fn)
    if used:
        raise AutogradUsed(f"{name} uses autograd ({', '.join(used)}): this part must compute "
                           "the gradient by hand, so it scores 0. Remove the autograd calls.")
    inputs = [a.detach() if isinstance(a, torch.Tensor) else a for a in args]
    saved = torch.autograd.grad, torch.autograd.backward, torch.Tensor.backward
    torch.autograd.grad = torch.autograd.backward = torch.Tensor.backward = _refuse
    try:
        with warnings.catch_warnings(record=True), torch.no_grad():
            return fn(*inputs, **kwargs)
    except AutogradUsed:
        raise AutogradUsed(f"{name} called autograd: this part must compute the gradient "
                           "by hand, so it scores 0.") from None
    except (RuntimeError, IndexError, ValueError, TypeError) as err:
        if isinstance(err, RuntimeError) and ("does not require grad" in str(err)
                                              or "grad_fn" in str(err)):
            raise AutogradUsed(f"{name} tried to use autograd ({err}); compute the "
                               "gradient by hand instead.") from None
        if not where or isinstance(err, NotImplementedError):
            raise
        raise AssertionError(f"{name} raised {type(err).__name__} ({where}): {err}") from None
    finally:
        torch.autograd.grad, torch.autograd.backward, torch.Tensor.backward = saved


# ---------------------------------------------------------------------------
# A whole backward pass, and gradient descent with it.

def check_backward(grads, x, t, Ws, bs, where=""):
    """Check a backward's (grads_W, grads_b) against autograd_mlp, layer by layer, naming
    the mistakes of mistakes_backward; returns autograd's answers."""
    ref = autograd_mlp(x, t, Ws, bs)
    assert isinstance(grads, (tuple, list)) and len(grads) == 2, \
        f"backward must return a pair of lists (grads_W, grads_b) ({where})"
    for name, got in zip(("grads_W", "grads_b"), grads):
        assert len(got) == len(Ws), (f"{name} has {len(got)} entries for a network with "
                                     f"{len(Ws)} layers: one per layer, first layer first ({where})")
    wrong_W, wrong_b = mistakes_backward(x, t, Ws, bs)
    for l in range(len(Ws)):
        check(f"grads_W[{l}]", grads[0][l], ref["grad_W"][l], wrong_W[l], where)
        check(f"grads_b[{l}]", grads[1][l], ref["grad_b"][l], wrong_b[l], where)
    return ref


def _copy(x):
    """A copy of a tensor, or a list copy of a list / tuple of them; anything else as it is."""
    if isinstance(x, torch.Tensor):
        return x.detach().clone()
    return [_copy(v) for v in x] if isinstance(x, (list, tuple)) else x


@contextlib.contextmanager
def recording(namespace, name, where="call {}"):
    """`with recording(globals(), "backward") as calls:` replaces the notebook's function
    `name` by one that calls it by hand and appends (inputs, result) to `calls`: copies of
    its arguments, in the order of its parameters, and of its answer. A crash says
    where.format(number of the call). The function is put back at the end of the block."""
    fn, calls = namespace[name], []

    def recorder(*args, **kwargs):
        inputs = _copy(list(inspect.signature(fn).bind(*args, **kwargs).arguments.values()))
        result = by_hand(name, fn, *args, where=where.format(len(calls)), **kwargs)
        calls.append((inputs, _copy(result)))
        return result

    namespace[name] = recorder
    try:
        yield calls
    finally:
        namespace[name] = fn


def check_training(namespace, x, t, hidden, lr, steps, seed, check_at=()):
    """Run the notebook's train(x, t, hidden=, lr=, steps=, seed=) by hand, recording its
    backward, and check the contract of gradient descent: start at init_params(sizes, seed);
    in each step, backward called once on the whole training set and the current weights,
    losses[i] the loss before step i, and W <- W - lr * dE/dW (b alike). At the steps in
    check_at, the gradients backward returned are checked against autograd."""
    setting = f"hidden={hidden}, lr={lr}"
    with recording(namespace, "backward", f"training step {{}}, {setting}") as calls:
        try:
            result = by_hand("train", namespace["train"], x, t, hidden=hidden, lr=lr,
                             steps=steps, seed=seed)
        except Exception:
            if calls:  # a crash after a wrong gradient: name the gradient's mistake first
                (x_i, t_i, Ws_i, bs_i), grads = calls[-1]
                check_backward(grads, x_i, t_i, Ws_i, bs_i,
                               f"from backward, training step {len(calls) - 1}, {setting}")
            raise
    Ws, bs, losses = result
    assert len(calls) == steps, (f"train called backward {len(calls)} times in {steps} steps: "
                                 "the contract is exactly once per step, by the name backward")
    assert len(losses) == steps, f"losses has {len(losses)} entries for {steps} steps"
    W0, b0 = namespace["init_params"]([x.shape[1], *hidden, t.shape[1]], seed)
    for i, ((x_i, t_i, Ws_i, bs_i), grads) in enumerate(calls):
        where = f"training step {i}, {setting}"
        assert x_i.shape == x.shape and torch.equal(x_i, x) and torch.equal(t_i, t), \
            f"backward must get the whole training set x, t ({where})"
        for name, got, start in (("Ws", Ws_i, W0), ("bs", bs_i, b0)) if i == 0 else ():
            assert [p.shape for p in got] == [p.shape for p in start] and all(
                torch.equal(p, q) for p, q in zip(got, start)), \
                f"{name} at step 0 must be init_params(sizes, seed) ({where})"
        if i in check_at:  # backward, at this point of training, against autograd
            E = check_backward(grads, x_i, t_i, Ws_i, bs_i, f"from backward, {where}")["E"]
        else:
            E = autograd_mlp(x, t, Ws_i, bs_i)["E"]
        assert abs(float(losses[i]) - E) <= 1e-9 * (1 + E), \
            f"losses[{i}] = {float(losses[i]):.6g}, but E before step {i} is {E:.6g}"
        # the weights of the next step (or the returned ones) follow the update rule
        after = calls[i + 1][0][2] + calls[i + 1][0][3] if i + 1 < steps else [*Ws, *bs]
        for l, (p, g, p_next) in enumerate(zip(Ws_i + bs_i, grads[0] + grads[1], after)):
            name = f"Ws[{l}]" if l < len(Ws_i) else f"bs[{l - len(Ws_i)}]"
            check(f"{name} after step {i}", p_next, p - lr * g,
                  [("the update has the wrong sign: subtract lr * gradient", p + lr * g),
                   ("the learning rate is missing: subtract lr * gradient", p - g),
                   ("the gradient was divided by the batch size", p - lr * g / len(x)),
                   ("the weights were not updated", p)], where)


# ---------------------------------------------------------------------------
# Lesson 5: gradient descent on Himmelblau's function
# f(x, y) = (x**2 + y - 11)**2 + (x + y**2 - 7)**2.

HIMMELBLAU_MINIMA = ((3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186),
                     (3.584428, -1.848126))


def himmelblau_ref(x, y):
    """The reference value of Himmelblau's function (elementwise)."""
    return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


def autograd_himmelblau(x, y):
    """Autograd's (df/dx, df/dy) at the points (x, y), as one tensor stacked on dim 0."""
    x = torch.as_tensor(x, dtype=torch.float64).detach().clone().requires_grad_()
    y = torch.as_tensor(y, dtype=torch.float64).detach().clone().requires_grad_()
    himmelblau_ref(x, y).sum().backward()
    return torch.stack([x.grad, y.grad])


def mistakes_himmelblau(x, y):
    """Wrong values of f(x, y): the squares forgotten, a sign changed inside."""
    return [("the squares are missing: f is a sum of two squares",
             (x**2 + y - 11) + (x + y**2 - 7)),
            ("the two brackets were multiplied, not squared and added",
             (x**2 + y - 11) * (x + y**2 - 7))]


def mistakes_himmelblau_grad(x, y):
    """Wrong (df/dx, df/dy), stacked like autograd_himmelblau's answer."""
    a, c = x**2 + y - 11, x + y**2 - 7
    dx, dy = 4 * x * a + 2 * c, 2 * a + 4 * y * c
    return [
        ("the factor 2 of the square is missing: d/du u**2 = 2u", torch.stack([dx / 2, dy / 2])),
        ("the sign is flipped: that is -grad f, the direction of descent, not the gradient",
         torch.stack([-dx, -dy])),
        ("the partials are swapped: return (df/dx, df/dy) in that order", torch.stack([dy, dx])),
        ("the inner derivative is missing: d/dx (x**2 + y - 11)**2 = 2(x**2 + y - 11) * 2x",
         torch.stack([2 * a + 2 * c, 2 * a + 2 * c])),
        ("only the first square was differentiated: f has two terms, add both",
         torch.stack([4 * x * a, 2 * a])),
    ]


def _grad_pair(x, y):
    a, c = x**2 + y - 11, x + y**2 - 7
    return 4 * x * a + 2 * c, 2 * a + 4 * y * c


def descent_ref(p0, lr, steps):
    """Gradient descent on f from p0 = (x, y): the points p_0 .. p_steps, shape (steps + 1, 2)."""
    p = torch.as_tensor(p0, dtype=torch.float64).clone()
    path = [p.clone()]
    for _ in range(steps):
        p = p - lr * torch.stack(_grad_pair(p[0], p[1]))
        path.append(p.clone())
    return torch.stack(path)


def mistakes_descent(p0, lr, steps):
    """Wrong trajectories (steps + 1, 2): gradient ascent, no learning rate, accumulated
    gradients (no zero_grad), the start point left out, one step too many."""
    p0 = torch.as_tensor(p0, dtype=torch.float64)
    out = []

    def run(sign=-1.0, rate=lr, accumulate=False):
        p, g_sum, path = p0.clone(), torch.zeros(2, dtype=torch.float64), [p0.clone()]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(steps):
                g = torch.stack(_grad_pair(p[0], p[1]))
                g_sum = g_sum + g if accumulate else g
                p = p + sign * rate * g_sum
                path.append(p.clone())
        return torch.stack(path)

    out.append(("that is gradient ascent: step against the gradient, p - lr * grad", run(1.0)))
    if lr != 1:
        out.append(("the learning rate is missing: p - lr * grad", run(rate=1.0)))
    out.append((("the gradients accumulate from step to step: call optimizer.zero_grad() "
                 "(or reset .grad) before each backward()"), run(accumulate=True)))
    full = descent_ref(p0, lr, steps + 1)
    out.append(("the start point is missing: the path begins with p0, so it has steps + 1 rows",
                full[1:]))
    out.append(("one step too many: `steps` updates give steps + 1 points, p0 included", full))
    return out


def calls_optimizer(fn):
    """The names an optimizer-based function must use: .backward() and .step()."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return set()
    return {node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr in ("backward", "step", "zero_grad")}


def check_himmelblau_grad(fn, x, y, where=""):
    """Call fn(x, y) by hand; it must return (df/dx, df/dy) equal to autograd's."""
    got = by_hand("himmelblau_grad", fn, x, y, where=where)
    assert isinstance(got, (tuple, list)) and len(got) == 2, \
        f"himmelblau_grad must return the pair (df_dx, df_dy), got {type(got).__name__} ({where})"
    mine = torch.stack([torch.as_tensor(g, dtype=torch.float64).reshape(x.shape) for g in got])
    check("(df/dx, df/dy)", mine, autograd_himmelblau(x, y), mistakes_himmelblau_grad(x, y),
          where)


def check_descent(name, fn, p0, lr, steps, hand=True):
    """Call fn(p0, lr, steps) (by hand unless hand=False) and compare its path, shape
    (steps + 1, 2), with descent_ref; returns the path."""
    where = f"p0 = {tuple(float(v) for v in p0)}, lr = {lr}, steps = {steps}"
    if hand:
        path = by_hand(name, fn, p0, lr, steps, where=where)
    else:
        with warnings.catch_warnings(record=True):
            path = fn(p0, lr, steps)
    if not isinstance(path, torch.Tensor):
        raise TypeError(f"{name} must return a tensor of shape ({steps + 1}, 2), "
                        f"got {type(path).__name__} ({where})")
    check(f"{name} path", path.detach(), descent_ref(p0, lr, steps),
          mistakes_descent(p0, lr, steps), where, atol=1e-9, rtol=1e-9)
    return path.detach()


def nearest_minimum(p):
    """The index (0 to 3) of the minimum in HIMMELBLAU_MINIMA closest to p, and the distance."""
    dists = [math.dist([float(v) for v in p], m) for m in HIMMELBLAU_MINIMA]
    i = min(range(4), key=dists.__getitem__)
    return i, dists[i]
