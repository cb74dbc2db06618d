"""Central differences: the second, independent oracle of the lectures.

Lectures only: an assignment that asks students to write a numerical gradient does not ship
this file.
"""
import torch
from compare import max_abs_diff


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
    """max |a - b| / max(|a| + |b|): one scale, the largest entry, for the whole tensor.

    This is problem set 4's relative error, not CS231n's: CS231n takes the ratio entry by
    entry, max |a_i - b_i| / max(1e-8, |a_i| + |b_i|), which can be large for a correct gradient
    on an entry close to zero (ps4's mistake catalogue names that version).
    """
    scale = float((a.detach().double().abs() + b.detach().double().abs()).max()) if a.numel() else 0.0
    return max_abs_diff(a, b) / max(scale, 1e-300)
