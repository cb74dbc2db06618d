"""The checks of problem set 4: one per function you write, each a one-line test cell.

``check.delta_k(delta_k)`` runs your ``delta_k`` on the cases below and compares its answers
with autograd's (``references.py``), naming the typical mistake it matches (``mistakes.py``).
When your work is graded, the same cases and more run, and the grader judges your answers
outside your notebook (see ``judge.py``).

The data sets and the seeded weights of the notebook's setup cell live here too
(``make_moons``, ``make_xor``, ``init_params``), so the checks build exactly the same ones.
"""
import math
from itertools import pairwise

import judge
import torch
from compare import Why, close, first_wrong, hint, mistake_id, note_against, verdict
from mistakes import (
    HALF_DROPPED,
    LOSS_AFTER,
    MEAN_B,
    NO_LR,
    NOT_UPDATED,
    SIGN,
    UPDATE_SIGN,
    _grad,
    _grad_b,
    _grad_W,
    _sigma_prime,
    mistakes_cross_entropy,
    mistakes_delta_j,
    mistakes_delta_k,
    mistakes_delta_k_ce,
    mistakes_grad_b,
    mistakes_grad_W,
)
from recorder import recording
from references import autograd_mlp, random_mlp

f64 = torch.float64


# --- the data sets and the network ---------------------------------------------------------

def make_moons(n=200, noise=0.15, seed=0):
    """Two interleaved half circles (seeded): inputs x (n, 2) and labels t (n, 1) in {0, 1}."""
    g = torch.Generator().manual_seed(seed)
    label = torch.arange(n) % 2
    angle = math.pi * torch.rand(n, generator=g, dtype=f64)
    upper = torch.stack([torch.cos(angle), torch.sin(angle)], 1)
    lower = torch.stack([1 - torch.cos(angle), 0.5 - torch.sin(angle)], 1)
    x = torch.where(label[:, None] == 0, upper, lower)
    x = x + noise * torch.randn(n, 2, generator=g, dtype=f64)
    x = x - torch.tensor([0.5, 0.25], dtype=f64)  # centred on the origin
    return x, label.to(f64).reshape(-1, 1)


def make_xor(n=200, noise=0.3, seed=0):
    """Four seeded clusters at the corners of a square; opposite corners share a label."""
    g = torch.Generator().manual_seed(seed)
    corner = torch.arange(n) % 4
    centers = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [-1.0, 1.0], [1.0, -1.0]], dtype=f64)
    x = centers[corner] + noise * torch.randn(n, 2, generator=g, dtype=f64)
    return x, (corner >= 2).to(f64).reshape(-1, 1)


def init_params(sizes, seed=0, scale=1.0):
    """Seeded weights Ws[l] (sizes[l], sizes[l+1]) and biases bs[l] (sizes[l+1],), float64."""
    g = torch.Generator().manual_seed(seed)
    Ws = [scale * torch.randn(m, n, generator=g, dtype=f64) for m, n in pairwise(sizes)]
    bs = [scale * torch.randn(n, generator=g, dtype=f64) for n in sizes[1:]]
    return Ws, bs


def _activations(x, Ws, bs):
    """[x, O_1, ..., O_L] of the sigmoid network (the setup cell's forward)."""
    Os = [x]
    for W, b in zip(Ws, bs):
        Os.append(torch.sigmoid(Os[-1] @ W + b))
    return Os


def _network(case):
    """Case {"seed", "sizes", "B"[, "scale", "labels"]}: x, t, Ws, bs of a random network."""
    x, t, Ws, bs = random_mlp(case["seed"], case["sizes"], case["B"], case.get("scale", 1.0))
    if case.get("labels"):
        t = (t > 0.5).to(f64)  # 0/1 labels, as in training
    return x, t, Ws, bs


def _upstream(case, shape):
    """A seeded delta coming from the layer above (delta_j and layer_grads are linear in it,
    so any values test them; drawing them needs no gradient in your notebook)."""
    g = torch.Generator().manual_seed(7919 * case["seed"] + case["layer"])
    return torch.randn(*shape, generator=g, dtype=f64)


def _where(case, layer=None):
    at = f", {layer} {case['layer']}" if layer else ""
    return f"sizes {case['sizes']}{at}, B={case['B']}, seed {case['seed']}"


# --- part 1: delta_k ---------------------------------------------------------------------

def _delta_k_inputs(case):
    x, t, Ws, bs = _network(case)
    return _activations(x, Ws, bs)[-1], t


def _judge_delta_k(case, args, out):
    O_k, t = args
    ref = autograd_mlp(*_network(case))["delta"][-1]  # z.grad of the output layer
    return verdict("delta_k", out, ref, mistakes_delta_k(O_k, t), _where(case))


