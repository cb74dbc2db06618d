"""The checks of problem set 1: one per function you write, each a one-line test cell.

``check.forward(forward)`` runs your ``forward`` on the cases below and compares its
answers with autograd's (``references.py``), naming the typical mistake it matches
(``mistakes.py``). When your work is graded, the same cases and more run, and the grader
judges your answers outside your notebook (see ``judge.py``).
"""
import judge
import torch
from compare import Why, first_wrong, hint, verdict
from mistakes import LOSS_AFTER, NO_LR, NOT_UPDATED, UPDATE_SIGN, mistakes_output_layer
from references import autograd_mlp, random_mlp

f64 = torch.float64


def make_blobs(n=100, seed=0):
    """Two seeded Gaussian blobs in 2D: inputs x (n, 2) and labels t (n, 1) in {0, 1}."""
    g = torch.Generator().manual_seed(seed)
    t = (torch.arange(n) % 2).to(f64).reshape(-1, 1)
    centers = torch.tensor([[-1.5, -1.0], [1.5, 1.0]], dtype=f64)
    x = centers[t.long().squeeze(1)] + 0.8 * torch.randn(n, 2, generator=g, dtype=f64)
    return x, t


# --- part 1: sigmoid and sigmoid_prime -------------------------------------------------

def _z(case):
    """Case {"points": n}: n points from -6 to 6; {"seed", "shape"}: random z, with one
    entry far in the tail (40), where the answer must stay finite."""
    if "points" in case:
        return (torch.linspace(-6, 6, case["points"], dtype=f64).reshape(-1, 1),)
    g = torch.Generator().manual_seed(case["seed"])
    z = 8 * torch.randn(*case["shape"], generator=g, dtype=f64)
    z.view(-1)[0] = 40.0
    return (z,)


def _sigmoid_prime_ref(z):
    zg = z.clone().requires_grad_()
    (grad,) = torch.autograd.grad(torch.sigmoid(zg).sum(), zg)
    return grad


sigmoid = judge.entry(judge.Part(
    "sigmoid", [{"points": 13}], _z,
    lambda case, args, out: verdict("sigmoid(z)", out, torch.sigmoid(args[0])),
    done="Part 1: sigmoid matches torch.sigmoid."), "Check sigmoid(z) against torch.sigmoid.")

sigmoid_prime = judge.entry(judge.Part(
    "sigmoid_prime", [{"points": 13}], _z,
    lambda case, args, out: verdict(
        "sigmoid_prime(z)", out, _sigmoid_prime_ref(args[0]),
        [(Why("sigma-prime-of-z", "sigma' is sigma(z) * (1 - sigma(z)); z * (1 - z) applies it to z itself"),
          args[0] * (1 - args[0])),
         (Why("sigma-not-derivative", "that is sigma(z), not its derivative"), torch.sigmoid(args[0]))]),
    uses=("sigmoid",), done="Part 1: sigmoid_prime matches autograd's derivative."),
    "Check sigmoid_prime(z) against autograd's derivative of torch.sigmoid.")


# --- part 2: forward -------------------------------------------------------------------

def _network(case):
    """Case {"seed", "B", "n"[, "scale", "labels"]}: x (B, n), t (B, 1), W (n, 1), b (1,)."""
    x, t, (W,), (b,) = random_mlp(case["seed"], [case["n"], 1], case["B"],
                                  case.get("scale", 1.0))
    if case.get("labels"):
        t = (t > 0.5).to(f64)  # 0/1 labels, as in training
    return x, t, W, b


def _judge_forward(case, args, out):
    x, _, W, b = args
    z = x @ W + b
    return verdict("forward(x, W, b)", out, torch.sigmoid(z),
                   [(Why("no-bias", "the bias b is missing"), torch.sigmoid(x @ W)),
                    (Why("no-sigmoid", "the sigmoid is missing: that is z = x @ W + b"), z)])


forward = judge.entry(judge.Part(
    "forward", [{"seed": 0, "B": 1, "n": 3}, {"seed": 1, "B": 4, "n": 3}], _network,
    _judge_forward, call=lambda fn, args: fn(args[0], args[2], args[3]), uses=("sigmoid",),
    names=("x", "t", "W", "b"),
    done="Part 2: forward matches torch."), "Check forward(x, W, b) against torch.")


# --- part 3: gradients -----------------------------------------------------------------

