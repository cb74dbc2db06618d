"""The checks of problem set 5: one per function you write, each a one-line test cell.

``check.himmelblau(himmelblau)`` runs your ``himmelblau`` on the cases below and judges its
answers. When your work is graded, the same cases and more run, and the grader judges your
answers outside your notebook (see ``judge.py``), against its own copy of f.

Why the checks here look the way they do. Part 1 asks you to code f itself, so a
reference f in this file would be the answer to part 1, and a reference gradient or a
reference descent loop would be the answers to parts 2 and 3. None of them is here.
Instead each part is checked against something that gives nothing away:

* part 1, ``himmelblau``: values of f worked out by hand at seven points (``POINTS``, each
  with its two brackets and its arithmetic in a comment), and f = 0 at the four minima;
* part 2, ``himmelblau_grad``: autograd applied to *your* ``himmelblau``, once it has passed
  part 1 in this notebook. autograd's gradient of a function that is right is the right
  gradient, and the mistakes (a missing factor 2, a flipped sign, swapped partials) are
  named from autograd's answer alone;
* part 3, ``descend``: every step of your path, one at a time: row i + 1 must be
  row i - lr * (your ``himmelblau_grad`` at row i), with the gradient checked in part 2.
  A step that goes uphill, forgets lr or adds up old gradients is named as such. Nothing
  here walks a path: the checks only look at the one you return;
* part 4, ``descend_optim``: the same step-by-step check, with autograd's gradient of your
  ``himmelblau`` (torch.optim.SGD computes exactly that step).

So run the test cells in order: parts 2 and 3 tell you when the part they rely on has not
passed yet. The grader judges all four parts with its own f, so a grade never depends on
another part being right, except where your function calls that other part.
"""
import ast
import inspect
import math
import textwrap

import judge
import torch
from compare import Why, close, verdict

f64 = torch.float64
# the four minima of f (f = 0 at each), to six decimals
MINIMA = ((3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126))
CHECKED = {}  # part name -> your function that passed that part's test in this notebook

# --- part 1: the function ---------------------------------------------------------------
# f(x, y) = a**2 + c**2 with the two brackets a = x**2 + y - 11 and c = x + y**2 - 7,
# worked out by hand (every number here is exact in float64):
POINTS = {  # (x, y): (a, c, f)
    (0.0, 0.0): (-11.0, -7.0, 170.0),  # a = 0 + 0 - 11, c = 0 + 0 - 7; 121 + 49 = 170
    (3.0, 2.0): (0.0, 0.0, 0.0),  # a = 9 + 2 - 11 = 0, c = 3 + 4 - 7 = 0: a minimum
    (1.0, -1.0): (-11.0, -5.0, 146.0),  # a = 1 - 1 - 11, c = 1 + 1 - 7; 121 + 25 = 146
    (-2.5, 0.5): (-4.25, -9.25, 103.625),  # a = 6.25 + 0.5 - 11, c = -2.5 + 0.25 - 7;
    #                                        18.0625 + 85.5625 = 103.625
    (1.0, 2.0): (-8.0, -2.0, 68.0),  # a = 1 + 2 - 11, c = 1 + 4 - 7; 64 + 4 = 68
    (-2.0, 1.5): (-5.5, -6.75, 75.8125),  # a = 4 + 1.5 - 11, c = -2 + 2.25 - 7;
    #                                       30.25 + 45.5625 = 75.8125
    (3.5, -1.0): (0.25, -2.5, 6.3125),  # a = 12.25 - 1 - 11, c = 3.5 + 1 - 7; 0.0625 + 6.25
}


def _points(case):
    """Case {"points": [[x, y], ...]}: those points; {"seed", "shape"}: x and y of that
    shape, uniform in [-6, 6]. Returns the tensors (x, y)."""
    if "points" in case:
        x, y = zip(*case["points"])
        return torch.tensor(x, dtype=f64), torch.tensor(y, dtype=f64)
    g = torch.Generator().manual_seed(case["seed"])
    x = 12 * torch.rand(*case["shape"], generator=g, dtype=f64) - 6
    y = 12 * torch.rand(*case["shape"], generator=g, dtype=f64) - 6
    return x, y


def where_points(case):
    if case.get("minima"):
        return "at the four minima"
    if "points" in case:
        return "at " + ", ".join(f"({x:g}, {y:g})" for x, y in case["points"])
    return f"x and y of shape {tuple(case['shape'])}, seed {case['seed']}"


