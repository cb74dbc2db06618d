"""The catalogue of mistakes, entry by entry: does each typical wrong answer get its own
name from the check, and is no entry the right answer or a copy of another?

The right answers come from autograd (references.py); each catalogue function builds its
wrong answers from the same inputs (mistakes.py).
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "notebooks"))
import mistakes
import torch
from compare import close, mistake_id, verdict
from references import autograd_mlp, autograd_mse, random_mlp

f64 = torch.float64


def _catalogues():
    """(catalogue name, right answer, [(description, wrong answer)]) for a network whose
    hidden and output layers have 3 nodes each (so W and W.T have the same shape), batch 5."""
    x, t, Ws, bs = random_mlp(7, [4, 3, 3], 5)
    ref = autograd_mlp(x, t, Ws, bs)
    O_j, O_k = ref["O"][1], ref["O"][2]
    d_k, d_j = ref["delta"][1], ref["delta"][0]
    out = [
        ("mistakes_delta_k", d_k, mistakes.mistakes_delta_k(O_k, t)),
        ("mistakes_delta_j", d_j, mistakes.mistakes_delta_j(O_j, d_k, Ws[1], O_k)),
        ("mistakes_grad_W", ref["grad_W"][1], mistakes.mistakes_grad_W(O_j, d_k)),
        ("mistakes_grad_b", ref["grad_b"][1], mistakes.mistakes_grad_b(d_k)),
    ]
    wrong_W, wrong_b = mistakes.mistakes_output_layer(O_j, O_k, t)
    out += [("mistakes_output_layer (grad_W)", ref["grad_W"][1], wrong_W),
            ("mistakes_output_layer (grad_b)", ref["grad_b"][1], wrong_b)]
    x1, t1, (W1,), (b1,) = random_mlp(8, [4, 3], 5)
    O1, grad_mean = autograd_mse(x1, t1, W1, b1)
    out.append(("mistakes_grad_W_mean", grad_mean, mistakes.mistakes_grad_W_mean(x1, O1, t1)))
    grad_W1 = autograd_mlp(x1, t1, [W1], [b1])["grad_W"][0]
    out.append(("mistakes_grad_w_jk", grad_W1[2, 1],
                mistakes.mistakes_grad_w_jk(x1, O1, t1, 2, 1)))
    O_ce, t_ce = ref["O"][2], t  # sigmoid outputs, targets strictly between 0 and 1
    z = torch.logit(O_ce).requires_grad_()
    (d_ce,) = torch.autograd.grad(
        torch.nn.functional.binary_cross_entropy_with_logits(z, t_ce, reduction="sum"), z)
    out.append(("mistakes_delta_k_ce", d_ce, mistakes.mistakes_delta_k_ce(O_ce, t_ce)))
    out.append(("mistakes_cross_entropy",
                torch.nn.functional.binary_cross_entropy(O_ce, t_ce, reduction="sum"),
                mistakes.mistakes_cross_entropy(O_ce, t_ce)))
    return out


CATALOGUES = _catalogues()
ENTRIES = [(name, right, entries, i) for name, right, entries in CATALOGUES
           for i in range(len(entries))]


@pytest.mark.parametrize(("name", "right", "entries", "i"), ENTRIES,
                         ids=[f"{e[0]}-{e[2][e[3]][0][:40]}" for e in ENTRIES])
def test_each_mistake_is_named(name, right, entries, i):
    """Given exactly this wrong answer, does the check fail and name this mistake?"""
    why, wrong = entries[i]
    assert not close(wrong, right), f"{name}: {why!r} is the right answer"
    message = verdict(name, wrong, right, entries)
    assert message is not None, f"{name}: the wrong answer {why!r} passes"
    first = next(w for w, v in entries if close(wrong, v) and mistake_id(w) == mistake_id(why))
    assert str(first) in message.split("Most likely", 1)[-1], f"{name}: {why!r} not named"
    others = {mistake_id(w) for w, v in entries if close(wrong, v)} - {mistake_id(why)}
    assert not others, f"{name}: {why!r} is also named as {others}"


@pytest.mark.parametrize(("name", "right", "entries"), CATALOGUES,
                         ids=[c[0] for c in CATALOGUES])
def test_no_two_mistakes_look_the_same(name, right, entries):
    """Can every entry be told apart from every other entry with another description?"""
    for i, (why_a, a) in enumerate(entries):
        for why_b, b in entries[i + 1:]:
            if mistake_id(why_a) != mistake_id(why_b):
                assert not close(a, b), f"{name}: {why_a!r} and {why_b!r} give the same answer"


def test_the_right_answer_passes():
    """Does the check accept autograd's own answer (the comparison can also pass)?"""
    for name, right, entries in CATALOGUES:
        assert verdict(name, right.clone(), right, entries) is None, name
