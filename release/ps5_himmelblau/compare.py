"""Compare a tensor with the expected one, and say how it differs.

* ``max_abs_diff(a, b)`` and ``close(a, b)``: float64 comparisons in plain Python floats.
* ``cmp(name, mine, expected)`` prints one line: exact / approx / max diff (backprop ninja).
* ``verdict(name, mine, expected, mistakes, where)`` returns None when ``mine`` is right,
  else one sentence: the shapes or the largest difference, and the mistake it matches
  when it equals one of ``mistakes`` (pairs of (description, wrong answer)).
"""
import math

import torch

ATOL = 1e-10  # float64: hand-written and autograd agree to ~1e-15
RTOL = 1e-7


def _floats(x):
    """Flatten a tensor (or number) to a list of Python floats."""
    if isinstance(x, torch.Tensor):
        x = x.detach().double().reshape(-1).tolist()
    return [float(v) for v in (x if isinstance(x, list) else [x])]


def shape(x):
    """The shape of a tensor as a tuple, or the name of x's type."""
    return tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__


def max_abs_diff(a, b):
    """Largest |a - b| over all elements (inf if either has NaN)."""
    pairs = list(zip(_floats(a), _floats(b)))
    if any(math.isnan(u) or math.isnan(v) for u, v in pairs):
        return math.inf
    return max((abs(u - v) for u, v in pairs), default=0.0)


def close(a, b, atol=ATOL, rtol=RTOL):
    """True if a and b are tensors of one shape and |a - b| <= atol + rtol * |b| everywhere."""
    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)) or a.shape != b.shape:
        return False
    return all(abs(u - v) <= atol + rtol * abs(v) for u, v in zip(_floats(a), _floats(b)))


def cmp(name, mine, expected):
    """Print whether `mine` equals `expected` exactly, approximately, and by how much."""
    same = tuple(mine.shape) == tuple(expected.shape)
    exact = same and torch.equal(mine, expected)
    diff = max_abs_diff(mine, expected) if same else math.inf
    approx = close(mine, expected)
    print(f"{name:<10} | exact: {exact!s:<5} | approx: {approx!s:<5} | max diff: {diff:.1e}")
    return approx


def verdict(name, mine, expected, mistakes=(), where="", atol=ATOL, rtol=RTOL):
    """None if `mine` is close to `expected`, else a sentence saying what is wrong."""
    at = f" ({where})" if where else ""
    if not isinstance(mine, torch.Tensor):
        return (f"{name}{at}: expected a torch.Tensor of shape {shape(expected)}, "
                f"got {type(mine).__name__}.")
    if close(mine, expected, atol, rtol):
        return None
    guess = next((why for why, wrong in mistakes if close(mine, wrong, atol, rtol)), None)
    hint = f" Most likely: {guess}." if guess else ""
    if mine.shape != expected.shape:
        return f"{name}{at}: shape {shape(mine)}, expected {shape(expected)}.{hint}"
    return (f"{name}{at}: wrong values, max abs diff {max_abs_diff(mine, expected):.3g} "
            f"(tolerance {atol:g} + {rtol:g}*|expected|).{hint}")


def expect(name, mine, expected, mistakes=(), where="", atol=ATOL, rtol=RTOL):
    """Raise an AssertionError with `verdict`'s sentence unless `mine` is right (lectures)."""
    message = verdict(name, mine, expected, mistakes, where, atol, rtol)
    if message:
        raise AssertionError(message)
