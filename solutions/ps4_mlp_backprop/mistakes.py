"""The catalogue of typical mistakes: wrong answers built from the same inputs as the right
one, so a check can name the mistake a student made (``compare.verdict``).

Each ``mistakes_*`` function returns (description, wrong answer) pairs. The right answers
they start from come from autograd (``_delta``, ``_grad_W``, ``_grad_b`` below), never from
the formulas the assignments ask for. A description is a ``Why``: its text, and a stable id
(the class report counts ids); each is written once, here or in the assignment's check.py.
"""
import math

import torch
from compare import Why, close, mistake_id


def _unique(entries):
    """The entries without repeats: an entry equal to an earlier one of the same mistake
    (its id) is left out (different mistakes are both kept, so a check names both)."""
    kept = []
    for why, wrong in entries:
        if not any(mistake_id(w) == mistake_id(why) and close(wrong, other)
                   for w, other in kept):
            kept.append((why, wrong))
    return kept


def _grad(f, x):
    """d sum(f(x)) / dx, by autograd."""
    x = x.detach().clone().requires_grad_()
    with torch.enable_grad():
        (g,) = torch.autograd.grad(f(x).sum(), x)
    return g.detach()


def _delta(O, t):
    """dE/dz of a sigmoid layer with outputs O = sigmoid(z) and E = 1/2 sum((O - t)**2)."""
    return _grad(lambda z: 0.5 * (torch.sigmoid(z) - t) ** 2, torch.logit(O))


def _sigma_prime(O):
    """sigma'(z) where O = sigmoid(z)."""
    return _grad(torch.sigmoid, torch.logit(O))


def _grad_W(O_prev, delta):
    """dE/dW of z = O_prev @ W + b, given delta = dE/dz."""
    return _grad(lambda W: (O_prev @ W) * delta,
                 torch.zeros(O_prev.shape[-1], *delta.shape[1:], dtype=delta.dtype))


def _grad_b(delta):
    """dE/db of z = O_prev @ W + b, given delta = dE/dz."""
    return _grad(lambda b: b * delta, torch.zeros(delta.shape[1:], dtype=delta.dtype))


SIGN = Why("sign", "the sign is flipped: use (O - t), not (t - O)")
NO_SIGMA_PRIME = Why("no-sigma-prime", "the sigmoid derivative O*(1-O) is missing (O - t is "
                     "dE/dO; delta is dE/dz = dE/dO * O*(1-O))")
DE_DO = Why("no-sigma-prime", "that is dE/dO = O - t, the gradient at the output; delta is dE/dz, so "
            "multiply by sigma'(z) = O*(1-O)")
UPDATE_SIGN = Why("update-sign", "the update has the wrong sign: subtract lr * gradient")
NO_LR = Why("no-lr", "the learning rate is missing: subtract lr * gradient")
NOT_UPDATED = Why("not-updated", "the weights were not updated")
LOSS_AFTER = Why("loss-after-update", "it was recorded after the update: record the loss of "
                 "the current weights before updating")
BATCH_SUMMED = Why("batch-summed", "the batch dimension was summed away: keep one row per sample")
BATCH_KEPT = Why("batch-kept", "the batch dimension was kept: sum over the samples (rows)")
KEEPDIM = Why("b-keepdim", BATCH_KEPT + " (shape (n_out,), not (1, n_out))")
SIGMA_OF_O = Why("sigma-prime-of-O", "sigma'(O) was used: O is already sigmoid(z), so "
                 "sigma'(z) = O*(1-O)")
HALF_DROPPED = Why("half-dropped", "the 1/2 of E = 1/2 * sum((O - t)**2) was dropped (a "
                   "factor 2): dE/dO = O - t")
MEAN_B = Why("mean-1/B", "the mean over the batch was taken instead of the sum")
TRANSPOSED_W = Why("transposed", "the result is transposed: W has shape (n_in, n_out), so "
                   "dE/dW = O_prev.T @ delta (delta.T @ O_prev is the nn.Linear layout)")


