"""merge (grader/classgrade.py), alone and fast: one Result written into a small gradebook,
autograded/ and feedback/. No kernel, no sandbox, no grading run."""
import datetime

import pytest

from grader import classgrade, report
from grader import course as coursedir
from grader.task import Grades, NotebookGrades, Outcome, Result

A = "a1"


@pytest.fixture
def course(tmp_path):
    """A course whose gradebook knows A: one notebook, two grade cells and a solution cell."""
    with coursedir.gradebook(tmp_path) as gb:
        gb.add_assignment(A)
        gb.add_notebook(A, A)
        for name, points in (("test_f", 2.0), ("test_g", 1.0)):
            gb.add_grade_cell(name, A, A, max_score=points, cell_type="code")
        gb.add_solution_cell("f", A, A)
    return tmp_path


def _result(student="alice", reason=None, scores=(2.0, 0.0), files=True, penalty=None):
    grades = Grades(timestamp="2026-10-05T12:00:00", notebooks={A: NotebookGrades(
        late_submission_penalty=penalty,
        grades={"test_f": {"auto_score": scores[0], "needs_manual_grade": False},
                "test_g": {"auto_score": scores[1], "needs_manual_grade": False}},
        max_scores={"test_f": 2.0, "test_g": 1.0},
        comments={"f": "well done"})})
    return Result(student=student, assignment=A, sha256="ab", ok=not reason, reason=reason,
                  notes=("A note.",), grades=grades, seconds=1.25,
                  autograded={f"{A}.ipynb": b"graded"} if files else {},
                  feedback={f"{A}.html": b"<html>"} if files else {})


def test_merge_writes_grades_files_and_returns_the_outcome(course):
    outcome = classgrade.merge(course, A, _result(penalty=0.5))
    assert outcome == Outcome(sha256="ab", notes=("A note.",), reason=None, seconds=1.25)
    assert report.scores(course, A, "alice") == {"test_f": (2.0, 2.0), "test_g": (0.0, 1.0)}
    assert (course / "autograded" / "alice" / A / f"{A}.ipynb").read_bytes() == b"graded"
    assert (course / "feedback" / "alice" / A / f"{A}.html").read_bytes() == b"<html>"
    with coursedir.gradebook(course) as gb:
        sub = gb.find_submission(A, "alice")
        assert sub.timestamp == datetime.datetime(2026, 10, 5, 12)
        nb = sub.notebooks[0]
        assert nb.late_submission_penalty == 0.5
        assert [c.auto_comment for c in nb.comments] == ["well done"]


def test_a_regrade_replaces_the_grades_and_the_files(course):
    classgrade.merge(course, A, _result())
    (course / "feedback" / "alice" / A / "old.html").write_bytes(b"stale")
    classgrade.merge(course, A, _result(scores=(0.0, 1.0)))
    assert report.scores(course, A, "alice") == {"test_f": (0.0, 2.0), "test_g": (1.0, 1.0)}
    assert sorted(p.name for p in (course / "feedback" / "alice" / A).iterdir()) == \
        [f"{A}.html"]


def test_a_failed_result_is_recorded_to_be_graded_again(course):
    """A result with a reason keeps the files of the last grading it has none of, and its
    outcome has no content hash (the next run grades it again)."""
    classgrade.merge(course, A, _result())
    failed = _result(reason="feedback failed: X", files=False)
    assert classgrade.merge(course, A, failed) == Outcome(
        sha256=None, notes=("A note.",), reason="feedback failed: X", seconds=1.25)
    assert (course / "feedback" / "alice" / A / f"{A}.html").read_bytes() == b"<html>"


def test_a_result_without_grades_writes_no_submission(course):
    result = Result(student="bob", assignment=A, sha256="cd", reason="grading failed: X")
    assert classgrade.merge(course, A, result).reason == "grading failed: X"
    with coursedir.gradebook(course) as gb:
        assert [s.student.id for s in gb.find_assignment(A).submissions] == []
    assert not (course / "autograded").exists() and not (course / "feedback").exists()