delta_k = judge.entry(judge.Part(
    "delta_k", [{"seed": 0, "sizes": [3, 2], "B": 1}, {"seed": 1, "sizes": [4, 3], "B": 5},
                {"seed": 2, "sizes": [2, 5, 1], "B": 8}],
    _delta_k_inputs, _judge_delta_k, where=_where,
    done="Part 1: delta_k matches z.grad of the output layer."),
    "Check delta_k(O_k, t) against z.grad of the output layer.")


# --- part 2: delta_j ---------------------------------------------------------------------

def _delta_j_inputs(case):
    """O_j of hidden layer l, a delta (B, K) from the layer above, and that layer's W (J, K)."""
    x, _, Ws, bs = _network(case)
    l = case["layer"]
    O_j = _activations(x, Ws, bs)[l + 1]
    return O_j, _upstream(case, (case["B"], case["sizes"][l + 2])), Ws[l + 1]


def _judge_delta_j(case, args, out):
    O_j, d_above, W_above = args
    x, _, Ws, bs = _network(case)
    l = case["layer"]
    Os = _activations(x, Ws, bs)
    z = (Os[l] @ Ws[l] + bs[l]).requires_grad_()  # the hidden layer's pre-activation
    (ref,) = torch.autograd.grad(torch.sigmoid(z) @ W_above + bs[l + 1], z, d_above)
    return verdict("delta_j", out, ref, mistakes_delta_j(O_j, d_above, W_above, Os[l + 2]),
                   _where(case, "hidden layer"))


def _hidden_layers(seed, sizes, B):
    return [{"seed": seed, "sizes": sizes, "B": B, "layer": l} for l in range(len(sizes) - 2)]


# the first network has a square W above the hidden layer (4 x 4): W and W.T fit alike there
delta_j = judge.entry(judge.Part(
    "delta_j", [c for seed, sizes, B in [(3, [3, 4, 4], 5), (4, [2, 5, 3], 1),
                                        (5, [3, 4, 4, 2], 6)]
                for c in _hidden_layers(seed, sizes, B)],
    _delta_j_inputs, _judge_delta_j, where=lambda case: _where(case, "hidden layer"),
    done="Part 2: delta_j matches z.grad of every hidden layer (square and non-square W, "
         "B = 1)."), "Check delta_j(O_j, delta_k, W) against autograd.")


# --- part 3: layer_grads -----------------------------------------------------------------

def _layer_grads_inputs(case):
    """O_prev, the input of layer l, and a delta (B, n_out) for that layer."""
    x, _, Ws, bs = _network(case)
    l = case["layer"]
    return _activations(x, Ws, bs)[l], _upstream(case, (case["B"], case["sizes"][l + 1]))


def _judge_layer_grads(case, args, out):
    O_prev, delta = args
    where = _where(case, "layer")
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        return f"layer_grads must return the pair (grad_W, grad_b) ({where})."
    _, _, Ws, bs = _network(case)
    W, b = (p[case["layer"]].clone().requires_grad_() for p in (Ws, bs))
    grad_W, grad_b = torch.autograd.grad(O_prev @ W + b, (W, b), delta)  # W.grad, b.grad
    return first_wrong([
        ("grad_W", verdict("grad_W", out[0], grad_W, mistakes_grad_W(O_prev, delta), where)),
        ("grad_b", verdict("grad_b", out[1], grad_b, mistakes_grad_b(delta), where))])


def _layers(seed, sizes, B):
    return [{"seed": seed, "sizes": sizes, "B": B, "layer": l} for l in range(len(sizes) - 1)]


# layer 1 of the first network has a square W (4 x 4): a transposed answer has the right shape
layer_grads = judge.entry(judge.Part(
    "layer_grads", _layers(6, [3, 4, 4, 2], 5) + _layers(7, [2, 3, 1], 1),
    _layer_grads_inputs, _judge_layer_grads, where=lambda case: _where(case, "layer"),
    done="Part 3: layer_grads matches W.grad and b.grad of every layer, for B = 5 and B = 1."),
    "Check layer_grads(O_prev, delta) against autograd.")


# --- part 4: backward --------------------------------------------------------------------

TRANSPOSED = Why("transposed", "grad_W is transposed: it has the shape of W, (n_in, n_out), "
                 "so it is O_prev.T @ delta (delta.T @ O_prev is the nn.Linear layout)")
ROW = Why("b-keepdim", "grad_b has shape (1, n_out): it must have the shape of b, (n_out,)")
TOP_NO_PRIME = Why("top-no-sigma-prime", "the sigmoid derivative O*(1-O) is missing in the "
                   "output layer's delta_k")
TOP_SIGMA_OF_O = Why("top-sigma-prime-of-O", "sigma'(O) was used in the output layer's delta_k: "
                     "O is already sigmoid(z), so sigma'(z) = O*(1-O)")
HIDDEN_NO_PRIME = Why("hidden-no-sigma-prime", "the sigmoid derivative O_j*(1-O_j) is missing "
                      "in the hidden layers' delta_j")