def _scaled(right, n_batch, n_elems):
    """Mean instead of sum: the right answer divided by N or scaled by 2/N, or by K (the
    outputs) alone; and the 1/2 of E dropped."""
    out = []
    n_out = n_elems // n_batch
    for n, what, key in ((n_batch, "batch size B", "B"), (n_elems, "number of elements B*K", "BK"),
                         (n_out, "number of outputs K", "K")):
        if n > 1:  # no mean over one element; 2/n is no factor at n = 2
            out.append((Why(f"mean-1/{key}", f"the loss was averaged (a factor 1/{what}): E "
                            "sums over outputs and samples"), right / n))
        if n > 2:
            out.append((Why(f"mean-grad-2/{key}", f"the gradient of a mean was used (a factor "
                            f"2/{what}): E = 1/2 * sum((O - t)**2)"), 2 * right / n))
    return out + [(HALF_DROPPED, 2 * right)]


def mistakes_delta_k(O, t):
    """Wrong versions of delta_k = O(1-O)(O-t), shape (B, K)."""
    right = _delta(O, t)
    B = O.shape[0]
    return [(NO_SIGMA_PRIME, O - t), (SIGN, -right),
            (SIGN + ", and " + NO_SIGMA_PRIME, t - O),
            (SIGMA_OF_O, torch.sigmoid(O) * (1 - torch.sigmoid(O)) * (O - t)),
            (BATCH_SUMMED, right.sum(0)), (BATCH_SUMMED, right.sum(0, keepdim=True))
            ] + _scaled(right, B, O.numel())


def _delta_ce(O, t):
    """dE/dz of a sigmoid layer with outputs O = sigmoid(z) and binary cross-entropy
    E = -sum(t log O + (1 - t) log(1 - O)), by autograd."""
    return _grad(lambda z: torch.nn.functional.binary_cross_entropy_with_logits(
        z, t, reduction="none"), torch.logit(O))


CE_SIGMA_PRIME_KEPT = Why("ce-sigma-prime-kept", "the sigmoid derivative O*(1-O) was kept: with cross-entropy it cancels "
                       "against dE/dO = (O - t) / (O*(1-O)), so delta = O - t")
CE_MEAN_B = "averaged over the batch (a factor 1/B): cross-entropy here sums over the samples"
CE_MEAN_ALL = ("the mean over all B*K elements was taken (PyTorch's default reduction): "
               "E sums over outputs and samples")


def mistakes_delta_k_ce(O, t):
    """Wrong versions of delta_k for binary cross-entropy on sigmoid outputs, shape (B, K)."""
    right = _delta_ce(O, t)
    B, N = O.shape[0], O.numel()
    out = [(CE_SIGMA_PRIME_KEPT, _delta(O, t)), (SIGN, -right),
           (("that is dE/dO = (O - t) / (O*(1-O)), the gradient at the output; delta is dE/dz, "
            "dE/dO times sigma'(z) = O*(1-O)"), right / _sigma_prime(O)),
           (BATCH_SUMMED, right.sum(0)), (BATCH_SUMMED, right.sum(0, keepdim=True))]
    if B > 1:
        out.append((CE_MEAN_B, right / B))
    if N > B:
        out.append((CE_MEAN_ALL, right / N))
    return _unique(out)


def mistakes_cross_entropy(O, t):
    """Wrong values of the binary cross-entropy -sum(t log O + (1 - t) log(1 - O)), a 0-d
    tensor; the targets t are strictly between 0 and 1, so every wrong log is finite."""
    right = torch.nn.functional.binary_cross_entropy(O, t, reduction="sum")
    B, N = O.shape[0], O.numel()
    out = [(("log of the wrong thing: O and t swapped roles; the logs are of the predictions, "
            "log O and log(1 - O), weighted by the targets t and 1 - t"),
            -(O * torch.log(t) + (1 - O) * torch.log(1 - t)).sum()),
           ("log of the wrong thing: log(1 - t) where log(1 - O) belongs",
            -(t * torch.log(O) + (1 - t) * torch.log(1 - t)).sum()),
           ("the (1 - t) * log(1 - O) term is missing: a target 0 must cost something too",
            -(t * torch.log(O)).sum()),
           (Why("ce-no-minus", "the minus sign is missing: the loss is -sum(t log O + (1 - t) log(1 - O)), "
            "a positive number"), -right),
           ("that is the squared error 1/2 * sum((O - t)**2), not cross-entropy",
            0.5 * ((O - t) ** 2).sum())]
    if B > 1:
        out.append((CE_MEAN_B, right / B))
    if N > B:
        out.append((CE_MEAN_ALL, right / N))
    return _unique(out)