def mistakes_f(a, c):
    """Wrong values of f, from the values of the brackets a and c."""
    return [(Why("f-no-squares", "the squares are missing: f is a sum of two squares"), a + c),
            ("the two brackets were multiplied, not squared and added", a * c),
            (Why("f-sum-squared", "the sum of the brackets was squared: square each bracket, then add"), (a + c) ** 2)]


def judge_minima(case, args, out):
    """f = 0 at the minima (up to their rounding to six decimals: f < 1e-10 there)."""
    return verdict("himmelblau(x, y)", out, torch.zeros_like(args[0]), (),
                   where_points(case) + ", where f = 0", atol=1e-9)


def _judge_himmelblau(case, args, out):
    if case.get("minima"):
        return judge_minima(case, args, out)
    a, c, f = (torch.tensor([POINTS[tuple(p)][i] for p in case["points"]], dtype=f64)
               for i in range(3))
    return verdict("himmelblau(x, y)", out, f, mistakes_f(a, c), where_points(case))


def _entry(part, doc):
    """Like judge.entry, and remembers your function when it passes its visible test here
    (the later parts are checked with it)."""
    def check(fn, hidden=False):
        __tracebackhide__ = True
        if not hidden:
            CHECKED.pop(part.name, None)
        judge.run(part, fn, hidden)
        if not hidden and not judge.GRADING:
            CHECKED[part.name] = fn

    check.__name__, check.__doc__, check.part = part.name, doc, part
    return check


himmelblau = _entry(judge.Part(
    "himmelblau", [{"points": [[0.0, 0.0], [3.0, 2.0], [1.0, -1.0], [-2.5, 0.5]]},
                   {"points": [list(m) for m in MINIMA], "minima": True}],
    _points, _judge_himmelblau, where=where_points,
    done="Part 1: himmelblau is right at points worked out by hand, and 0 at the minima."),
    "Check himmelblau(x, y) against values worked out by hand, and f = 0 at the minima.")


# --- part 2: the gradient, by hand ------------------------------------------------------

def autograd_partials(f, x, y):
    """autograd's (df/dx, df/dy) of the function f at the points (x, y), stacked on dim 0."""
    x = x.detach().clone().requires_grad_()
    y = y.detach().clone().requires_grad_()
    with torch.enable_grad():
        f(x, y).sum().backward()
    return torch.stack([x.grad, y.grad])


def mistakes_grad(right, a=None, c=None):
    """Wrong (df/dx, df/dy) stacked like `right`; with the brackets a and c, one more."""
    out = [(Why("grad-no-2", "the factor 2 of the square is missing: d/du u**2 = 2u"), right / 2),
           ("the sign is flipped: that is -grad f, the direction of descent, not the gradient",
            -right),
           (Why("partials-swapped", "the partials are swapped: return (df/dx, df/dy) in that order"), right.flip(0))]
    if a is not None:
        out.append((("the inner derivative is missing: d/dx (x**2 + y - 11)**2 = "
                     "2(x**2 + y - 11) * 2x"), torch.stack([2 * a + 2 * c, 2 * a + 2 * c])))
    return out


def judge_grad(case, args, out, right, mistakes):
    """None if out is the pair (df_dx, df_dy) equal to `right` (stacked), else a sentence."""
    x, _ = args
    where = where_points(case)
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        return (f"himmelblau_grad must return the pair (df_dx, df_dy), got "
                f"{type(out).__name__} ({where}).")
    for name, g in zip(("df_dx", "df_dy"), out):
        if not isinstance(g, torch.Tensor):
            return (f"{name} must be a tensor shaped like x {tuple(x.shape)}, got "
                    f"{type(g).__name__} ({where}).")
        if g.numel() != x.numel():
            return f"{name} has shape {tuple(g.shape)}, x has shape {tuple(x.shape)} ({where})."
    mine = torch.stack([g.to(f64).reshape(x.shape) for g in out])
    return verdict("himmelblau_grad(x, y)", mine, right, mistakes, where)