HIDDEN_SIGMA_OF_O = Why("hidden-sigma-prime-of-O", "sigma'(O_j) was used in delta_j: O_j is "
                        "already sigmoid(z), so sigma'(z) = O_j*(1-O_j)")
W_NOT_WT = Why("W-not-WT", "W was used where W.T is needed in delta_j (delta_k @ W.T sums over "
               "the upper nodes)")
WRONG_W = Why("W-of-layer-below", "delta_j used the weights of the layer below, Ws[l-1], where "
              "Ws[l] (the weights that the hidden layer's outputs feed) belong")
O_ABOVE = Why("O-above", "the upper layer's activations were used in delta_j where the hidden "
              "layer's O_j belong (the wrong O passed to delta_j)")
O_BELOW = Why("O-below", "the activations of the layer below (Os[l-1]) were used in delta_j "
              "where the hidden layer's O_j belong (the wrong O passed to delta_j)")
OWN_OUTPUT = Why("O-own-output", "grad_W used the layer's own output where its input belongs: "
                 "O_prev.T @ delta")
PRE_ACTIVATION = Why("z-for-O-prev", "grad_W used the pre-activation z of the layer below "
                     "where its activation O_prev = sigmoid(z) belongs")
TOP_REUSED = Why("top-delta-reused", "the output layer's delta was used at every layer: each "
                 "hidden layer needs its own delta_j, passed down through W.T")
B_NOT_SUMMED = Why("batch-kept", "the bias gradient was not summed over the batch: sum delta "
                   "over the rows")
REVERSED = Why("reversed-lists", "the lists are in reverse order: grads_W[0] must belong to "
               "Ws[0], the first layer")


def answer_free_mistakes(x, t, Ws, bs, ref):
    """Wrong backward passes, each built from autograd's answers `ref` (autograd_mlp) and
    autograd's local derivatives (mistakes.py), never from a backward pass by hand:
    [(description, wrong grads_W, wrong grads_b)] of the whole network."""
    Os, gW, gb = ref["O"], ref["grad_W"], ref["grad_b"]
    L, B, N = len(Ws), x.shape[0], t.numel()

    def back(l, d, W=None):
        """dE/dO of the hidden layer below layer l, for delta d of layer l (autograd)."""
        W = Ws[l] if W is None else W
        return _grad(lambda o: (o @ W) * d, Os[l])

    right_step = lambda l, d: back(l, d) * _sigma_prime(Os[l])
    dE_dO = _grad(lambda o: 0.5 * (o - t) ** 2, Os[L])

    def chain(top=None, step=right_step, inputs=None, sum_b=True, reuse=False):
        """grads_W and grads_b of a backward pass with one step done the way given; None
        when the shapes forbid it."""
        d = ref["delta"][L - 1] if top is None else top
        ds = [None] * L
        ds[L - 1] = d
        try:
            for l in reversed(range(1, L)):
                ds[l - 1] = d if reuse else step(l, ds[l])
                if ds[l - 1].shape != ref["delta"][l - 1].shape:
                    return None
            ins = inputs or (lambda l: Os[l])
            return ([_grad_W(ins(l), ds[l]) for l in range(L)],
                    [_grad_b(ds[l]) if sum_b else ds[l] for l in range(L)])
        except RuntimeError:
            return None

    def each(f):
        return [f(g) for g in gW], [f(g) for g in gb]

    named = [
        (SIGN, *each(lambda g: -g)),
        (TOP_NO_PRIME, *(chain(top=dE_dO) or (None, None))),
        (TOP_SIGMA_OF_O, *(chain(top=dE_dO * _sigma_prime(torch.sigmoid(Os[L])))
                           or (None, None))),
        (HIDDEN_NO_PRIME, *(chain(step=back) or (None, None))),
        (HIDDEN_SIGMA_OF_O, *(chain(step=lambda l, d: back(l, d)
                                    * _sigma_prime(torch.sigmoid(Os[l]))) or (None, None))),
        (W_NOT_WT, *(chain(step=lambda l, d: (d @ Ws[l]) * _sigma_prime(Os[l]))
                     or (None, None))),
        (WRONG_W, *(chain(step=lambda l, d: back(l, d, Ws[l - 1]) * _sigma_prime(Os[l]))
                    or (None, None))),
        (O_ABOVE, *(chain(step=lambda l, d: back(l, d) * _sigma_prime(Os[l + 1]))
                    or (None, None))),
        (O_BELOW, *(chain(step=lambda l, d: back(l, d) * _sigma_prime(Os[l - 1]))
                    or (None, None))),
        (OWN_OUTPUT, *(chain(inputs=lambda l: Os[l + 1]) or (None, None))),
        (PRE_ACTIVATION, *(chain(inputs=lambda l: torch.logit(Os[l]) if l else Os[0])
                           or (None, None))),
        (TOP_REUSED, *(chain(reuse=True) or (None, None))),
        (B_NOT_SUMMED, gW, ref["delta"]),
        (REVERSED, gW[::-1], gb[::-1]),
        (MEAN_B, *each(lambda g: g / B)),
        (HALF_DROPPED, *each(lambda g: 2 * g)),
        (TRANSPOSED, [g.T for g in gW], gb),
        (ROW, gW, [g.reshape(1, -1) for g in gb]),
    ]
    named += [(why, *each(lambda g, f=f: f * g)) for why, f in [
        (Why("mean-1/K", "the loss was averaged over the outputs (a factor 1/K): E sums over "
             "outputs and samples"), B / N),
        (Why("mean-1/BK", "the loss was averaged (a factor 1/(B*K)): E sums over outputs and "
             "samples"), 1 / N),
        (Why("mean-grad-2/BK", "the gradient of a mean was used (a factor 2/(B*K)): "
             "E = 1/2 * sum((O - t)**2)"), 2 / N)]]
    return [(why, W, b) for why, W, b in named if W is not None]