W_NOT_WT = Why("W-not-WT", "W was used where W.T is needed (delta_k @ W.T sums over the "
               "outputs k)")
O_ABOVE = Why("O-above", "the upper layer's activations were used where the hidden layer's "
              "O_j belong")


def mistakes_delta_j(O_j, delta_k, W, O_k=None):
    """Wrong versions of delta_j = (delta_k @ W.T) * O_j(1-O_j); W has shape (J, K)."""
    back = _grad(lambda o: (o @ W) * delta_k, O_j)  # dE/dO_j
    right = back * _sigma_prime(O_j)
    out = [(NO_SIGMA_PRIME, back), (SIGN, -right), (BATCH_SUMMED, right.sum(0)),
           (BATCH_SUMMED, right.sum(0, keepdim=True))]
    out.append((SIGMA_OF_O, back * _sigma_prime(torch.sigmoid(O_j))))
    if W.shape[0] == W.shape[1]:
        out.append((W_NOT_WT, (delta_k @ W) * _sigma_prime(O_j)))
    if O_k is not None and O_k.shape == O_j.shape:
        out.append((O_ABOVE, back * _sigma_prime(O_k)))
    return out + _scaled(right, O_j.shape[0], delta_k.numel())


def mistakes_grad_W(O_prev, delta):
    """Wrong versions of dE/dW = O_prev.T @ delta, shape (n_in, n_out)."""
    right = _grad_W(O_prev, delta)
    out = [(SIGN, -right), (MEAN_B, right / O_prev.shape[0])]
    out.append((TRANSPOSED_W, right.T))
    if O_prev.shape[0] > 1:
        out.append((Why("outer-of-sums", "the samples were summed before multiplying: dE/dW is the sum of the "
                      "per-sample outer products, x.T @ delta, not outer(x.sum(0), delta.sum(0))"),
                     torch.outer(O_prev.sum(0), _grad_b(delta))))
    return out


def mistakes_grad_b(delta):
    """Wrong versions of dE/db = delta summed over the batch, shape (n_out,)."""
    right = _grad_b(delta)
    return [(BATCH_KEPT, delta), (KEEPDIM, right.reshape(1, -1)),
            (Why("b-summed-outputs", "it was summed over the outputs (dim 1) instead of the samples (dim 0)"),
             delta.sum(1)),
            (SIGN, -right), (MEAN_B, right / delta.shape[0])]


def mistakes_output_layer(O_prev, O, t):
    """Wrong dE/dW and dE/db of a sigmoid output layer: every delta_k mistake carried
    through to the gradients, plus the layout mistakes of each gradient."""
    delta = _delta(O, t)
    wrong_W, wrong_b = mistakes_grad_W(O_prev, delta), mistakes_grad_b(delta)
    for why, d in mistakes_delta_k(O, t):
        if d.shape == delta.shape:
            wrong_W.append((why, _grad_W(O_prev, d)))
            wrong_b.append((why, _grad_b(d)))
    return _unique(wrong_W), _unique(wrong_b)


def mistakes_grad_W_mean(x, O, t):
    """Wrong dL/dW for L = F.mse_loss(O, t) = 2/(B*K) * E: wrong factors (those that equal
    2/(B*K) for this shape are left out; two that coincide are both named), the sign, the
    layout, and delta_k's mistakes."""
    B, K = O.shape
    N = B * K
    G = _grad_W(x, _delta(O, t))  # dE/dW of the summed loss E
    factors = [
        (Why("mse-sum", "that is dE/dW of the summed loss E = 1/2 * sum((O - t)**2); F.mse_loss is a mean "
          "over the B*K elements, so its gradient is 2/(B*K) times that"), 1.0),
        (Why("mse-no-2", "the factor 2 is missing: d/dO of (O - t)**2 / N is 2 * (O - t) / N (E had a 1/2 "
          "that cancelled the 2; the mean has none)"), 1 / N),
        (Why("mse-1/B", "divided by the batch size B only: F.mse_loss averages over all B*K "
             "elements"), 2 / B),
        (Why("mse-1/K", "divided by K only: F.mse_loss averages over all B*K elements"), 2 / K),
        (Why("mse-inverted", "multiplied by (B*K)/2 instead of by 2/(B*K)"), N / 2),
    ]
    wrong = [(why, factor * G) for why, factor in factors  # all but the right factor
             if not math.isclose(factor, 2 / N, rel_tol=1e-12)]
    right = (2 / N) * G
    wrong += [(SIGN, -right),
              ("the result is transposed: W has shape (n, K), so the gradient is (n, K) too",
               right.T)]
    return _unique(wrong + [(Why(mistake_id(why), f"delta is wrong ({why}); fix delta_k in "
                                 "part 1 first"),
                             (2 / N) * _grad_W(x, d))
                            for why, d in mistakes_delta_k(O, t) if d.shape == O.shape])


