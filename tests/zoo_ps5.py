"""The zoo of ps5_himmelblau: its kinds of submission (see zoo.py for what a kind is)."""
from zoo import ALL, Kind, append, edit, insert, replace_source

# --- ps5_himmelblau: the gradient by hand, and gradient descent ----------------

A = "ps5_himmelblau"
H5 = ("test_himmelblau", "test_himmelblau_hidden")
G5 = ("test_himmelblau_grad", "test_himmelblau_grad_hidden")
D5 = ("test_descend", "test_descend_hidden")
O5 = ("test_descend_optim", "test_descend_optim_hidden")
F5 = "    return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2"
GRAD5 = "    return 4 * x * a + 2 * c, 2 * a + 4 * y * c"
BODY5 = "    a = x**2 + y - 11\n    c = x + y**2 - 7\n" + GRAD5
STEP5 = "        p = p - lr * torch.stack([df_dx, df_dy])"
SIGN5 = edit("himmelblau_grad", GRAD5, "    return -(4 * x * a + 2 * c), -(2 * a + 4 * y * c)")

# a gradient that computes nothing: it returns whatever pair of tensors shaped like x it
# finds in its callers' frames (there is none to find: the right answer is computed by
# the grader, outside the notebook), else zeros
PEEK5 = '''    import inspect
    import sys

    frames, frame = [inspect.currentframe()], sys._getframe(1)
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    for frame in frames:
        for value in list(frame.f_locals.values()):
            if (isinstance(value, (tuple, list)) and len(value) == 2 and value[0] is not x
                    and all(isinstance(v, torch.Tensor) and v.shape == x.shape for v in value)):
                return value[0], value[1]
            if isinstance(value, torch.Tensor) and value.shape == (2, *x.shape):
                return value[0], value[1]
    return torch.zeros_like(x), torch.zeros_like(y)'''

# public torch functions a check might use, made to lie (with a wrong gradient above)
PATCH5 = '''import torch

_sub = torch.Tensor.__sub__


def _always(*args, **kwargs):
    return True


def _sub_that_lies(a, b):
    both = isinstance(b, torch.Tensor) and a.dim() >= 2 and a.shape == b.shape
    return _sub(a, b) * 0 if both else _sub(a, b)


torch.allclose = torch.equal = _always
torch.isclose = lambda a, b, *args, **kwargs: torch.ones_like(a, dtype=torch.bool)
torch.testing.assert_close = lambda *args, **kwargs: None
torch.Tensor.tolist = lambda self: [0.0] * self.numel()
torch.Tensor.abs = lambda self: self * 0
torch.Tensor.max = lambda self, *args, **kwargs: self.sum() * 0
torch.Tensor.__sub__ = _sub_that_lies
print("torch patched")'''

# a last cell that prints the kernel's history and its callers' source
HISTORY5 = '''import inspect

print("HISTORY of this kernel:")
for source in In:
    print(source)
for info in inspect.stack():
    print(info.filename, info.lineno, "".join(info.code_context or []))'''

