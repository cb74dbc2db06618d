"""Central differences: the second, independent oracle of the lectures (as in CS231n).

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
    """max |a - b| / max(|a| + |b|), the relative error CS231n reports."""
    scale = float((a.detach().double().abs() + b.detach().double().abs()).max()) if a.numel() else 0.0
    return max_abs_diff(a, b) / max(scale, 1e-300)
