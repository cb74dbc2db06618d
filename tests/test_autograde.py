"""The real nbgrader pipeline: the instructor's version scores full marks, the
untouched student version scores zero, on every grade cell (assignments with a zoo are
held to the same by the zoo's `correct` and `untouched` kinds, graded once there)."""
import pytest
import zoo
from conftest import ASSIGNMENTS, classgrade, notebook, submit


def test_every_zoo_has_a_correct_and_an_untouched_kind():
    for a, kinds in zoo.ZOOS.items():
        assert any(k.base == "source" and not k.steps and not k.lose for k in kinds), a
        assert any(k.base == "release" and not k.steps and k.lose == zoo.ALL for k in kinds), a


@pytest.mark.parametrize("a", [a for a in ASSIGNMENTS if a not in zoo.ZOOS])
def test_source_scores_full_marks_and_release_scores_zero(a, course_factory):
    course = course_factory(a)
    submit(course, a, "instructor", notebook("source", a))
    submit(course, a, "untouched", course / "release" / a / f"{a}.ipynb")
    assert classgrade.grade_class(course, a, jobs=2, log=lambda _: None) == {}
    full = classgrade.scores(course, a, "instructor")
    zero = classgrade.scores(course, a, "untouched")
    assert full and set(full) == set(zero)
    assert len(full) >= 6, f"{a} has only {len(full)} grade cells"
    for cell, (score, max_score) in full.items():
        assert max_score > 0
        assert score == max_score, f"source: {cell} scored {score}/{max_score}"
    for cell, (score, max_score) in zero.items():
        assert score == 0, f"untouched release: {cell} scored {score}/{max_score}"
