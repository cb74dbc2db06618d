"""Grader-only data of problem set 1 (never shipped to students): the hidden cases, and
judges that add a second, independent oracle (central differences) to the checks."""
import check  # the course's copy: the grader imports this module after it
import torch

HIDDEN = {
    "sigmoid": [{"seed": s, "shape": shape}
                for s, shape in enumerate([[1, 1], [3, 4], [2, 3, 5], [64, 1]])],
    "forward": [{"seed": 10 + s, "B": B, "n": n, "scale": 2.0}
                for s, (B, n) in enumerate([(1, 1), (7, 2), (64, 10), (5, 1)])],
    "gradients": [{"seed": 100 + s, "B": B, "n": n, "scale": 1.5, "labels": True}
                  for s, (B, n) in enumerate([(1, 1), (2, 7), (64, 4), (33, 10), (1, 12)])],
    "train": [{"seed": s, "n": 120, "lr": lr, "steps": steps}
              for s in (1, 2) for lr, steps in ((0.01, 1), (0.05, 300))],
}
HIDDEN["sigmoid_prime"] = HIDDEN["sigmoid"]


def central_differences(f, x, h=1e-6):
    """d f / d x by central differences, every entry at once (a batch of perturbed x)."""
    eye = torch.eye(x.numel(), dtype=x.dtype).reshape(-1, *x.shape) * h
    return torch.stack([(f(x + e) - f(x - e)) / (2 * h) for e in eye]).reshape(x.shape)


def _gradients(case, args, out):
    message = check.gradients.part.judge(case, args, out)
    if message is None:
        x, t, W, b = args
        numeric = central_differences(
            lambda V: 0.5 * ((torch.sigmoid(x @ V + b) - t) ** 2).sum(), W)
        scale = (out[0].abs() + numeric.abs()).max().clamp_min(1e-300)
        if ((out[0] - numeric).abs().max() / scale) > 1e-6:
            return "grad_W disagrees with central differences."
    return message


JUDGES = {"gradients": _gradients}
