"""The zoo of ps5_himmelblau: its kinds of submission (see zoo.py for what a kind is)."""
from zoo import ALL, Kind, edit

# --- ps5_himmelblau: the gradient by hand, and gradient descent ----------------

A = "ps5_himmelblau"
G5 = ("test_himmelblau_grad", "test_himmelblau_grad_hidden")
D5 = ("test_descend", "test_descend_hidden")
O5 = ("test_descend_optim", "test_descend_optim_hidden")
GRAD5 = "    return 4 * x * a + 2 * c, 2 * a + 4 * y * c"

KINDS = [
    Kind("ps5-correct", "source"),
    Kind("ps5-untouched", "release", lose=ALL),
    Kind("ps5-factor-2-missing", "source",
         [edit("himmelblau_grad", GRAD5, "    return 2 * x * a + c, a + 2 * y * c")],
         lose={*G5, *D5}, says=("the factor 2 of the square is missing",)),
    Kind("ps5-sign-flipped", "source",
         [edit("himmelblau_grad", GRAD5, "    return -(4 * x * a + 2 * c), -(2 * a + 4 * y * c)")],
         lose={*G5, *D5}, says=("the sign is flipped",)),
    Kind("ps5-swapped-partials", "source",
         [edit("himmelblau_grad", GRAD5, "    return 2 * a + 4 * y * c, 4 * x * a + 2 * c")],
         lose={*G5, *D5}, says=("the partials are swapped",)),
    Kind("ps5-gradient-ascent", "source",
         [edit("descend", "p = p - lr * torch.stack", "p = p + lr * torch.stack")],
         lose=set(D5), says=("that is gradient ascent",)),
    Kind("ps5-no-zero-grad", "source",
         [edit("descend_optim", "        optimizer.zero_grad()\n", "")],
         lose=set(O5), says=("the gradients accumulate from step to step",)),
]