def _entries(names, oks):
    """'grads_W[0] and grads_W[1]', 'every grads_b': the names of a list of entries."""
    groups = {}
    for name, ok in zip(names, oks):
        groups.setdefault(name.split("[")[0], []).append((name, ok))
    said = []
    for group, items in groups.items():
        if all(ok for _, ok in items) and len(items) > 1:
            said.append(f"every {group}")
        else:
            said += [n for n, ok in items if ok]
    return said


def _and(words):
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else "".join(words)


def judge_grads(grads, x, t, Ws, bs, where, mistakes=answer_free_mistakes, ref=None):
    """None if backward's (grads_W, grads_b) equal autograd's, else a sentence saying which
    entries are right and which are wrong, how the first wrong one differs, and the
    mistakes of `mistakes(x, t, Ws, bs, ref)` that explain every entry."""
    ref = ref or autograd_mlp(x, t, Ws, bs)
    if not (isinstance(grads, (tuple, list)) and len(grads) == 2):
        return f"backward must return a pair of lists (grads_W, grads_b) ({where})."
    for name, got in zip(("grads_W", "grads_b"), grads):
        if not isinstance(got, (tuple, list)) or len(got) != len(Ws):
            n = len(got) if isinstance(got, (tuple, list)) else type(got).__name__
            return (f"{name} has {n} entries for a network with {len(Ws)} layers: one per "
                    f"layer, first layer first ({where}).")
    L = len(Ws)
    names = [f"grads_W[{l}]" for l in range(L)] + [f"grads_b[{l}]" for l in range(L)]
    mine = list(grads[0]) + list(grads[1])
    rights = list(ref["grad_W"]) + list(ref["grad_b"])
    oks = [close(m, r) for m, r in zip(mine, rights)]
    if all(oks):
        return None
    tried = mistakes(x, t, Ws, bs, ref)
    matched = [(why, [*W, *b]) for why, W, b in tried
               if all(close(m, w) for m, w in zip(mine, [*W, *b]))]
    note_against({mistake_id(why) for why, _, _ in tried} - {mistake_id(w) for w, _ in matched})
    bad = oks.index(False)
    message = verdict(names[bad], mine[bad], rights[bad],
                      [(why, wrong[bad]) for why, wrong in matched], where)
    right_names = _entries(names, oks)
    if right_names and len(Ws) > 1:
        wrong_names = _entries(names, [not ok for ok in oks])
        message = (f"backward: {_and(wrong_names)} {'is' if len(wrong_names) == 1 else 'are'} "
                   f"wrong; {_and(right_names)} {'is' if len(right_names) == 1 else 'are'} "
                   f"right. {message}")
    return message


def _call_backward(fn, args):
    """backward's answer, and the weights after the call (it must only read them)."""
    x, t, Ws, bs = args
    return {"grads": fn(x, t, Ws, bs), "after": [*Ws, *bs]}


def judge_backward(case, args, out, mistakes=answer_free_mistakes):
    """The verdict on backward's grads (what it changed in place is judge.py's: every
    argument is compared before and after the call)."""
    x, t, Ws, bs = args
    grads = out.get("grads") if isinstance(out, dict) else None
    return judge_grads(grads, x, t, Ws, bs, _where(case), mistakes)


# the first network has square weights above the input (4 x 4), so W and W.T both fit there
backward = judge.entry(judge.Part(
    "backward", [{"seed": seed, "sizes": sizes, "B": B} for seed, sizes, B in [
        (8, [3, 4, 4, 4], 5), (9, [2, 3, 1], 1), (10, [4, 2], 3), (11, [2, 5, 3, 4, 1], 7)]],
    lambda case: _network(case), judge_backward, call=_call_backward,
    uses=("delta_k", "delta_j", "layer_grads"), where=_where,
    done="Part 4: backward matches autograd for 1, 2, 3 and 4 layers (B = 5, 1, 3 and 7)."),
    "Check backward(x, t, Ws, bs) against autograd, layer by layer.")


