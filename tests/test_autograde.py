"""The real nbgrader pipeline: the instructor's version scores full marks, the
untouched student version scores zero, on every grade cell."""
import pytest
from conftest import ASSIGNMENTS, grading, notebook, submit


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_source_scores_full_marks_and_release_scores_zero(a, course_factory):
    course = course_factory(a)
    submit(course, a, "instructor", notebook("source", a))
    submit(course, a, "untouched", course / "release" / a / f"{a}.ipynb")
    for student in ("instructor", "untouched"):
        assert grading.autograde(course, a, student) is None, f"{student} did not grade"
    full = grading.scores(course, a, "instructor")
    zero = grading.scores(course, a, "untouched")
    assert full and set(full) == set(zero)
    assert len(full) >= 6, f"{a} has only {len(full)} grade cells"
    for cell, (score, max_score) in full.items():
        assert max_score > 0
        assert score == max_score, f"source: {cell} scored {score}/{max_score}"
    for cell, (score, max_score) in zero.items():
        assert score == 0, f"untouched release: {cell} scored {score}/{max_score}"