def mistakes_grad_w_jk(x, O, t, j, k):
    """Wrong dE/dw_jk = sum over the batch of x_j * delta_k, for one weight W[j, k]."""
    delta = _delta(O, t)
    right = _grad_W(x, delta)[j, k]
    (B, n), K = x.shape, O.shape[1]
    wrong = [(SIGN, -right), (NO_SIGMA_PRIME, _grad_W(x, O - t)[j, k])]
    if K > 1:
        wrong.append((("the deltas of all outputs were added: w_jk feeds only output node k, "
                       "so only delta_k appears"), _grad_W(x, delta.sum(1, keepdim=True))[j, 0]))
    if n > 1:
        wrong.append((("the inputs of all nodes were added: w_jk starts at input node j, "
                       "so only x_j appears"), _grad_W(x.sum(1, keepdim=True), delta)[0, k]))
    if j != k and k < n and j < K:
        wrong.append(("j and k are swapped: w_jk = W[j, k] goes from input j to output k",
                      _grad_W(x, delta)[k, j]))
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


# --- problem set 3: the chain rule by hand (part A) and the Value engine (part B) --------
# Every wrong answer is built from autograd's pieces (sigma'(z), one path with the other
# factor detached, ...), never from the formula a student must write.

def mistakes_dsigmoid_dw(x, w, z, sp):
    """Wrong versions of d sigmoid(w x + b)/dw; z = w x + b, sp = sigma'(z) (autograd's)."""
    return [(Why("no-inner-factor", "the inner factor dz/dw = x is missing"), sp),
            ("that is sigma(z) * x: sigma itself, not sigma'(z) = sigma(z)(1 - sigma(z))",
             torch.sigmoid(z) * x),
            ("sigma' was applied to z itself: z(1 - z) instead of sigma(z)(1 - sigma(z))",
             z * (1 - z) * x),
            ("dz/dw is x, not w", sp * w)]


def mistakes_two_layer(x, w1, w2, grads):
    """Wrong versions of (dy2/dw1, dy2/db1, dy2/dw2) for y2 = (x w1 + b1) w2 + b2, one list
    each; `grads` are autograd's three answers."""
    g_w1, _, g_w2 = grads
    return [[(Why("no-w2-factor", "the factor dy2/dy1 = w2 is missing"), x), ("the factor dy1/dw1 = x is missing", w2),
             ("that is dy2/dw2 (the input y1 of w2), not dy2/dw1", g_w2)],
            [("dy2/db1 = w2 * 1: the factor dy2/dy1 = w2 is missing", torch.ones_like(x)),
             ("that is dy2/dw1: dy1/db1 = 1, not x", g_w1)],
            [("dy2/dw2 = y1 = x*w1 + b1, the input of w2: b1 is missing", x * w1),
             ("dy2/dw2 = y1, the value w2 multiplies, not w1", w1),
             ("that is dy2/dw1, not dy2/dw2", g_w1)]]


def mistakes_swish(x, left, right, product):
    """Wrong d(x sigma(x))/dx: `left`, `right` are the paths through the factor x and through
    sigma(x) (autograd with the other factor detached), `product` 1 * sigma'(x)."""
    return [(("only the path through the left factor x: add x * sigma'(x) for the path through "
             "sigma(x)"), left),
            (Why("swish-one-path", "only the path through sigma(x): add sigma(x) for the path through the left "
             "factor x"), right),
            ("the derivatives of the factors were multiplied (1 * sigma'(x)); paths add instead",
             product)]


