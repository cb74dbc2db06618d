"""The zoo of ps4_mlp_backprop: its kinds of submission (see zoo.py for what a kind is)."""
from zoo import ALL, Kind, edit

# --- ps4_mlp_backprop: the named mistakes of the deltas and gradients ---------

A = "ps4_mlp_backprop"
K4, J4, L4 = ("test_delta_k", "test_delta_k_hidden"), ("test_delta_j", "test_delta_j_hidden"), \
    ("test_layer_grads", "test_layer_grads_hidden")
B4, T4 = ("test_backward", "test_backward_hidden"), ("test_train", "test_train_hidden")
DK = "    return O_k * (1 - O_k) * (O_k - t)"

KINDS = [
    Kind("ps4-correct", "source"),
    Kind("ps4-untouched", "release", lose=ALL),
    Kind("ps4-sigma-prime-missing", "source", [edit("delta_k", DK, "    return O_k - t")],
         lose={*K4, *B4, *T4}, says=("the sigmoid derivative O*(1-O) is missing",)),
    Kind("ps4-sign-flipped", "source",
         [edit("delta_k", DK, "    return O_k * (1 - O_k) * (t - O_k)")],
         lose={*K4, *B4, *T4}, says=("the sign is flipped",)),
    Kind("ps4-mean-not-sum", "source", [edit("delta_k", DK, DK + " / O_k.shape[0]")],
         lose={*K4, *B4, *T4}, says=("the loss was averaged",)),
    Kind("ps4-batch-summed-away", "source", [edit("delta_k", DK, "    return (O_k * (1 - O_k) * (O_k - t)).sum(0, keepdim=True)")],
         lose={*K4, *B4, *T4}, says=("the batch dimension was summed away",)),
    Kind("ps4-W-not-transposed", "source",
         [edit("delta_j", "(delta_k @ W.T)", "(delta_k @ W)")],
         lose={*J4, *B4, *T4}, says=("W was used where W.T is needed",)),
    Kind("ps4-grad-W-transposed", "source",
         [edit("layer_grads", "return O_prev.T @ delta,", "return delta.T @ O_prev,")],
         lose={*L4, *B4, *T4}, says=("the result is transposed",)),
    Kind("ps4-bias-not-summed", "source", [edit("layer_grads", "delta.sum(0)", "delta")],
         lose={*L4, *B4, *T4}, says=("the batch dimension was kept",)),
    Kind("ps4-output-activations-in-delta-j", "source",
         [edit("backward", "delta_j(Os[l], delta, Ws[l])", "delta_j(Os[l + 1], delta, Ws[l])")],
         lose={*B4, *T4}, says=("activations were used in delta_j",)),
    Kind("ps4-delta-j-uses-autograd", "source",
         [edit("delta_j", "    return (delta_k @ W.T) * O_j * (1 - O_j)",
               "    z = torch.logit(O_j).requires_grad_()\n"
               "    torch.sigmoid(z).backward(delta_k @ W.T)\n    return z.grad")],
         lose={*J4, *B4, *T4}, says=("uses autograd",)),
]
