"""Grader-only data of problem set 4 (never shipped to students): the hidden cases, and the
judge that would give an answer away if shipped: relative_error's formula. (backward's
catalogue of mistakes is built from autograd's answers, so it ships, in check.py.)"""
import check  # the course's copy: the grader imports this module after it
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


def _relative_error(case, args, out):
    a, b = args
    scale = (a.abs() + b.abs()).max().item()
    expected = 0.0 if scale == 0 else (a - b).abs().max().item() / scale
    return check.judge_relative_error(case, args, out, expected, atol=1e-12, rtol=1e-9)


JUDGES = {"relative_error": _relative_error}
