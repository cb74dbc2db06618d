"""Grader-only data of problem set 4 (never shipped to students): the hidden cases, and the
judges that would give an answer away if shipped: the whole catalogue of wrong backward
passes (which holds a complete backward pass by hand), and relative_error's formula."""
from functools import partial

import check  # the course's copy: the grader imports this module after it
import torch
from mistakes import SIGN
from references import seeded_draw


def _networks(seed_draw, count, depths, first_seed, scale_div, tweak, batch_one, labels=None):
    """The random architectures of the old hidden tests, drawn in the same order."""
    draw, out = seeded_draw(seed_draw), []
    for case in range(count):
        sizes = [draw(1, 16) for _ in range(draw(*depths))]
        sizes = tweak(case, sizes)
        B = 1 if case in batch_one else draw(2, 64)
        out.append({"seed": first_seed + case, "sizes": sizes, "B": B,
                    "scale": 1 + case / scale_div,
                    "labels": bool(labels and labels(case))})
    return out


def _square(i, j, below):
    def tweak(case, sizes):
        if case < below:
            sizes[j] = sizes[i]
        return sizes
    return tweak


def _backward_networks():
    draw, out = seeded_draw(404), []
    for case in range(16):
        depth = 1 + case % 4
        sizes = [draw(1, 16) for _ in range(depth + 1)]
        if case in (5, 6):
            sizes = [sizes[0]] + [sizes[1]] * depth  # square weights above the input
        B = 1 if case in (0, 7) else draw(2, 64)
        out.append({"seed": 4000 + case, "sizes": sizes, "B": B, "scale": 1 + case / 15,
                    "labels": case % 3 == 0})
    return out


HIDDEN = {
    "delta_k": _networks(101, 10, (2, 5), 1000, 9, lambda case, s: s, (0, 1),
                         labels=lambda case: case % 2 == 1),
    "delta_j": [{**net, "layer": l}
                for net in _networks(202, 12, (3, 5), 2000, 11, _square(1, 2, 3), (0, 5))
                for l in range(len(net["sizes"]) - 2)],
    "layer_grads": [{**net, "layer": l}
                    for net in _networks(303, 10, (2, 5), 3000, 9, _square(0, 1, 2), (0, 4))
                    for l in range(len(net["sizes"]) - 1)],
    "backward": _backward_networks(),
    "numerical_gradient": (
        [{"f": "exp", "seed": seed, "shape": shape, "h": h} for seed, (shape, h) in enumerate(
            [([1], 1e-4), ([4], 1e-4), ([2, 3, 2], 1e-5), ([5, 1], 1e-3)])]
        + [{"f": "net", "seed": seed, "sizes": sizes, "B": B, "scale": 1.5, "param": kind,
            "layer": l}
           for seed, sizes, B in [(13, [2, 3, 3, 1], 5), (14, [4, 1], 1), (15, [1, 2, 3], 9)]
           for l in range(len(sizes) - 1) for kind in ("W", "b")]),
    "cross_entropy": _networks(505, 8, (2, 4), 5000, 7, lambda case, s: s, (0, 3)),
    "delta_k_ce": _networks(606, 8, (2, 4), 6000, 7, lambda case, s: s, (0, 4),
                            labels=lambda case: case % 2 == 1),
    "relative_error": [{"seed": 16 + i, "shape": shape, "pair": pair}
                       for i, shape in enumerate([[1], [3, 4], [2, 2, 5]]) for pair in range(5)],
    # gradients and updates checked all along short runs of deeper networks (square W
    # included), then the defaults reach 95% on other data as well
    "train": [{"data": data, "n": 64, "data_seed": seed, "hidden": hidden, "lr": lr,
               "steps": steps, "seed": seed}
              for data, seed, hidden, lr, steps in [
                  ("moons", 3, [6, 5], 0.2, 60), ("xor", 4, [4, 4, 4], 0.1, 40),
                  ("moons", 5, [16], 0.05, 30)]]
             + [{"data": data, "data_seed": seed}
                for data, seed in [("moons", 1), ("moons", 2), ("xor", 0)]],
}


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


def _all_mistakes(x, t, Ws, bs, ref):
    return mistakes_backward(x, t, Ws, bs)


def _relative_error(case, args, out):
    a, b = args
    scale = (a.abs() + b.abs()).max().item()
    expected = 0.0 if scale == 0 else (a - b).abs().max().item() / scale
    return check.judge_relative_error(case, args, out, expected, atol=1e-12, rtol=1e-9)


JUDGES = {"backward": partial(check.judge_backward, mistakes=_all_mistakes),
          "train": partial(check.judge_train, mistakes=_all_mistakes),
          "relative_error": _relative_error}