def mistakes_square_sin(x, left, right, product):
    """Wrong d(x**2 sin x)/dx: the paths through x**2 and through sin(x), and the product
    of the factors' derivatives."""
    return [("only the path through x**2: add x**2 * cos(x) for the path through sin(x)", left),
            ("only the path through sin(x): add 2x * sin(x) for the path through x**2", right),
            ("the two factors' derivatives were multiplied (2x * cos x); the paths add instead",
             product),
            ("sin'(x) = +cos(x)", left - right)]


def wrong_local(name, args, right):
    """(why, wrong local derivatives) of one operation of the engine: `args` are its
    operands' values (then the plain number c, if any), `right` autograd's local
    derivatives."""
    a = args[0]
    other = args[1] if len(args) > 1 else None
    r = list(right)
    table = {
        "mul": [(Why("mul-own-value", "each operand got its own value: d(a*b)/da is b, the "
                     "OTHER operand"),
                 lambda: (a, other))],
        "sub": [("d(a - b)/db = -1: the minus sign is missing", lambda: (r[0], -r[1]))],
        "div": [("d(a/b)/db = -a/b**2: the minus sign is missing", lambda: (r[0], -r[1])),
                ("d(a/b)/db = -a/b**2: the factor a is missing", lambda: (r[0], r[1] / a)),
                ("d(a/b)/db = -a/b**2, not -a/b", lambda: (r[0], r[1] * other)),
                ("d(a/b)/da = 1/b, not b", lambda: (other, r[1]))],
        "neg": [("d(-a)/da = -1, not 1", lambda: (-r[0],))],
        "rsub": [("d(c - a)/da = -1, not 1", lambda: (-r[0],))],
        "mul_c": [("d(a*c)/da = c, the number, not a", lambda: (a,))],
        "rmul": [("d(c*a)/da = c, the number, not a", lambda: (a,))],
        "div_c": [("d(a/c)/da = 1/c, not c", lambda: (other,))],
        "rdiv": [("d(c/a)/da = -c/a**2: the minus sign is missing", lambda: (-r[0],)),
                 ("d(c/a)/da = -c/a**2: the factor c is missing", lambda: (r[0] / other,))],
        "pow": [("d(a**n)/da = n * a**(n-1): the factor n is missing", lambda: (r[0] / other,)),
                ("d(a**n)/da = n * a**(n-1): the exponent was not lowered by 1",
                 lambda: (r[0] * a,))],
        "exp": [("d exp(a)/da = exp(a), not a", lambda: (a,))],
        "sigmoid": [("sigma' = s(1 - s) with s = sigmoid(a) = out.data; a(1 - a) uses the input",
                     lambda: (a * (1 - a),)),
                    ("that is sigmoid(a) itself, not its derivative s(1 - s)",
                     lambda: (1 / (1 + math.exp(-a)),))],
        "tanh": [("tanh' = 1 - t**2 with t = tanh(a) = out.data; 1 - a**2 uses the input",
                  lambda: (1 - a**2,)),
                 ("tanh' = 1 - t**2: the sign is flipped", lambda: (-r[0],)),
                 ("tanh' = 1 - t**2, not 1 - t", lambda: (1 - math.tanh(a),))],
    }
    out = []
    for why, wrong in table.get(name, []):
        try:
            out.append((why, wrong()))
        except (ZeroDivisionError, TypeError):
            pass
    return out


OVERWRITE = ("the grad was assigned with = instead of added with +=: a leaf that already "
             "had gradient from another path lost it")
SAME_NODE = ("the grad was assigned with = instead of added with +=: in {label} the same node "
             "gets two contributions and the second overwrote the first")
NOT_SCALED = ("the local derivative was not multiplied by out.grad (the gradient that reached "
              "the result, {upstream:g} here)")
LOCAL_SIGN = "the sign is flipped"