# --- part 5: numerical_gradient and relative_error ----------------------------------------

def _net_loss(case):
    """The network's loss E as a function of one of its weights (case "param", "layer")."""
    x, t, Ws, bs = _network(case)
    kind, l = case["param"], case["layer"]

    def E(p):
        O = x
        for i, (W, b) in enumerate(zip(Ws, bs)):
            W = p if (kind, i) == ("W", l) else W
            b = p if (kind, i) == ("b", l) else b
            O = torch.sigmoid(O @ W + b)
        return 0.5 * ((O - t) ** 2).sum()

    return E, (Ws if kind == "W" else bs)[l]


def _numerical_inputs(case):
    """Case {"f": "cube", "x", "h"}, {"f": "exp", "seed", "shape", "h"} or {"f": "net", ...}:
    (f, x, h), h None for numerical_gradient's default."""
    if case["f"] == "cube":
        return (lambda v: (v**3).sum()), torch.tensor(case["x"], dtype=f64), case["h"]
    if case["f"] == "exp":
        g = torch.Generator().manual_seed(case["seed"])
        x = torch.randn(*case["shape"], generator=g, dtype=f64)
        return (lambda v: torch.exp(v).sum().item()), x, case["h"]  # f returns a float
    return (*_net_loss(case), case.get("h"))


def _call_numerical(fn, args):
    """numerical_gradient's answer, and x after the call (it must leave x as it was)."""
    f, x, h = args
    return fn(f, x) if h is None else fn(f, x, h), x


def _exact_gradient(case, x):
    """Autograd's df/dx at x."""
    if case["f"] == "net":
        return autograd_mlp(*_network(case))[f"grad_{case['param']}"][case["layer"]]
    v = x.clone().requires_grad_()
    f = (v**3).sum() if case["f"] == "cube" else torch.exp(v).sum()
    (grad,) = torch.autograd.grad(f, v)
    return grad


def _difference_mistakes(case, x, h, exact):
    """Wrong differences, in closed form where f is known (cube, exp): one-sided ones, the
    missing 2, the sign."""
    central = exact
    wrong = []
    if case["f"] == "cube":  # (x + h)**3 - (x - h)**3 = 6 x**2 h + 2 h**3
        central = 3 * x**2 + h**2
        wrong = [(("a forward difference (f(x + h) - f(x)) / h: use central differences"),
                  3 * x**2 + 3 * x * h + h**2),
                 (("a backward difference (f(x) - f(x - h)) / h: use central differences"),
                  3 * x**2 - 3 * x * h + h**2)]
    elif case["f"] == "exp":  # e^(x + h) - e^(x - h) = 2 e^x sinh(h)
        central = torch.exp(x) * math.sinh(h) / h
        wrong = [("a one-sided difference (f(x + h) - f(x)) / h: use central differences",
                  torch.exp(x) * math.expm1(h) / h),
                 ("a one-sided difference (f(x) - f(x - h)) / h: use central differences",
                  torch.exp(x) * -math.expm1(-h) / h)]
    return wrong + [(Why("missing-2", "the 2 is missing: divide f(x + h) - f(x - h) by 2h"), 2 * central),
                    ("the sign is flipped: (f(x + h) - f(x - h)) / 2h", -central)]


def _where_numerical(case):
    h = f"h = {case['h']:g}" if case.get("h") else "the default h"
    if case["f"] == "net":
        return f"E of {case['param']}{case['layer']}, sizes {case['sizes']}, {h}"
    shape = list(torch.tensor(case["x"]).shape) if "x" in case else case["shape"]
    return f"sum of {'cubes' if case['f'] == 'cube' else 'exp'}, x of shape {shape}, {h}"


def _judge_numerical(case, args, out):
    _, x, h = args
    where = _where_numerical(case)
    mine = out[0]  # whether x was changed in place is judge.py's (every argument is compared)
    h = h or 1e-6
    exact = _exact_gradient(case, x)
    # central differences are within ~h**2 of the derivative (and rounding, ~1e-16 / h)
    return verdict("numerical_gradient", mine, exact, _difference_mistakes(case, x, h, exact),
                   where, atol=1e-7 + 2 * h**2, rtol=1e-6)


numerical_gradient = judge.entry(judge.Part(
    "numerical_gradient",
    [{"f": "cube", "x": [[0.5, -1.0, 2.0], [1.5, 0.0, -0.3]], "h": 1e-3},
     {"f": "net", "seed": 12, "sizes": [3, 4, 2], "B": 6, "param": "W", "layer": 0}],
    _numerical_inputs, _judge_numerical, call=_call_numerical, where=_where_numerical,
    done="Part 5: numerical_gradient is a central difference, leaves x unchanged and agrees "
         "with autograd."), "Check numerical_gradient(f, x, h) against autograd.")


