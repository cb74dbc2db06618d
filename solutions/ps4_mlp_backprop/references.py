"""Autograd's answers: the reference every check compares with.

* ``random_mlp(seed, sizes, batch)``: seeded float64 inputs, targets and parameters of a
  sigmoid network (``seeded_draw`` draws random architectures).
* ``autograd_mlp(x, t, Ws, bs)``: the network's activations, deltas (``z.retain_grad()``),
  gradients and loss, all from ``E.backward()``.
* ``autograd_mse(x, t, W, b)``: the gradient of ``F.mse_loss`` (a mean) instead of E.

Nothing here is written by hand: every gradient comes from autograd, so calling any of it
from a function that must be written by hand scores 0 (the grader reads the notebook).
"""
from itertools import pairwise

import torch


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
