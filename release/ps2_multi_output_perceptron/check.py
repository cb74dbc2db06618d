"""The checks of problem set 2: one per function you write, each a one-line test cell.

``check.delta_k(delta_k)`` runs your ``delta_k`` on the cases below and compares its
answers with autograd's (``references.py``), naming the typical mistake it matches
(``mistakes.py``). When your work is graded, the same cases and more run, and the grader
judges your answers outside your notebook (see ``judge.py``).

A case's inputs are built from a seeded sigmoid layer: x (B, n), targets t (B, K), W (n, K)
and b (K,), O = sigmoid(x @ W + b). Where a part is given delta, it is autograd's dE/dz.
"""
import judge
import torch
from compare import verdict
from mistakes import (
    DE_DO,
    mistakes_delta_k,
    mistakes_grad_b,
    mistakes_grad_W,
    mistakes_grad_w_jk,
    mistakes_grad_W_mean,
    nan_except,
)
from references import autograd_mlp, autograd_mse, random_mlp

f64 = torch.float64
LAST_SAMPLE = ("only the last sample counts: the samples' contributions were assigned "
               "(=) instead of added up (+=)")


def _layer(case):
    """Case {"seed", "B", "n", "K"[, "scale", "labels"]}: x, t, W, b of one sigmoid layer."""
    x, t, (W,), (b,) = random_mlp(case["seed"], [case["n"], case["K"]], case["B"],
                                  case.get("scale", 1.0))
    if case.get("labels"):
        t = (t > 0.5).to(f64)  # 0/1 targets
    return x, t, W, b


def _outputs(case):
    """x, O = sigmoid(x @ W + b), t: computed forward only, no gradient."""
    x, t, W, b = _layer(case)
    return x, torch.sigmoid(x @ W + b), t


def _delta(case):
    """x and autograd's delta = dE/dz of the case's layer; nothing else (in particular not
    dE/dW or dE/db, the answers of part 2) is computed."""
    x, t, W, b = _layer(case)
    z = (x @ W + b).requires_grad_()
    (delta,) = torch.autograd.grad(0.5 * ((torch.sigmoid(z) - t) ** 2).sum(), z)
    return x, delta


def _autograd(case):
    """Autograd's answers for the case's layer (see references.autograd_mlp)."""
    x, t, W, b = _layer(case)
    return autograd_mlp(x, t, [W], [b])


def _where(case, keys=("B", "n", "K", "j", "k")):
    keys = [k for k in keys if k in case]
    return ", ".join(f"{k}={case[k]}" for k in keys) + f", seed {case['seed']}"


# --- part 1: delta_k -------------------------------------------------------------------

def _judge_delta_k(case, args, out):
    O, t = args
    return verdict("delta_k(O, t)", out, _autograd(case)["delta"][0],  # z.grad
                   [(DE_DO, O - t), *mistakes_delta_k(O, t)], _where(case, "BK"))


delta_k = judge.entry(judge.Part(
    "delta_k", [{"seed": s, "B": B, "n": 3, "K": K}
                for s, (B, K) in enumerate([(5, 2), (8, 4), (1, 3), (1, 1)])],
    lambda case: _outputs(case)[1:], _judge_delta_k, where=lambda case: _where(case, "BK"),
    done="Part 1: delta_k matches autograd's z.grad."),
    "Check delta_k(O, t) against autograd's z.grad.")


# --- part 2: grad_W and grad_b -----------------------------------------------------------

def _judge_grad_W(case, args, out):
    x, delta = args
    wrong = mistakes_grad_W(x, delta) + [(LAST_SAMPLE, torch.outer(x[-1], delta[-1]))]
    return verdict("grad_W(x, delta)", out, _autograd(case)["grad_W"][0], wrong, _where(case))


grad_W = judge.entry(judge.Part(
    "grad_W", [{"seed": 20 + s, "B": B, "n": n, "K": K}
               for s, (B, n, K) in enumerate([(6, 3, 3), (8, 5, 2), (1, 4, 2), (1, 3, 1)])],
    _delta, _judge_grad_W, where=_where, done="Part 2: grad_W matches autograd's W.grad."),
    "Check grad_W(x, delta) against autograd's W.grad.")


