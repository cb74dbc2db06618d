"""The catalogue of problem set 3, entry by entry (as test_mistakes.py for the others): does
each typical wrong answer get its own name, and is no entry the right answer or a copy of
another? The right answers come from autograd (the checks' `derivative` and `local`)."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "notebooks"))
import mistakes
import torch
from compare import close, verdict

f64 = torch.float64


def _check():
    """The ps3 checks (check.py), imported from the assignment's folder."""
    saved = sys.path[:]
    sys.path.insert(0, str(ROOT / "source" / "ps3_chain_rule"))
    try:
        sys.modules.pop("check", None)
        import check
    finally:
        sys.path[:] = saved
        sys.modules.pop("check", None)
    return check


def _catalogues():
    check = _check()
    g = torch.Generator().manual_seed(3)
    x, w, b, w2, b2 = (torch.randn(7, generator=g, dtype=f64) for _ in range(5))
    z = w * x + b
    out = [("mistakes_dsigmoid_dw",
            check.derivative(lambda x, w, b: torch.sigmoid(w * x + b), [x, w, b], wrt=1),
            mistakes.mistakes_dsigmoid_dw(x, w, z, check.derivative(torch.sigmoid, [z])))]
    args = [x, w, b, w2, b2]
    grads = [check.derivative(check._y2, args, wrt=k) for k in (1, 2, 3)]
    for name, right, wrong in zip(("dy2/dw1", "dy2/db1", "dy2/dw2"), grads,
                                  mistakes.mistakes_two_layer(x, w, w2, grads)):
        out.append((f"mistakes_two_layer ({name})", right, wrong))
    for name, (u, v, wrong) in check.TWO_PATHS.items():
        right = check.derivative(lambda t, u=u, v=v: u(t) * v(t), [x])
        out.append((name, right, wrong(x, *check._paths(u, v, x))))
    values, c, upstream = [1.3, -0.7], 2.5, 1.7
    for name, op in check.OPS.items():
        for same in (False, True) if op.kind == "binary" else (False,):
            n = 1 if same or op.kind != "binary" else 2
            instr = [name, 0, 0 if same else 1] if op.kind == "binary" else (
                [name, 0, 3 if name == "pow" else c] if op.kind == "number" else [name, 0])
            idx = check.node_operands(instr)
            floats = [values[k] for k in idx] + ([instr[2]] if op.kind == "number" else [])
            right = check.local(name, floats)[1]
            preset = [0.4, -0.9][:n]
            exact = list(preset)
            for k, d in zip(idx, right):
                exact[k] += upstream * d
            label = check.describe(instr, "ab")
            out.append((f"mistakes_op ({label})", torch.tensor(exact, dtype=f64),
                        mistakes.mistakes_op(name, idx, floats, right, upstream, preset, label)))
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
    assert message is not None and f"Most likely: {why}." in message, message


@pytest.mark.parametrize(("name", "right", "entries"), CATALOGUES,
                         ids=[c[0] for c in CATALOGUES])
def test_no_two_mistakes_look_the_same(name, right, entries):
    """Can every entry be told apart from every other entry with another description?"""
    for i, (why_a, a) in enumerate(entries):
        for why_b, b in entries[i + 1:]:
            if why_a != why_b:
                assert not close(a, b), f"{name}: {why_a!r} and {why_b!r} give the same answer"


def test_order_problems_are_named():
    """Each wrong order of the _backward() calls of a small graph gets its own sentence."""
    # n2 = x0 * x1, n3 = n2 + x0, n4 = n3 * n2 (n2 used twice): a valid order is 4, 3, 2
    ops, uses = {2: "mul", 3: "add", 4: "mul"}, {2: [0, 1], 3: [2, 0], 4: [3, 2]}
    assert mistakes.order_problem(ops, uses, [(4, 1.0), (3, 0.5), (2, 0.7)]) is None
    said = {mistakes.order_problem(ops, uses, log) for log in (
        [], [(4, 1.0), (3, 1.0), (2, 1.0), (2, 1.0)], [(4, 0.0), (3, 1.0), (2, 1.0)],
        [(4, 1.0), (3, 1.0)], [(2, 1.0), (3, 1.0), (4, 1.0)], [(4, 1.0), (2, 1.0), (3, 1.0)])}
    assert None not in said and len(said) == 6, said
