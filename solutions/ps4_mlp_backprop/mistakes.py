"""The catalogue of typical mistakes: wrong answers built from the same inputs as the right
one, so a check can name the mistake a student made (``compare.verdict``).

Each ``mistakes_*`` function returns (description, wrong answer) pairs.
"""
import math

import torch
from compare import close


def _unique(entries):
    """The entries without those equal to an earlier one (the first description wins)."""
    kept = []
    for why, wrong in entries:
        if not any(close(wrong, other) for _, other in kept):
            kept.append((why, wrong))
    return kept

SIGN = "the sign is flipped: use (O - t), not (t - O)"
NO_SIGMA_PRIME = ("the sigmoid derivative O*(1-O) is missing (O - t is dE/dO; "
                  "delta is dE/dz = dE/dO * O*(1-O))")
DE_DO = ("that is dE/dO = O - t, the gradient at the output; delta is dE/dz, so multiply "
         "by sigma'(z) = O*(1-O)")
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
    out.append((transposed, right.T))
    if O_prev.shape[0] > 1:
        out.append((("the samples were summed before multiplying: dE/dW is the sum of the "
                      "per-sample outer products, x.T @ delta, not outer(x.sum(0), delta.sum(0))"),
                     torch.outer(O_prev.sum(0), delta.sum(0))))
    return out


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
    return _unique(wrong_W), _unique(wrong_b)


def mistakes_grad_W_mean(x, O, t):
    """Wrong dL/dW for L = F.mse_loss(O, t) = 2/(B*K) * E: wrong factors (those that equal
    2/(B*K) for this shape are left out), the sign, the layout, and delta_k's mistakes."""
    B, K = O.shape
    N = B * K
    G = x.T @ (O * (1 - O) * (O - t))  # dE/dW of the summed loss E
    factors = [
        (("that is dE/dW of the summed loss E = 1/2 * sum((O - t)**2); F.mse_loss is a mean "
          "over the B*K elements, so its gradient is 2/(B*K) times that"), 1.0),
        (("the factor 2 is missing: d/dO of (O - t)**2 / N is 2 * (O - t) / N (E had a 1/2 "
          "that cancelled the 2; the mean has none)"), 1 / N),
        ("divided by the batch size B only: F.mse_loss averages over all B*K elements", 2 / B),
        ("divided by K only: F.mse_loss averages over all B*K elements", 2 / K),
        ("multiplied by (B*K)/2 instead of by 2/(B*K)", N / 2),
    ]
    wrong, seen = [], {2 / N}
    for why, factor in factors:
        if factor not in seen:
            seen.add(factor)
            wrong.append((why, factor * G))
    right = (2 / N) * G
    wrong += [(SIGN, -right),
              ("the result is transposed: W has shape (n, K), so the gradient is (n, K) too",
               right.T)]
    return _unique(wrong + [(f"delta is wrong ({why}); fix delta_k in part 1 first",
                             (2 / N) * (x.T @ d))
                            for why, d in mistakes_delta_k(O, t) if d.shape == O.shape])


def mistakes_grad_w_jk(x, O, t, j, k):
    """Wrong dE/dw_jk = sum over the batch of x_j * delta_k, for one weight W[j, k]."""
    delta = O * (1 - O) * (O - t)
    right = x[:, j] @ delta[:, k]
    (B, n), K = x.shape, O.shape[1]
    wrong = [(SIGN, -right), (NO_SIGMA_PRIME, x[:, j] @ (O - t)[:, k])]
    if K > 1:
        wrong.append((("the deltas of all outputs were added: w_jk feeds only output node k, "
                       "so only delta_k appears"), x[:, j] @ delta.sum(1)))
    if n > 1:
        wrong.append((("the inputs of all nodes were added: w_jk starts at input node j, "
                       "so only x_j appears"), x.sum(1) @ delta[:, k]))
    if j != k and k < n and j < K:
        wrong.append(("j and k are swapped: w_jk = W[j, k] goes from input j to output k",
                      x[:, k] @ delta[:, j]))
    if B > 1:
        wrong.append(("the mean over the batch was taken instead of the sum", right / B))
    return wrong


def nan_except(x, O, t, j, k):
    """Copies of x, O and t in which every column but x[:, j], O[:, k], t[:, k] is NaN:
    an answer for the one weight w_jk that reads any other column becomes NaN."""
    x, O, t = x.clone(), O.clone(), t.clone()
    x[:, [i for i in range(x.shape[1]) if i != j]] = math.nan
    others = [m for m in range(O.shape[1]) if m != k]
    O[:, others] = t[:, others] = math.nan
    return x, O, t