def mistakes_op(name, idx, args, right, upstream, preset, label):
    """(why, leaf grads) for the typical wrong versions of one operation: its operands are
    the leaves `idx` (the same leaf twice in a * a), whose grads start at `preset`; the
    result's grad is `upstream`; `right` are autograd's local derivatives."""
    def grads(local, scale=upstream, overwrite=False, order=(0, 1)):
        out = [float(p) for p in preset]
        for pos in order[:len(idx)]:
            k, d = idx[pos], local[pos]
            out[k] = scale * d if overwrite else out[k] + scale * d
        return torch.tensor(out, dtype=torch.float64)

    found = [(why, grads(local)) for why, local in wrong_local(name, args, right)]
    general = [(Why(f"local-sign:{name}", LOCAL_SIGN), grads([-d for d in right]))]
    if upstream != 1:
        general.insert(0, (Why(f"not-times-out-grad:{name}", NOT_SCALED.format(upstream=upstream)),
                           grads(right, scale=1.0)))
    if len(set(idx)) < len(idx):
        general += [(Why(f"grad-assigned:{name}", SAME_NODE.format(label=label)),
                     grads(right, overwrite=True, order=o)) for o in ((0, 1), (1, 0))]
    elif any(preset):
        general.append((Why(f"grad-assigned:{name}", OVERWRITE), grads(right, overwrite=True)))
    exact = grads(right)
    for why, wrong in general:  # a general name only where no specific one says it already
        if not any(torch.allclose(wrong, w, rtol=1e-12, atol=1e-12) for _, w in found):
            found.append((why, wrong))
    # in a - a, a / a and a * a some mistakes give the right total: they cannot be named
    return [(why, w) for why, w in found if not torch.allclose(w, exact, rtol=1e-12, atol=1e-12)]


def reversed_operation(label, instr):
    """The reflected operations compute other - self and other / self."""
    if instr[0] not in ("rsub", "rdiv"):
        return ""
    method, sym = ("__rsub__", "-") if instr[0] == "rsub" else ("__rtruediv__", "/")
    return (f" Most likely: {label} calls a.{method}({instr[2]}), which must compute "
            f"other {sym} self, not self {sym} other.")


def prev_missing(label, child):
    """A node passes gradient to a node that is not among its children."""
    return (f"{label}: the new node's _backward() adds to {child}.grad, but {child} is not in "
            "its _prev, so backward() would never reach it: give the new Value its operands "
            "as children, Value(data, (self, other), op).")


def order_problem(ops, uses, log):
    """What is wrong with the order in which backward() called the nodes' _backward():
    `ops` {node number: operation} of the nodes made by operations (the output is the
    largest), `uses` {node: the nodes it was computed from}, `log` [(node, its grad when its
    _backward() ran)]. None if the order is a valid one."""
    root = max(ops)
    calls = [k for k, _ in log]
    if not calls:
        return Why("order-never-called", "backward() never called the nodes' _backward(): "
                   "after ordering the nodes, call node._backward() on each, from the output "
                   "down")
    counts = {k: calls.count(k) for k in set(calls)}
    twice = next((k for k in calls if counts[k] > 1), None)
    if twice is not None:
        return Why("order-twice", f"node n{twice} ({ops[twice]}) had its _backward() called "
                   f"{counts[twice]} times, so its gradient was passed on more than once: every "
                   "node must appear exactly once in the order (keep a set of visited nodes)")
    if root in counts:
        first = next(g for k, g in log if k == root)
        if first != 1.0:
            return Why("order-root-grad", f"the output's grad was {first!r} when its "
                       "_backward() ran: backward() must start with self.grad = 1.0 (dL/dL = 1)")
    missing = [k for k in ops if k not in counts]
    if missing:
        return Why("order-missing-node", f"node n{missing[0]} ({ops[missing[0]]}) was never "
                   "reached: the order must hold every node the output depends on (follow "
                   "_prev from the output, recursively)")
    pos = {k: p for p, k in enumerate(calls)}
    if len(calls) > 1 and pos[root] == len(calls) - 1:
        return Why("order-leaves-up", "the output's _backward() ran last: the nodes were "
                   "visited from the leaves up. Call _backward() in REVERSED topological order, "
                   "from the output down")
    for m in sorted(ops):
        for k in uses[m]:
            if k in ops and pos[k] < pos[m]:
                return Why("order-not-topological", f"node n{k} ({ops[k]}) passed its gradient "
                           f"on before node n{m} ({ops[m]}), which uses it, had added its share: "
                           "visit the nodes in reverse topological order (each node after every "
                           "node that uses it)")
    return None


STATE_KEPT = Why("state-kept", "backward() keeps state between calls: create the topological list and the "
              "visited set inside backward() (not as a default argument such as topo=[], nor "
              "outside the method)")