KINDS = [
    Kind("ps5-correct", "source"),
    Kind("ps5-untouched", "release", lose=ALL, says=("himmelblau is not done yet",)),
    # part 1: the function
    Kind("ps5-squares-missing", "source",
         [edit("himmelblau", F5, "    return (x**2 + y - 11) + (x + y**2 - 7)")],
         lose={*H5, *O5}, says=("the squares are missing", "fix himmelblau first")),
    Kind("ps5-brackets-multiplied", "source",
         [edit("himmelblau", F5, "    return (x**2 + y - 11) * (x + y**2 - 7)")],
         lose={*H5, *O5}, says=("the two brackets were multiplied",)),
    Kind("ps5-sum-squared", "source",
         [edit("himmelblau", F5, "    return ((x**2 + y - 11) + (x + y**2 - 7)) ** 2")],
         lose={*H5, *O5}, says=("the sum of the brackets was squared",)),
    # part 2: the gradient
    Kind("ps5-factor-2-missing", "source",
         [edit("himmelblau_grad", GRAD5, "    return 2 * x * a + c, a + 2 * y * c")],
         lose={*G5, *D5}, says=("the factor 2 of the square is missing",)),
    Kind("ps5-sign-flipped", "source", [SIGN5],
         lose={*G5, *D5}, says=("the sign is flipped", "fix himmelblau_grad first")),
    Kind("ps5-swapped-partials", "source",
         [edit("himmelblau_grad", GRAD5, "    return 2 * a + 4 * y * c, 4 * x * a + 2 * c")],
         lose={*G5, *D5}, says=("the partials are swapped",)),
    Kind("ps5-inner-derivative-missing", "source",
         [edit("himmelblau_grad", GRAD5, "    return 2 * a + 2 * c, 2 * a + 2 * c")],
         lose={*G5, *D5}, says=("the inner derivative is missing",)),
    Kind("ps5-only-first-square", "source",
         [edit("himmelblau_grad", GRAD5, "    return 4 * x * a, 2 * a")],
         lose={*G5, *D5}, says=("only the first square was differentiated",)),
    Kind("ps5-grad-uses-autograd", "source",
         [edit("himmelblau_grad", BODY5,
               "    x = x.clone().requires_grad_()\n    y = y.clone().requires_grad_()\n"
               "    return torch.autograd.grad(himmelblau(x, y).sum(), (x, y))")],
         lose=set(G5), says=("uses autograd",)),
    # part 3: gradient descent by hand
    Kind("ps5-gradient-ascent", "source",
         [edit("descend", "p = p - lr * torch.stack", "p = p + lr * torch.stack")],
         lose=set(D5), says=("that is gradient ascent",)),
    Kind("ps5-lr-missing", "source",
         [edit("descend", "p = p - lr * torch.stack", "p = p - torch.stack")],
         lose=set(D5), says=("the learning rate is missing",)),
    Kind("ps5-point-not-updated", "source",
         [edit("descend", STEP5, "        p - lr * torch.stack([df_dx, df_dy])")],
         lose=set(D5), says=("the point did not move",)),
    Kind("ps5-in-place-update", "source",
         [edit("descend", STEP5, "        p -= lr * torch.stack([df_dx, df_dy])")],
         lose=set(D5), says=("every row of the path is the same point",)),
    Kind("ps5-start-missing", "source", [edit("descend", "    path = [p]\n", "    path = []\n")],
         lose=set(D5), says=("the start point is missing",)),
    Kind("ps5-one-step-too-many", "source",
         [edit("descend", "for _ in range(steps):", "for _ in range(steps + 1):")],
         lose=set(D5), says=("one step too many",)),
    Kind("ps5-one-step-too-few", "source",
         [edit("descend", "for _ in range(steps):", "for _ in range(steps - 1):")],
         lose=set(D5), says=("one step too few",)),
    Kind("ps5-float32-path", "source",
         [edit("descend", "torch.as_tensor(p0, dtype=f64).clone()", "torch.tensor(p0)")],
         lose=set(D5), says=("expected torch.float64",)),
    # part 4: torch.optim
    Kind("ps5-no-zero-grad", "source",
         [edit("descend_optim", "        optimizer.zero_grad()\n", "")],
         lose=set(O5), says=("the gradients accumulate from step to step",)),
    Kind("ps5-optim-lr-missing", "source",
         [edit("descend_optim", "torch.optim.SGD([p], lr=lr)", "torch.optim.SGD([p], lr=1.0)")],
         lose=set(O5), says=("the learning rate is missing",)),
    Kind("ps5-optim-changes-p0", "source",
         [edit("descend_optim", "torch.as_tensor(p0, dtype=f64).clone().requires_grad_()",
               "torch.as_tensor(p0, dtype=f64).requires_grad_()")],
         lose={"test_descend_optim_hidden"}, says=("changed p0 in place",)),
    Kind("ps5-optim-without-optimizer", "source",
         [replace_source("descend_optim", "def descend_optim(p0, lr=0.01, steps=200):\n"
                         "    return descend(p0, lr, steps)  # the same path, no torch.optim")],
         lose=set(O5), says=("descend_optim must use .backward(), .step() itself",)),
    # what every assignment's zoo has: delegation, peeking, patching, printing the history
    Kind("ps5-delegates-to-helpers", "source",
         [edit("himmelblau_grad", BODY5,
               "    import check\n\n    df = check.autograd_partials(himmelblau, x, y)\n"
               "    return df[0], df[1]")],
         lose=set(G5), says=("the course's checks",)),
    Kind("ps5-frame-peeking", "source", [edit("himmelblau_grad", BODY5, PEEK5)],
         lose={*G5, *D5}, says=("introspection",)),
    Kind("ps5-patches-torch", "source", [SIGN5, insert("himmelblau_grad", PATCH5)],
         lose={*G5, *D5}, says=("the sign is flipped", "torch patched")),
    Kind("ps5-prints-history", "source", [append(HISTORY5)],
         says=("HISTORY of this kernel",), never=("hidden=True",)),
]
