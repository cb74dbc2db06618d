"""The real nbgrader pipeline: every assignment has a zoo, and its `correct` and `untouched`
kinds hold the instructor's version to full marks and the untouched student version to
zero on every grade cell (tests/zootests.py grades them through `make grade`'s code)."""
import zoo
from conftest import ASSIGNMENTS


def test_every_assignment_has_a_zoo_with_a_correct_and_an_untouched_kind():
    assert set(zoo.ZOOS) == set(ASSIGNMENTS), "an assignment has no zoo (tests/zoo_<ps>.py)"
    for a, kinds in zoo.ZOOS.items():
        assert any(k.base == "source" and not k.steps and not k.lose for k in kinds), a
        assert any(k.base == "release" and not k.steps and k.lose == zoo.ALL for k in kinds), a