def _judge_grad(case, args, out):
    f = CHECKED.get("himmelblau")
    if f is None:
        return ("himmelblau_grad is compared with autograd's gradient of your himmelblau, "
                "which has not passed its test in this notebook yet: run the test cell of "
                "part 1 (and fix himmelblau if it fails), then this one.")
    try:
        right = autograd_partials(f, *args)
    except Exception as err:  # noqa: BLE001 (the student's function, in the student's kernel)
        return (f"autograd cannot differentiate your himmelblau ({type(err).__name__}: "
                f"{err}): use only arithmetic on x and y there (part 4 needs it too).")
    a, c = (torch.tensor([POINTS[tuple(p)][i] for p in case["points"]], dtype=f64)
            for i in range(2))
    return judge_grad(case, args, out, right, mistakes_grad(right, a, c))


himmelblau_grad = _entry(judge.Part(
    "himmelblau_grad", [{"points": [[1.0, 2.0], [0.0, 0.0], [-2.0, 1.5], [3.5, -1.0]]}],
    _points, _judge_grad, where=where_points,
    done="Part 2: (df/dx, df/dy) matches autograd's gradient of f."),
    "Check himmelblau_grad(x, y) against autograd's gradient of your himmelblau.")


# --- parts 3 and 4: gradient descent ----------------------------------------------------

def _start(case):
    """Case {"p0", "lr", "steps"[, "tensor", "defaults", "goal"]}: p0 as a tuple (a tensor
    with "tensor"), lr, steps, and whether to call with the default lr and steps."""
    p0 = torch.tensor(case["p0"], dtype=f64) if case.get("tensor") else tuple(case["p0"])
    return p0, case["lr"], case["steps"], bool(case.get("defaults"))


def where_start(case):
    p0 = ", ".join(f"{v:g}" for v in case["p0"])
    if case.get("defaults"):
        return f"p0 = ({p0}) with the defaults lr = {case['lr']}, steps = {case['steps']}"
    return f"p0 = ({p0}), lr = {case['lr']}, steps = {case['steps']}"


def _call_path(fn, args):
    p0, lr, steps, defaults = args
    return {"path": fn(p0) if defaults else fn(p0, lr, steps), "p0": p0}


