"""Grader-only data of problem set 2 (never shipped to students): the hidden cases, and
judges that add a second, independent oracle (central differences) to the checks."""
import check  # the course's copy: the grader imports this module after it
import torch


def _cases(first_seed, shapes, scale, labels=True, n=None):
    """One case per shape, (B, K) with n inputs or (B, n, K); with `labels`, every other
    case has 0/1 targets (as in training)."""
    out = []
    for s, shape in enumerate(shapes):
        B, n_in, K = (shape[0], n, shape[1]) if n else shape
        case = {"seed": first_seed + s, "B": B, "n": n_in, "K": K, "scale": scale}
        out.append({**case, "labels": True} if labels and s % 2 else case)
    return out


HIDDEN = {
    "delta_k": _cases(200, [(64, 3), (2, 7), (33, 10), (16, 1), (1, 12), (1, 1)], 2.0, n=4),
    "grad_W": _cases(300, [(2, 7, 3), (64, 4, 4), (17, 2, 6), (33, 10, 1), (1, 12, 5),
                           (1, 1, 1)], 1.5),
    "grad_b": _cases(400, [(2, 7), (64, 3), (5, 5), (33, 1), (1, 12), (1, 1)], 1.5,
                     labels=False, n=4),
    "grad_W_mean": _cases(500, [(64, 4, 3), (9, 6, 6), (33, 10, 2), (2, 5, 1), (1, 2, 7),
                                (1, 1, 1)], 1.5),
    "grad_w_jk": [{**case, "scale": 1.5, **({"labels": True} if case["seed"] % 2 else {})}
                  for case in check.jk_cases(600, [
                      (2, 7, 3, 6, 0), (64, 4, 4, 1, 2), (33, 10, 2, 0, 1), (16, 2, 6, 1, 5),
                      (1, 12, 5, 11, 4), (1, 1, 1, 0, 0)])],
}


def central_differences(f, x, h=1e-6):
    """d f / d x by central differences, every entry at once (a batch of perturbed x)."""
    eye = torch.eye(x.numel(), dtype=x.dtype).reshape(-1, *x.shape) * h
    return torch.stack([(f(x + e) - f(x - e)) / (2 * h) for e in eye]).reshape(x.shape)


def _disagree(mine, numeric):
    scale = (mine.abs() + numeric.abs()).max().clamp_min(1e-300)
    return ((mine - numeric).abs().max() / scale) > 1e-6


def _E(x, t, W, b):
    return 0.5 * ((torch.sigmoid(x @ W + b) - t) ** 2).sum()


def _second_oracle(name, size, what, loss):
    """A judge: the check's own, then central differences of `loss(case)` (a function of
    the parameter, and that parameter) where the case is small enough (`size`)."""
    def judged(case, args, out):
        message = getattr(check, name).part.judge(case, args, out)
        if message is None and size(case):
            f, at = loss(case)
            if _disagree(out, central_differences(f, at)):
                return f"{name} ({check._where(case)}) disagrees with central differences {what}."
        return message
    return judged


def _in_z(case):
    x, t, W, b = check._layer(case)
    return (lambda z: 0.5 * ((torch.sigmoid(z) - t) ** 2).sum()), x @ W + b


def _in_W(case):
    x, t, W, b = check._layer(case)
    return (lambda V: _E(x, t, V, b)), W


def _in_b(case):
    x, t, W, b = check._layer(case)
    return (lambda c: _E(x, t, W, c)), b


def _mean_in_W(case):
    x, t, W, b = check._layer(case)
    return (lambda V: ((torch.sigmoid(x @ V + b) - t) ** 2).mean()), W


def _in_w_jk(case):
    x, t, W, b = check._layer(case)
    j, k = case["j"], case["k"]

    def loss(w):
        V = W.clone()
        V[j, k] = w
        return _E(x, t, V, b)
    return loss, W[j, k].clone()


JUDGES = {
    "delta_k": _second_oracle("delta_k", lambda c: c["B"] * c["K"] <= 64, "of E in z", _in_z),
    "grad_W": _second_oracle("grad_W", lambda c: c["n"] * c["K"] <= 30, "of E in W", _in_W),
    "grad_b": _second_oracle("grad_b", lambda c: c["K"] <= 12, "of E in b", _in_b),
    "grad_W_mean": _second_oracle("grad_W_mean", lambda c: c["n"] * c["K"] <= 40,
                                  "of the mean loss in W", _mean_in_W),
    "grad_w_jk": _second_oracle("grad_w_jk", lambda c: not c.get("nan"), "of E in w_jk",
                                _in_w_jk),
}
