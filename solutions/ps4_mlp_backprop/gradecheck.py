"""Compare hand-written gradients with torch.autograd, and say what is wrong.

One small module shared by the lectures and the assignments (each assignment
folder holds a link to this file, so nbgrader ships it with the notebook).

* ``cmp(name, mine, expected)`` prints one line: exact / approx / max diff.
* ``numeric_grad(f, x)`` and ``rel_error(a, b)``: central differences, the
  second, independent oracle (as in CS231n).
* ``check(name, mine, expected, mistakes)`` raises an AssertionError that
  shows shapes and the max abs difference, and names the mistake when the
  answer equals one of the typical wrong answers in ``mistakes``.
* ``mistakes_*`` build those typical wrong answers for the deltas and
  gradients of the course.
* ``by_hand(name, fn, *args)`` calls a student's function with autograd
  switched off, so a "hand-written" gradient that calls autograd fails.

Verdicts use plain Python floats (``tolist``), not torch.allclose or
numpy.testing, so redefining those in a notebook cannot make a check pass.
"""
import ast
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


# ---------------------------------------------------------------------------
# Typical wrong answers. Each returns (description, tensor) pairs computed from
# the same inputs as the right answer, so `check` can name the mistake.

SIGN = "the sign is flipped: use (O - t), not (t - O)"
NO_SIGMA_PRIME = ("the sigmoid derivative O*(1-O) is missing (O - t is dE/dO; "
                  "delta is dE/dz = dE/dO * O*(1-O))")
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
    return out + [(transposed, right.T)]


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


def by_hand(name, fn, *args, **kwargs):
    """Call fn(*args) with autograd switched off; fail if fn uses it.

    Student warnings are recorded, not printed, so a harmless warning does not
    turn a correct answer into a failed grade cell.
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
    except RuntimeError as err:
        if "does not require grad" in str(err) or "grad_fn" in str(err):
            raise AutogradUsed(f"{name} tried to use autograd ({err}); compute the "
                               "gradient by hand instead.") from None
        raise
    finally:
        torch.autograd.grad, torch.autograd.backward, torch.Tensor.backward = saved