def _pair(case):
    """Case {"a", "b"}: two tensors; or {"seed", "shape", "pair"}: a seeded pair of nearby
    tensors a, b, taken as (a, b), (b, a), (1e6 a, 1e6 b), (a, -a) or (a, 0)."""
    if "a" in case:
        return torch.tensor(case["a"], dtype=f64), torch.tensor(case["b"], dtype=f64)
    g = torch.Generator().manual_seed(case["seed"])
    a = torch.randn(*case["shape"], generator=g, dtype=f64)
    b = a + 1e-3 * torch.randn(*case["shape"], generator=g, dtype=f64)
    return [(a, b), (b, a), (1e6 * a, 1e6 * b), (a, -a), (a, torch.zeros_like(a))][case["pair"]]


def relative_error_mistakes(a, b):
    ratio = (a - b).abs() / (a.abs() + b.abs()).clamp_min(1e-300)
    return [(Why("relative-entrywise", "the ratio was taken entry by entry: divide the largest |a - b| by the "
              "largest |a| + |b|"), ratio.max()),
            ("|a - b| was not divided by max(|a| + |b|)", (a - b).abs().max())]


def judge_relative_error(case, args, out, expected, atol=1e-10, rtol=1e-7):
    """The verdict on relative_error(a, b) = out, when the right value is `expected`."""
    a, b = args
    where = f"a = {a.tolist()}, b = {b.tolist()}" if a.numel() <= 4 else f"shape {list(a.shape)}"
    if isinstance(out, torch.Tensor) and out.numel() == 1:
        out = out.item()
    if isinstance(out, bool) or not isinstance(out, (int, float)):
        return f"relative_error must return a Python float, got {type(out).__name__} ({where})."
    return verdict("relative_error(a, b)", torch.tensor(float(out), dtype=f64),
                   torch.tensor(expected, dtype=f64), relative_error_mistakes(*args), where,
                   atol, rtol)


# the visible cases, worked out by hand: max |a - b| / max(|a| + |b|)
_WORKED = {((1.0, 2.0, 3.0), (1.0, 2.0, 3.0)): 0.0,  # a == b
           ((3.0, 0.0), (1.0, 0.0)): 0.5,  # max |a - b| = 2, max(|a| + |b|) = 4
           ((1e-3, 10.0), (2e-3, 10.5)): 0.5 / 20.5,  # 0.5 / 20.5 (entry by entry: 1/3)
           ((0.0, 0.0), (0.0, 0.0)): 0.0}  # both zero: 0 by definition


def _judge_relative_error(case, args, out):
    key = (tuple(case.get("a", ())), tuple(case.get("b", ())))
    if key not in _WORKED:
        return "relative_error: this case is judged when your work is graded."
    return judge_relative_error(case, args, out, _WORKED[key])


relative_error = judge.entry(judge.Part(
    "relative_error", [{"a": list(a), "b": list(b)} for a, b in _WORKED], _pair,
    _judge_relative_error, where=lambda case: f"a = {case.get('a')}, b = {case.get('b')}"
    if "a" in case else f"shape {case['shape']}",
    done="Part 5: relative_error is max |a - b| / max(|a| + |b|), 0 for two zero tensors."),
    "Check relative_error(a, b) on examples worked out by hand.")


# --- part 6: train -----------------------------------------------------------------------

MAKERS = {"moons": make_moons, "xor": make_xor}


def _train_inputs(case):
    """Case {"data", "data_seed"[, "n"]}: train(x, t) with its defaults; with "hidden", "lr",
    "steps", "seed" too: train(x, t, hidden, lr, steps, seed), its calls to backward recorded."""
    x, t = MAKERS[case["data"]](n=case.get("n", 200), seed=case["data_seed"])
    if "steps" not in case:
        return x, t, None, None, None, None, False
    return x, t, tuple(case["hidden"]), case["lr"], case["steps"], case["seed"], True


def _autograd_error(err):
    return isinstance(err, (NotImplementedError, judge.AutogradUsed)) or (
        isinstance(err, RuntimeError) and ("does not require grad" in str(err)
                                           or "grad_fn" in str(err)))


def _call_train(fn, args):
    """train's answer; with the recorder, {"calls": [[inputs, gradients], ...], "result":
    what train returned} (or "raised": its error, after calls to backward)."""
    x, t, hidden, lr, steps, seed, record = args
    if not record:
        return fn(x, t)
    with recording(fn, "backward", {"x": x, "t": t}) as calls:
        try:
            result = fn(x, t, hidden=hidden, lr=lr, steps=steps, seed=seed)
        except Exception as err:
            if not calls or _autograd_error(err):
                raise
            return {"calls": calls, "raised": [type(err).__name__, str(err)[:300]]}
    return {"calls": calls, "result": result}