def _judge_gradients(case, args, out):
    x, t, W, b = args
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        return "gradients must return the pair (grad_W, grad_b)."
    ref = autograd_mlp(x, t, [W], [b])
    wrong_W, wrong_b = mistakes_output_layer(x, ref["O"][1], t)
    where = f"B={case['B']}, n={case['n']}, seed {case['seed']}"
    return first_wrong([("grad_W", verdict("grad_W", out[0], ref["grad_W"][0], wrong_W, where)),
                        ("grad_b", verdict("grad_b", out[1], ref["grad_b"][0], wrong_b, where))])


gradients = judge.entry(judge.Part(
    "gradients", [{"seed": 0, "B": 1, "n": 3}, {"seed": 1, "B": 5, "n": 3},
                  {"seed": 2, "B": 8, "n": 2}], _network, _judge_gradients,
    uses=("forward", "sigmoid"), done="Part 3: grad_W and grad_b match autograd."),
    "Check gradients(x, t, W, b) against autograd.")


# --- part 4: train ---------------------------------------------------------------------

def _blobs(case):
    """Case {"seed", "n", "lr", "steps"}: the blobs, and train's settings."""
    x, t = make_blobs(case["n"], case["seed"])
    return x, t, case["lr"], case["steps"]


def _judge_train(case, args, out):
    x, t, lr, steps = args
    where = f"blobs seed {case['seed']}, lr={lr}, steps={steps}"
    if not (isinstance(out, (tuple, list)) and len(out) == 3):
        return f"train must return (W, b, losses) ({where})."
    W, b, losses = out
    zeros = [torch.zeros(x.shape[1], 1, dtype=f64)], [torch.zeros(1, dtype=f64)]
    ref = autograd_mlp(x, t, *zeros)
    if not isinstance(losses, list) or len(losses) != steps:
        return (f"losses must be a list with one entry per step ({steps}), "
                f"got {type(losses).__name__} of length {len(losses)} ({where}).")
    first = float(losses[0])
    E = ref["E"]
    if abs(first - E) > 1e-9 * (1 + E):
        B = x.shape[0]
        after = autograd_mlp(x, t, [-lr * ref["grad_W"][0]], [-lr * ref["grad_b"][0]])["E"]
        seen = [why for why, value in [
            (LOSS_AFTER, after),
            (Why("loss-mean", f"the recorded loss is E / {B}, the mean over the {B} samples: "
                 "record E, the sum"), E / B),
            (Why("loss-doubled", "the recorded loss is 2E: E = 1/2 * sum((O - t)**2) has a "
                 "1/2"), 2 * E)] if abs(first - value) <= 1e-9 * (1 + abs(value))]
        return (f"losses[0] = {first:.6g}, but E before the first step (W = 0, b = 0) is "
                f"{E:.6g} ({where}).{hint(seen)}")
    if steps == 1:  # exactly one step of gradient descent from zero
        B = x.shape[0]
        for name, p, g in (("W", out[0], ref["grad_W"][0]), ("b", out[1], ref["grad_b"][0])):
            message = verdict(f"{name} after one step", p, -lr * g, [
                (UPDATE_SIGN, lr * g),
                (NO_LR, -g),
                (Why("update-mean", "the gradient was divided by the batch size (a mean): E sums over the samples"),
                 -lr * g / B),
                (NOT_UPDATED, 0 * g)], where)
            if message:
                return message
        return None
    if not (isinstance(W, torch.Tensor) and isinstance(b, torch.Tensor)
            and W.shape == (x.shape[1], 1) and b.shape == (1,)):
        return f"W must have shape ({x.shape[1]}, 1) and b shape (1,) ({where})."
    accuracy = ((torch.sigmoid(x @ W + b) > 0.5).to(f64) == t).to(f64).mean().item()
    if accuracy < 0.95:
        return f"training accuracy {accuracy:.1%}, expected at least 95% ({where})."
    if not float(losses[-1]) < first / 2:
        return f"the loss went from {first:.3g} to {float(losses[-1]):.3g}, not below half ({where})."
    return None


train = judge.entry(judge.Part(
    "train", [{"seed": 0, "n": 100, "lr": 0.01, "steps": 1},
              {"seed": 0, "n": 100, "lr": 0.05, "steps": 300}], _blobs, _judge_train,
    uses=("gradients", "forward"),
    done="Part 4: train takes exact gradient steps, records E before each, and separates "
         "the blobs."), "Check train(x, t, lr, steps): one exact step, the losses, accuracy.")
