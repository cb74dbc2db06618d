"""What a student sees: running the visible tests of the release notebook, with a
wrong answer filled in, names the mistake in the failing test's output."""
import shutil

import pytest
import zoo
from conftest import grading, notebook
from nbclient import NotebookClient

CASES = [(zoo.PS1, "sign-flipped", "test_gradients"),
         (zoo.PS4, "ps4-W-not-transposed", "test_delta_j"),
         (zoo.PS4, "ps4-sigma-prime-missing", "test_delta_k")]


@pytest.mark.parametrize(("a", "name", "test_id"), CASES)
def test_visible_test_names_the_mistake(a, name, test_id, tmp_path):
    kind = next(k for k in zoo.ZOOS[a] if k.name == name)
    answers = {c.id: c.source for c in kind.build(zoo.read(notebook("source", a))).cells}
    nb = zoo.read(notebook("release", a))
    for cell in nb.cells:  # the student types the (wrong) answers into the release
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = answers[cell.id]  # the markers are only comments
    for helper in (grading.ROOT / "release" / a).glob("*.py"):
        shutil.copy(helper, tmp_path)
    NotebookClient(nb, timeout=120, allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    test = next(c for c in nb.cells if c.id == test_id)
    errors = [o for o in test.outputs if o.output_type == "error"]
    assert errors, f"{test_id} passed a wrong answer"
    said = errors[0].evalue
    assert "Most likely: " + kind.says[0] in said, said
    assert "max abs diff" in said or "shape" in said, said


RULES = [("imports-os-in-graded-code", "test_gradients", "import os"),
         ("needs-a-left-out-statement", "test_train",
          "uses HALF, set by a statement that does not run when your work is graded"),
         ("tensor-method-at-top-level", "test_gradients",
          "uses .bp_gradients, set by a statement that does not run when"),
         ("getattr-as-a-value", "test_gradients", "getattr passed as a value")]


@pytest.mark.parametrize(("name", "test_id", "said"), RULES)
def test_visible_test_applies_the_graders_rule(name, test_id, said, tmp_path):
    """Does a student's own run refuse what grading refuses (the by-hand rule, and what
    only runs outside the definitions), with the same sentence, before being graded?"""
    a = zoo.PS1
    kind = next(k for k in zoo.ZOOS[a] if k.name == name)
    nb = kind.build(zoo.read(notebook("source", a)))
    for helper in (grading.ROOT / "release" / a).glob("*.py"):
        shutil.copy(helper, tmp_path)
    NotebookClient(nb, timeout=120, allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    test = next(c for c in nb.cells if c.id == test_id)
    errors = [o.evalue for o in test.outputs if o.output_type == "error"]
    assert errors and said in errors[0], errors