def _where_train(case):
    n = f"n={case['n']}, " if "n" in case else ""
    data = f"make_{case['data']}({n}seed={case['data_seed']})"
    if "steps" not in case:
        return f"{data}, the defaults"
    return f"{data}, hidden={tuple(case['hidden'])}, lr={case['lr']}, seed={case['seed']}"


def _tensors(ps, shapes):
    return (isinstance(ps, list) and len(ps) == len(shapes)
            and all(isinstance(p, torch.Tensor) and tuple(p.shape) == s for p, s in zip(ps, shapes)))


def _same(got, right, name):
    return got == name if isinstance(got, str) else close(got, right, 0.0, 0.0)


def _judge_contract(case, args, out, mistakes):
    x, t, hidden, lr, steps, seed, _ = args
    where = _where_train(case)
    calls = out.get("calls") if isinstance(out, dict) else None
    if not isinstance(calls, list):
        return f"train: nothing was recorded ({where})."
    sizes = [x.shape[1], *hidden, t.shape[1]]
    W0, b0 = init_params(sizes, seed)
    shapes_W, shapes_b = [tuple(W.shape) for W in W0], [tuple(b.shape) for b in b0]
    refs = []
    for i, call in enumerate(calls[:steps + 1]):
        step = f"training step {i}, {where}"
        inputs, grads = call if isinstance(call, list) and len(call) == 2 else ([], None)
        if len(inputs) != 4:
            return f"train must call backward(x, t, Ws, bs) ({step})."
        x_i, t_i, Ws_i, bs_i = inputs
        if not (_same(x_i, x, "x") and _same(t_i, t, "t")):
            return f"backward must get the whole training set x, t ({step})."
        if not (_tensors(Ws_i, shapes_W) and _tensors(bs_i, shapes_b)):
            return (f"backward got Ws, bs that are not lists of the network's weights, shapes "
                    f"{shapes_W} and {shapes_b} ({step}).")
        if i == 0 and not all(close(p, q, 0.0, 0.0) for p, q in zip(Ws_i + bs_i, W0 + b0)):
            return f"Ws, bs at step 0 must be init_params(sizes, seed) ({step})."
        refs.append(autograd_mlp(x, t, Ws_i, bs_i))
        message = judge_grads(grads, x, t, Ws_i, bs_i, f"from backward, {step}", mistakes,
                              refs[-1])
        if message:
            return message
    if "raised" in out:
        name, text = out["raised"]
        return f"train raised {name} ({where}): {text}"
    result = out.get("result")
    if not (isinstance(result, (tuple, list)) and len(result) == 3):
        return f"train must return (Ws, bs, losses) ({where})."
    Ws, bs, losses = result
    if len(calls) != steps:
        return (f"train called backward {len(calls)} times in {steps} steps: the contract is "
                f"exactly once per step, by the name backward ({where}).")
    if not isinstance(losses, list) or len(losses) != steps:
        n = len(losses) if isinstance(losses, (list, tuple)) else type(losses).__name__
        return f"losses must be a list with one entry per step ({steps}), got {n} ({where})."
    if not (_tensors(list(Ws), shapes_W) and _tensors(list(bs), shapes_b)):
        return f"train must return the lists Ws and bs of the trained network ({where})."
    for i, ((_, _, Ws_i, bs_i), grads) in enumerate(calls):
        step = f"training step {i}, {where}"
        E = refs[i]["E"]
        try:
            loss_i = float(losses[i])
        except (TypeError, ValueError):
            return f"losses[{i}] is not a number ({step})."
        if not abs(loss_i - E) <= 1e-9 * (1 + E):
            later = refs[i + 1]["E"] if i + 1 < len(refs) else None
            n, K = len(x), t.shape[1]
            seen = [why for why, value in [
                (LOSS_AFTER, later),
                (Why("loss-mean", f"the recorded loss is E / {n}, the mean over the {n} "
                     "samples: record E, the sum"), E / n),
                (Why("loss-mean-all", f"the recorded loss is E / {n * K}, the mean over all "
                     f"B*K = {n * K} entries: record E, the sum"), E / (n * K) if K > 1 else None),
                (Why("loss-doubled", "the recorded loss is 2E: E = 1/2 * sum((O - t)**2) has a "
                     "1/2"), 2 * E)]
                if value is not None and abs(loss_i - value) <= 1e-9 * (1 + abs(value))]
            return (f"losses[{i}] = {loss_i:.6g}, but E before step {i} is {E:.6g} "
                    f"({step}).{hint(seen)}")
        # the weights of the next step (or the returned ones) follow the update rule
        after = calls[i + 1][0][2] + calls[i + 1][0][3] if i + 1 < steps else [*Ws, *bs]
        for l, (p, g, p_next) in enumerate(zip(Ws_i + bs_i, grads[0] + grads[1], after)):
            name = f"Ws[{l}]" if l < len(Ws_i) else f"bs[{l - len(Ws_i)}]"
            message = verdict(f"{name} after step {i}", p_next, p - lr * g, [
                (UPDATE_SIGN, p + lr * g),
                (NO_LR, p - g),
                (Why("update-mean", "the gradient was divided by the batch size"), p - lr * g / len(x)),
                (NOT_UPDATED, p)], step)
            if message:
                return message
    return None