def optimizer_calls(fn):
    """The methods an optimizer-based function calls by name: backward, step, zero_grad."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return []
    return sorted({node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
                   and node.attr in ("backward", "step", "zero_grad")})


def _call_optim(fn, args):
    return {**_call_path(fn, args), "calls": optimizer_calls(fn)}


def nearest_minimum(p):
    """The index (0 to 3) of the minimum in MINIMA closest to the point p, and the distance."""
    dists = [math.dist([float(v) for v in p], m) for m in MINIMA]
    i = min(range(4), key=dists.__getitem__)
    return i, dists[i]


ACCUMULATED = Why("accumulated", "the gradients accumulate from step to step: call optimizer.zero_grad() "
               "(or reset .grad) before each backward()")


def judge_path(name, case, out, grad):
    """None if out["path"] is gradient descent from p0, else a sentence. Each step is
    checked on its own: row i + 1 must be row i - lr * grad(row i), where grad(p) is the
    gradient (a tensor of shape (2,)) at the point p."""
    lr, steps = case["lr"], case["steps"]
    p0 = torch.tensor(case["p0"], dtype=f64)
    where = where_start(case)
    path = out.get("path") if isinstance(out, dict) else out
    if not isinstance(path, torch.Tensor):
        return (f"{name} must return a tensor of shape ({steps + 1}, 2), got "
                f"{type(path).__name__} ({where}).")
    rows = path.shape[0] if path.dim() == 2 and path.shape[1] == 2 else None
    if rows == steps + 2:
        return (f"{name} returned {rows} rows ({where}): one step too many: `steps` updates "
                "give steps + 1 points, p0 included.")
    if rows == steps and steps > 0:
        if close(path[0], p0):
            return (f"{name} returned {rows} rows ({where}): one step too few: make `steps` "
                    "updates, so the path has steps + 1 points, p0 included.")
        return (f"{name} returned {rows} rows ({where}): the start point is missing: the "
                "path begins with p0, so it has steps + 1 rows.")
    if rows != steps + 1:
        return f"{name} returned shape {tuple(path.shape)}, expected ({steps + 1}, 2) ({where})."
    if path.dtype != f64:
        return f"{name} returned a {path.dtype} path, expected torch.float64 ({where})."
    if steps > 0 and not close(path[0], p0) and all(close(r, path[-1]) for r in path):
        return (f"{name}: every row of the path is the same point ({where}): the point was "
                "changed in place (p -= ...) after it was put in the path; write "
                "p = p - lr * ... (a new tensor) or append a copy.")
    message = verdict(f"{name}: row 0 of the path", path[0], p0, (), f"{where}; it must be p0")
    if message:
        return message
    total = torch.zeros(2, dtype=f64)
    for i in range(steps):
        p = path[i]
        g = grad(p)
        total = total + g
        wrong = [(Why("ascent", "that is gradient ascent: step against the gradient, p - lr * grad"), p + lr * g),
                 ("the point did not move: update p at each step", p)]
        if lr != 1:
            wrong.append(("the learning rate is missing: p - lr * grad", p - g))
        if i > 0:
            wrong.append((ACCUMULATED, p - lr * total))
        message = verdict(f"{name}: row {i + 1} of the path", path[i + 1], p - lr * g, wrong,
                          f"{where}; it must be row {i} - lr * grad f(row {i})",
                          atol=1e-9, rtol=1e-9)
        if message:
            return message
    if "goal" in case:
        which, dist = nearest_minimum(path[-1])
        if which != case["goal"] or dist > 1e-5:
            end = ", ".join(f"{float(v):.6g}" for v in path[-1])
            return f"{name} ended at ({end}), not at the minimum {MINIMA[case['goal']]} ({where})."
    p0_after = out.get("p0") if isinstance(out, dict) else None
    if isinstance(p0_after, torch.Tensor) and not torch.equal(p0_after, p0):
        return (f"{name} changed p0 in place ({where}): start from a copy, "
                "torch.as_tensor(p0, dtype=f64).clone().")
    return None


def _judge_descend(case, args, out):
    g = CHECKED.get("himmelblau_grad")
    if g is None:
        return "descend is checked step by step with your himmelblau_grad." if \
            "himmelblau_grad" in judge.FAILED else (
                "descend is checked step by step with your himmelblau_grad, which has not "
                "passed its test in this notebook yet: run the test cell of part 2, then "
                "this one.")

    def grad(p):
        dx, dy = g(p[0].clone(), p[1].clone())
        return torch.stack([torch.as_tensor(dx, dtype=f64).reshape(()),
                            torch.as_tensor(dy, dtype=f64).reshape(())])
    return judge_path("descend", case, out, grad)


descend = _entry(judge.Part(
    "descend", [{"p0": [0.0, 0.0], "lr": 0.01, "steps": 5},
                {"p0": [0.0, 0.0], "lr": 0.01, "steps": 200, "defaults": True, "goal": 0}],
    _start, _judge_descend, call=_call_path, where=where_start, uses=("himmelblau_grad",),
    done="Part 3: every step of descend is a gradient-descent step, and the default run "
         "ends at (3, 2)."),
    "Check descend(p0, lr, steps) step by step with your himmelblau_grad.")


def judge_optim_calls(out):
    calls = out.get("calls") if isinstance(out, dict) else None
    if not {"backward", "step"} <= set(calls or ()):
        return ("descend_optim must call f.backward() and optimizer.step(): use "
                "torch.optim.SGD.")
    return None


def _judge_optim(case, args, out):
    message = judge_optim_calls(out)
    if message:
        return message
    f = CHECKED.get("himmelblau")
    if f is None:
        return ("descend_optim is checked step by step with autograd's gradient of your "
                "himmelblau." if "himmelblau" in judge.FAILED else
                "descend_optim is checked step by step with autograd's gradient of your "
                "himmelblau, which has not passed its test in this notebook yet: run the "
                "test cell of part 1, then this one.")
    return judge_path("descend_optim", case, out,
                      lambda p: autograd_partials(f, p[0], p[1]))


descend_optim = _entry(judge.Part(
    "descend_optim", [{"p0": [0.0, 0.0], "lr": 0.01, "steps": 5},
                      {"p0": [0.0, 0.0], "lr": 0.01, "steps": 200, "goal": 0}],
    _start, _judge_optim, call=_call_optim, where=where_start, uses=("himmelblau",),
    by_hand=False, must_use=("backward", "step"),
    done="Part 4: torch.optim.SGD takes the same gradient-descent steps."),
    "Check descend_optim(p0, lr, steps) step by step with autograd's gradient of your "
    "himmelblau.")
