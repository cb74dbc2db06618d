"""Grader-only data of problem set 5 (never shipped to students): the hidden cases, and the
judges of all four parts, which need f itself (the answer to part 1), so they live here.

Each judge is check.py's, with the grader's own f where the student's kernel uses the
student's checked functions: f's values and brackets (part 1), autograd's gradient of f
(part 2; every mistake named, "only the first square" too), and each step of a path checked
with autograd's gradient of f (parts 3 and 4)."""
import check  # the course's copy: the grader imports this module after it
import torch
from compare import verdict

f64 = torch.float64
MINIMA = [list(m) for m in check.MINIMA]

HIDDEN = {
    "himmelblau": [{"seed": 510 + s, "shape": shape}
                   for s, shape in enumerate([[1], [7], [3, 4], [2, 3, 5]])]
    + [{"points": MINIMA, "minima": True}],
    "himmelblau_grad": [{"seed": 520 + s, "shape": shape}
                        for s, shape in enumerate([[1], [9], [4, 5], [2, 2, 3]])]
    + [{"points": MINIMA, "minima": True}],
    "descend": [{"p0": p0, "lr": lr, "steps": steps}
                for p0, lr, steps in [([1.0, -1.0], 0.005, 7), ([-4.0, 4.5], 0.01, 3),
                                      ([2.0, 5.0], 0.002, 1)]]
    # one start in each basin: each of the four minima is reached
    + [{"p0": p0, "lr": 0.01, "steps": 300, "goal": goal}
       for goal, p0 in enumerate([[1.0, 1.0], [-2.0, 2.0], [-3.0, -3.0], [3.0, -3.0]])],
    "descend_optim": [{"p0": p0, "lr": lr, "steps": steps}
                      for p0, lr, steps in [([1.0, -1.0], 0.005, 7), ([-4.0, 4.5], 0.01, 3),
                                            ([2.0, 5.0], 0.002, 1)]]
    + [{"p0": [-3.0, -3.0], "lr": 0.01, "steps": 300, "goal": 2},
       {"p0": [-2.0, 2.0], "lr": 0.01, "steps": 300, "goal": 1},
       {"p0": [1.0, 1.0], "lr": 0.01, "steps": 4, "tensor": True}],  # p0 left unchanged?
}


def f(x, y):
    """Himmelblau's function."""
    return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


def brackets(x, y):
    return x**2 + y - 11, x + y**2 - 7


def gradient(p):
    """autograd's gradient of f at the point p, shape (2,)."""
    return check.autograd_partials(f, p[0], p[1])


def _himmelblau(case, args, out):
    x, y = args
    message = check.judge_minima(case, args, out) if case.get("minima") else None
    return message or verdict("himmelblau(x, y)", out, f(x, y),
                              check.mistakes_f(*brackets(x, y)), check.where_points(case))


def _himmelblau_grad(case, args, out):
    x, y = args
    a, c = brackets(x, y)
    right = check.autograd_partials(f, x, y)
    mistakes = check.mistakes_grad(right, a, c) + [
        ("only the first square was differentiated: f has two terms, add both",
         torch.stack([4 * x * a, 2 * a]))]
    return check.judge_grad(case, args, out, right, mistakes)


def _descend(case, args, out):
    return check.judge_path("descend", case, out, gradient)


def _descend_optim(case, args, out):
    return check.judge_optim_calls(out) or check.judge_path("descend_optim", case, out,
                                                             gradient)


JUDGES = {"himmelblau": _himmelblau, "himmelblau_grad": _himmelblau_grad,
          "descend": _descend, "descend_optim": _descend_optim}
