"""Due dates and the late policy through the real pipeline (`make grade`'s grade_class):
submissions timestamped before, just after, and days after the due date, as nbgrader's
collect leaves them (timestamp.txt next to the notebook). The course's policy: 10 % of the
score off per started day late, at most 3 days, then 0."""
import csv
import re
from html import unescape

import pytest
from classroom import student_work
from conftest import classgrade, grading, submit

from grader import export

A = "ps1_perceptron"
DUE = "2026-10-05 23:59:00 UTC"
# student: (timestamp, notebook with the sign-flip mistake?, expected fraction of the score)
SUBMISSIONS = {
    "early": ("2026-10-05 22:59:00.000000 UTC", False, 1.0),
    "just-late": ("2026-10-06 00:00:00.000000 UTC", False, 0.9),  # one minute
    "three-days": ("2026-10-08 05:00:00.000000 UTC", False, 0.7),  # 2 days 5 h: 3 started
    "week-late": ("2026-10-12 23:59:00.000000 UTC", False, 0.0),  # beyond 3 days
    "flipped": ("2026-10-05 12:00:00.000000 UTC", True, None),
}


@pytest.fixture(scope="module")
def graded(course_factory, tmp_path_factory):
    course = course_factory(A)
    with (course / "nbgrader_config.py").open("a") as f:
        f.write(f"\nc.LatePolicy.duedates = {{{A!r}: {DUE!r}}}\n")
    for student, (stamp, mistake, _) in SUBMISSIONS.items():
        path = submit(course, A, student, student_work(A, mistake=mistake))
        (path.parent / "timestamp.txt").write_text(stamp)
    lines = []
    failed = classgrade.grade_class(course, A, jobs=2, timeout=40, log=lines.append)
    assert not failed, (failed, lines)
    return course


def test_penalties_follow_the_policy(graded):
    with grading.gradebook(graded) as gb:
        assignment = gb.find_assignment(A)
        assert assignment.duedate.isoformat() == "2026-10-05T23:59:00"
        subs = {s.student.id: s for s in assignment.submissions}
        top = assignment.max_score
        for student, (_, _, fraction) in SUBMISSIONS.items():
            if fraction is None:
                continue
            sub = subs[student]
            assert sub.score == top, (student, sub.score)  # every notebook is correct
            assert top - (sub.late_submission_penalty or 0) == pytest.approx(fraction * top), \
                student
    rows = {r["student_id"]: r for r in csv.DictReader((graded / "grades.csv").open())}
    assert rows["just-late"]["duedate"].startswith("2026-10-05 23:59:00")
    assert float(rows["just-late"]["score"]) == pytest.approx(0.9 * top)
    assert float(rows["week-late"]["score"]) == 0


def _body_text(html):
    body = re.search(r"<body[^>]*>(.*)</body>", html, re.DOTALL).group(1)
    return unescape(re.sub(r"<[^>]+>", " ", body))


def test_feedback_says_it_first(graded):
    def feedback(student):
        return _body_text((graded / "feedback" / student / A / f"{A}.html").read_text())

    just = feedback("just-late")
    said = re.search(r"Submitted (.*?) after the due date \(due 2026-10-05 23:59 UTC\): 1 "
                     r"started day late, ([\d.]+) points? taken off by the late policy\.", just)
    assert said and said.group(1) == "1 min", just[:600]
    first = min(just.find(w) for w in ("ps1", "Perceptron") if w in just)
    assert said.start() < first, "the late note is not at the top of the feedback"
    week = feedback("week-late")
    assert "7 days after the due date" in week and "7 started days late" in week
    assert "after the due date" not in feedback("early")


def test_every_export_shows_the_penalty(graded, tmp_path):
    with grading.gradebook(graded) as gb:
        top = gb.find_assignment(A).max_score
    canvas = export.export(graded, [A], "canvas", dest=tmp_path / "c.csv", log=lambda _: 0)
    rows = {r["Student"]: r for r in csv.DictReader(canvas.open(encoding="utf-8"))}
    for student, (_, _, fraction) in SUBMISSIONS.items():
        if fraction is not None:
            assert float(rows[student][A]) == pytest.approx(fraction * top), student
    moodle = export.export(graded, [A], "moodle", dest=tmp_path / "m.csv", log=lambda _: 0)
    feedback = {r["First name"] or r["Last name"]: r[f"{A} (Feedback)"]
                for r in csv.DictReader(moodle.open(encoding="utf-8"))}
    assert feedback["three-days"].splitlines()[0].startswith(
        "Submitted 2 days 5 h after the due date: 3 started days late")
    assert "the sign is flipped" in feedback["flipped"]  # a named mistake of a real grading
    assert "after the due date" not in feedback["flipped"]
    parts = export.export(graded, [A], "parts", dest=tmp_path / "p.csv", log=lambda _: 0)
    late_rows = {r["student_id"]: r for r in csv.DictReader(parts.open(encoding="utf-8"))
                 if r["part"] == "late"}
    assert set(late_rows) == {"just-late", "three-days", "week-late"}
    assert float(late_rows["three-days"]["points"]) == pytest.approx(-0.3 * top)
