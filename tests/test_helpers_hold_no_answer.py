"""The shipped helpers hold no answer: does any public function of any file shipped with an
assignment, called in place of a graded function (delegation), pass that part's check?

Every part is judged as the grader judges it (with the grader-only referee's judges), on
its own cases and on the hidden ones. The grader also refuses delegation by reading the
notebook (see the zoo's delegates-to-helpers kinds); this test shows that, even without
that rule, no helper would score.
"""
import inspect
import sys

import pytest
from conftest import ASSIGNMENTS, grading

from grader import verdict


def _parts(a):
    folder = grading.ROOT / "source" / a
    check, referee, judge = verdict.load(folder)
    parts = []
    for name in dir(check):
        part = getattr(getattr(check, name), "part", None)
        if isinstance(part, judge.Part):
            if referee is not None and name in getattr(referee, "JUDGES", {}):
                part = judge.Part(**{**vars(part), "judge": referee.JUDGES[name]})
            cases = part.cases + getattr(referee, "HIDDEN", {}).get(name, [])
            parts.append((part, cases))
    return parts, judge


def _helpers(a):
    """(module file, function name, function) of every public function of every shipped
    module (a copy of each is loaded with the assignment's check)."""
    folder = grading.ROOT / "release" / a
    out = []
    saved = sys.path[:]
    sys.path.insert(0, str(folder))
    names = [p.stem for p in sorted(folder.glob("*.py"))]
    try:
        for stem in names:
            sys.modules.pop(stem, None)
        for stem in names:
            module = __import__(stem)
            for name, fn in vars(module).items():
                if not name.startswith("_") and callable(fn) and not inspect.isclass(fn) \
                        and getattr(fn, "__module__", None) == stem:
                    out.append((f"{stem}.py", name, fn))
    finally:
        sys.path[:] = saved
        for stem in names:
            sys.modules.pop(stem, None)
    return out


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_no_helper_passes_a_graded_part(a):
    """Called in place of each graded function, on every case, does every helper fail?"""
    parts, judge = _parts(a)
    helpers = _helpers(a)
    assert parts and helpers, f"{a}: no parts or no helpers found"
    passed = []
    for part, cases in parts:
        for where, name, fn in helpers:
            answers = {}
            for i, case in enumerate(cases):
                def delegate(*args, fn=fn, **kwargs):
                    return fn(*args, **kwargs)
                answers[i] = judge.answer(part, delegate, case)
            if judge.judge_answers(part, cases, answers) is None:
                passed.append(f"{part.name} <- {where}:{name}")
    assert not passed, f"{a}: shipped helpers that pass a graded part: {passed}"


def test_the_diagnosis_never_prints_the_right_answer():
    """Does the diagnosis beyond the catalogue (a factor everywhere, per row or column, the
    rows that differ) say how an answer differs without printing any of autograd's values?"""
    import importlib

    import torch
    saved = sys.path[:]
    sys.path.insert(0, str(grading.ROOT / "notebooks"))
    try:
        sys.modules.pop("compare", None)
        compare = importlib.import_module("compare")
    finally:
        sys.path[:] = saved
        sys.modules.pop("compare", None)
    g = torch.Generator().manual_seed(0)
    right = torch.randn(4, 3, generator=g, dtype=torch.float64)
    one_row = right.clone()
    one_row[1] += 0.5
    wrongs = {"factor": 2 * right, "sign": -right, "column-factors":
              right * torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64),
              "one-row": one_row}
    shown = {f(v) for v in right.reshape(-1).tolist() for f in (
        "{:.3g}".format, "{:.4g}".format, "{:.6g}".format, "{:.2f}".format)}
    for what, wrong in wrongs.items():
        message = compare.verdict("x", wrong, right)
        assert message and "autograd's" in message, (what, message)
        leaked = [s for s in shown if s in message]
        assert not leaked, f"{what}: the message shows autograd's values {leaked}: {message}"