def _judge_grad_b(case, args, out):
    (delta,) = args
    wrong = mistakes_grad_b(delta) + [(LAST_SAMPLE, delta[-1])]
    return verdict("grad_b(delta)", out, _autograd(case)["grad_b"][0], wrong, _where(case, "BK"))


grad_b = judge.entry(judge.Part(
    "grad_b", [{"seed": 40 + s, "B": B, "n": 3, "K": K}
               for s, (B, K) in enumerate([(4, 4), (7, 2), (1, 3), (1, 1)])],
    lambda case: _delta(case)[1:], _judge_grad_b, where=lambda case: _where(case, "BK"),
    done="Part 2: grad_b matches autograd's b.grad."),
    "Check grad_b(delta) against autograd's b.grad.")


# --- part 3: grad_W_mean ---------------------------------------------------------------

def _judge_grad_W_mean(case, args, out):
    x, O, t = args
    _, _, W, b = _layer(case)
    _, expected = autograd_mse(x, t, W, b)  # autograd on F.mse_loss(O, t)
    return verdict("grad_W_mean(x, O, t)", out, expected, mistakes_grad_W_mean(x, O, t),
                   _where(case))


grad_W_mean = judge.entry(judge.Part(
    "grad_W_mean", [{"seed": 60 + s, "B": B, "n": n, "K": K} for s, (B, n, K) in
                    enumerate([(5, 4, 3), (6, 3, 3), (4, 3, 1), (1, 3, 2), (1, 3, 1)])],
    _outputs, _judge_grad_W_mean, uses=("delta_k", "grad_W"), where=_where,
    done="Part 3: grad_W_mean matches autograd on F.mse_loss(O, t)."),
    "Check grad_W_mean(x, O, t) against autograd on F.mse_loss(O, t).")


# --- part 4: grad_w_jk -----------------------------------------------------------------

def _one_weight(case):
    """x, O, t, j, k; with "nan": every column but x[:, j], O[:, k], t[:, k] is NaN."""
    x, O, t = _outputs(case)
    j, k = case["j"], case["k"]
    if case.get("nan"):
        x, O, t = nan_except(x, O, t, j, k)
    return x, O, t, j, k


def _judge_grad_w_jk(case, args, out):
    j, k = case["j"], case["k"]
    x, O, t = _outputs(case)
    expected = _autograd(case)["grad_W"][0][j, k]
    where = _where(case)
    if case.get("nan"):
        if verdict("grad_w_jk", out, expected, (), where) is None:
            return None
        return (f"grad_w_jk ({where}): with every column except x[:, j], O[:, k] and t[:, k] "
                f"set to NaN the answer became {out}: dE/dw_jk must read only input j and "
                "output k.")
    return verdict("grad_w_jk", out, expected, mistakes_grad_w_jk(x, O, t, j, k), where)


def jk_cases(first_seed, shapes, **extra):
    """A case per (B, n, K, j, k), each followed by its twin with the other columns NaN."""
    return [{"seed": first_seed + s, "B": B, "n": n, "K": K, "j": j, "k": k, **extra, **nan}
            for s, (B, n, K, j, k) in enumerate(shapes) for nan in ({}, {"nan": True})]


grad_w_jk = judge.entry(judge.Part(
    "grad_w_jk", jk_cases(80, [(6, 3, 3, 2, 1), (8, 5, 4, 4, 3), (1, 4, 3, 0, 2),
                               (1, 3, 1, 2, 0)]),
    _one_weight, _judge_grad_w_jk, uses=("delta_k",), where=_where,
    done="Part 4: grad_w_jk matches autograd's W.grad[j, k] and reads only x[:, j], "
         "O[:, k], t[:, k]."),
    "Check grad_w_jk(x, O, t, j, k) against autograd's W.grad[j, k], and that it reads "
    "only column j of x and column k of O and t.")