def _judge_defaults(case, args, out):
    x, t = args[:2]
    where = _where_train(case)
    if not (isinstance(out, (tuple, list)) and len(out) == 3):
        return f"train must return (Ws, bs, losses) ({where})."
    Ws, bs, losses = out
    try:
        O = _activations(x, list(Ws), list(bs))[-1]
        first, last = float(losses[0]), float(losses[-1])
    except (TypeError, ValueError, RuntimeError, IndexError, KeyError):
        return f"train must return the trained Ws, bs and a list of losses ({where})."
    if not (isinstance(O, torch.Tensor) and O.shape == t.shape):
        return f"the trained network's output has shape {getattr(O, 'shape', None)} ({where})."
    acc = ((O > 0.5).to(f64) == t).to(f64).mean().item()
    if acc < 0.95:
        return f"training accuracy {acc:.1%}, expected at least 95% ({where})."
    if not last < first / 4:
        return f"the loss only went from {first:.3g} to {last:.3g} ({where})."
    return None


def judge_train(case, args, out, mistakes=answer_free_mistakes):
    if args[-1]:
        return _judge_contract(case, args, out, mistakes)
    return _judge_defaults(case, args, out)


train = judge.entry(judge.Part(
    "train", [{"data": "moons", "n": 40, "data_seed": 7, "hidden": [4], "lr": 0.1,
               "steps": 3, "seed": 1},
              {"data": "moons", "data_seed": 0}],
    _train_inputs, judge_train, call=_call_train, uses=("backward",), where=_where_train,
    done="Part 6: train follows the contract, your gradients match autograd at every step, "
         "and the defaults reach 95% on make_moons()."),
    "Check train: the contract (recorded calls to backward) and the accuracy it reaches.")


# --- part 7: cross-entropy ---------------------------------------------------------------

def _ce_inputs(case):
    """The sigmoid outputs O_k of a random network and targets t strictly between 0 and 1
    (with "labels": 0/1 targets, for delta_k_ce only)."""
    x, t, Ws, bs = _network(case)
    return _activations(x, Ws, bs)[-1], t


def _judge_cross_entropy(case, args, out):
    O_k, t = args
    ref = torch.nn.functional.binary_cross_entropy(O_k, t, reduction="sum")
    if isinstance(out, torch.Tensor) and out.numel() == 1 and out.dim() > 0:
        return (f"cross_entropy ({_where(case)}): returned shape {tuple(out.shape)}; "
                "return a single number, a 0-d tensor such as (...).sum().")
    return verdict("cross_entropy", out, ref, mistakes_cross_entropy(O_k, t), _where(case))


def _judge_delta_k_ce(case, args, out):
    O_k, t = args
    x, t, Ws, bs = _network(case)
    z = (_activations(x, Ws, bs)[-2] @ Ws[-1] + bs[-1]).requires_grad_()  # output layer's z
    E = torch.nn.functional.binary_cross_entropy_with_logits(z, t, reduction="sum")
    (ref,) = torch.autograd.grad(E, z)  # z.grad
    return verdict("delta_k_ce", out, ref, mistakes_delta_k_ce(O_k, t), _where(case))


cross_entropy = judge.entry(judge.Part(
    "cross_entropy", [{"seed": 20, "sizes": [3, 2], "B": 1}, {"seed": 21, "sizes": [4, 3], "B": 5},
                      {"seed": 22, "sizes": [2, 5, 1], "B": 8}],
    _ce_inputs, _judge_cross_entropy, where=_where,
    done="Part 7: cross_entropy matches torch's binary cross-entropy, summed."),
    "Check cross_entropy(O_k, t) against torch.nn.functional.binary_cross_entropy (summed).")

delta_k_ce = judge.entry(judge.Part(
    "delta_k_ce", [{"seed": 23, "sizes": [3, 2], "B": 1}, {"seed": 24, "sizes": [4, 3], "B": 5},
                   {"seed": 25, "sizes": [2, 5, 1], "B": 8, "labels": True}],
    _ce_inputs, _judge_delta_k_ce, where=_where,
    done="Part 7: delta_k_ce matches z.grad of the output layer under cross-entropy."),
    "Check delta_k_ce(O_k, t) against z.grad of the output layer under cross-entropy.")
