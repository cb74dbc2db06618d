"""Exports for the LMS (grader/export.py), read back by parsers written from each format's
documentation, every score round-tripped against the gradebook.

The gradebook is written with nbgrader's Gradebook API (no kernel runs): four students of
ps1, one late, one with a named mistake in an autograded notebook, one not in the roster,
and a roster student who submitted nothing. tests/test_late.py grades real submissions.
"""
import csv
import datetime
import io
import os
import re
import subprocess
import sys
import warnings

import nbformat
import pytest
from conftest import grading, notebook
from sqlalchemy.exc import SAWarning

from grader import export, late
from grader.errors import GraderError

A = "ps1_perceptron"
DUE = datetime.datetime(2026, 10, 5, 23, 59)
MISTAKE = "the sign is flipped: use (O - t), not (t - O)"
# student: ({grade cell: auto score (default: full marks)}, hours late, first, last, email)
GRADED = {
    "alice": ({"test_gradients_hidden": 0.0}, 0, "Zoë", "Ångström", "alice@uni.example"),
    "bob": ({"test_train": 0.0, "test_train_hidden": 0.5}, 30, "Bob", "Brown",
            "bob@uni.example"),
    "dave": ({"test_gradients": 1.5}, 0, "Dave", "Stranger", "dave@uni.example"),
    "erin": ({}, -2, "Erin", "Early", "erin@uni.example"),
}
ROSTER = [  # dave is graded but missing; carol is in the roster but submitted nothing
    ["student_id", "name", "email", "lms_id", "sis_id", "login_id", "section"],
    ["alice", "Zoë Ångström", "alice@uni.example", "101", "S-001", "alice01", "Lab A"],
    ["bob", "Bob Brown", "bob@uni.example", "102", "S-002", "bob02", "Lab B"],
    ["carol", "Carol, Jr. Chen", "carol@uni.example", "103", "S-003", "carol03", "Lab A"],
    ["erin", "Erin Early", "erin@uni.example", "105", "S-005", "erin05", "Lab B"],
]


def _autograded(course, student, failing):
    """An autograded notebook whose grade cell `failing` failed with a named mistake."""
    nb = nbformat.read(notebook("source", A), as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == failing:
            cell.outputs = [nbformat.v4.new_output(
                "error", ename="AssertionError", traceback=[],
                evalue=f"dE/dW (case 2): wrong values, max abs diff 0.5. Most likely: "
                       f"{MISTAKE}. (Tolerance 1e-06 + 1e-05*|expected|.)")]
    path = course / "autograded" / student / A / f"{A}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = grading.new_course(tmp_path_factory.mktemp("export"), [A])
    grading.generate_release(course, A)
    policy = late.LatePolicy()
    with grading.gradebook(course) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's add_submission is noisy
        gb.update_or_create_assignment(A, duedate=DUE)
        for student, (scores, hours, first, last, email) in GRADED.items():
            gb.update_or_create_student(student, first_name=first, last_name=last, email=email)
            sub = gb.add_submission(A, student, timestamp=DUE + datetime.timedelta(hours=hours))
            for nb in sub.notebooks:
                for g in nb.grades:
                    g.auto_score = scores.get(g.name, g.max_score)
            gb.db.commit()
            for nb in sub.notebooks:
                nb.late_submission_penalty = policy.penalty(nb.score, sub.total_seconds_late)
            gb.db.commit()
    _autograded(course, "alice", "test_gradients_hidden")
    with (course / "roster.csv").open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(ROSTER)
    return course


def expected_scores(course):
    """{student: (score after the late penalty, max)} straight from the gradebook."""
    with grading.gradebook(course) as gb:
        return {s.student.id: (s.score - (s.late_submission_penalty or 0), s.max_score)
                for s in gb.find_assignment(A).submissions}


def expected_cells(course):
    with grading.gradebook(course) as gb:
        return {s.student.id: {g.name: (g.score, g.max_score) for nb in s.notebooks
                               for g in nb.grades}
                for s in gb.find_assignment(A).submissions}


# --- parsers written from the formats' documentation ------------------------------------

def read_canvas(path):
    """Canvas's gradebook import: UTF-8 CSV; a header row whose first columns are Student, ID,
    SIS User ID, SIS Login ID and Section, then assignment columns titled "Name" or "Name (id)";
    a row starting "Points Possible" gives each assignment's points; rows of only blanks or
    "Muted" are skipped; every other row is a student and its scores."""
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8"), newline="")))
    header = rows[0]
    assert re.search("Student", header[0]) and re.search("ID", header[1]), header
    assert re.search(r"SIS\s+User\s+ID", header[2]) and re.search(r"SIS\s+Login\s+ID",
                                                                    header[3]), header
    assert re.search("Section", header[4]), header
    titles = [re.fullmatch(r"(.*?)(?: \((\d+)\))?", h).group(1) for h in header[5:]]
    out = {"assignments": titles, "points": {}, "students": []}
    for row in rows[1:]:
        assert len(row) == len(header), row
        if re.search("Points Possible", row[0]):
            out["points"] = {t: float(v) for t, v in zip(titles, row[5:])}
            continue
        if all(c.strip() in ("", "Muted") for c in row):
            continue
        out["students"].append({"name": row[0], "id": row[1], "sis_user_id": row[2],
                                "sis_login_id": row[3], "section": row[4],
                                "scores": {t: float(v) for t, v in zip(titles, row[5:])}})
    return out


def read_moodle(path, identify_by="Email address"):
    """Moodle's CSV grade import: a header row (trimmed), separator ",", encoding UTF-8; the
    user is identified by the column mapped to a user field (here the email address); each
    other column maps to a grade item or to a grade item's feedback; a grade of "-" or "" is
    no grade; numbers use "." as the decimal point."""
    text = path.read_bytes().decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header = [h.strip() for h in rows[0]]
    user = header.index(identify_by)
    people = ("First name", "Last name", "ID number", "Email address")
    items = [h for h in header if h not in people and not h.endswith(" (Feedback)")]
    out = {}
    for row in rows[1:]:
        values = dict(zip(header, row))
        grades = {i: None if values[i].strip() in ("", "-") else float(values[i]) for i in items}
        out[row[user]] = {"values": values, "grades": grades,
                          "feedback": {i: values.get(f"{i} (Feedback)") for i in items}}
    return out


def read_parts(path):
    rows = list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8"), newline="")))
    assert list(rows[0]) == export.PARTS_COLUMNS
    return rows


# --- tests ----------------------------------------------------------------------------------

def test_canvas_round_trips_every_score(course, tmp_path):
    lines = []
    dest = export.export(course, [A], "canvas", dest=tmp_path / "canvas.csv", log=lines.append)
    got = read_canvas(dest)
    assert got["assignments"] == [A]
    scores = expected_scores(course)
    assert got["points"] == {A: next(iter(scores.values()))[1]}
    by_name = {s["name"]: s for s in got["students"]}
    for row in ROSTER[1:]:
        s = by_name.pop(row[1])
        assert (s["id"], s["sis_user_id"], s["sis_login_id"], s["section"]) == \
            (row[3], row[4], row[5], row[6])
        assert s["scores"][A] == pytest.approx(scores.get(row[0], (0.0,))[0], abs=1e-4)
    # the graded student missing from the roster is in the file (no LMS ids) and named
    assert list(by_name) == ["Dave Stranger"]
    assert by_name["Dave Stranger"]["scores"][A] == pytest.approx(scores["dave"][0], abs=1e-4)
    assert by_name["Dave Stranger"]["id"] == ""
    assert any("not in the roster" in ln and "dave (Dave Stranger)" in ln for ln in lines)
    assert any("no submission" in ln and "carol" in ln for ln in lines)
    assert scores["bob"][0] == pytest.approx(6.8)  # 8.5 points, 2 started days late: -20 %


def test_moodle_round_trips_scores_and_names_mistakes_and_lateness(course, tmp_path):
    dest = export.export(course, [A], "moodle", dest=tmp_path / "moodle.csv", log=lambda _: 0)
    got = read_moodle(dest)
    scores = expected_scores(course)
    cells = expected_cells(course)
    assert set(got) == {r[2] for r in ROSTER[1:]} | {"dave@uni.example"}
    for row in ROSTER[1:]:
        assert got[row[2]]["grades"][A] == pytest.approx(scores.get(row[0], (0.0,))[0],
                                                         abs=1e-4)
        assert got[row[2]]["values"]["ID number"] == row[4]
    assert got["dave@uni.example"]["grades"][A] == pytest.approx(scores["dave"][0], abs=1e-4)
    alice = got["alice@uni.example"]
    assert (alice["values"]["First name"], alice["values"]["Last name"]) == ("Zoë", "Ångström")
    lines = alice["feedback"][A].splitlines()
    assert f"gradients: 2/4 - {MISTAKE}" in lines
    # one line per part, each with the part's points
    parts = {export.part_of(g) for g in cells["alice"]}
    assert {ln.split(":")[0] for ln in lines} == parts
    bob = got["bob@uni.example"]["feedback"][A].splitlines()
    assert bob[0].startswith("Submitted 1 day 6 h after the due date") and "2 started days" \
        in bob[0] and "1.7 points taken off" in bob[0], bob[0]
    assert "train: 0.5/2" in bob
    assert got["carol@uni.example"]["feedback"][A] == "No submission."
    erin = got["erin@uni.example"]["feedback"][A]
    assert "after the due date" not in erin  # two hours early


def test_parts_add_up_to_the_scores(course, tmp_path):
    dest = export.export(course, [A], "parts", dest=tmp_path / "parts.csv", log=lambda _: 0)
    rows = read_parts(dest)
    scores, cells = expected_scores(course), expected_cells(course)
    total = {}
    for r in rows:
        total[r["student_id"]] = total.get(r["student_id"], 0.0) + float(r["points"])
    assert total == pytest.approx({s: scores.get(s, (0.0,))[0] for s in
                                   ["alice", "bob", "carol", "erin", "dave"]}, abs=1e-4)
    for r in rows:
        if r["part"] == "late":
            assert r["student_id"] == "bob" and "2 started days" in r["mistakes"]
            continue
        if r["student_id"] == "carol":
            assert (r["visible_points"], r["hidden_points"], r["mistakes"]) == \
                ("0", "0", "no submission")
            continue
        mine = cells[r["student_id"]]
        visible, hidden = mine[f"test_{r['part']}"], mine[f"test_{r['part']}_hidden"]
        assert (float(r["visible_points"]), float(r["visible_max"])) == visible
        assert (float(r["hidden_points"]), float(r["hidden_max"])) == hidden
    gradients = next(r for r in rows if (r["student_id"], r["part"]) == ("alice", "gradients"))
    assert gradients["mistakes"] == MISTAKE


def test_nbgrader_export_plugins_write_the_same_files(course, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(grading.ROOT), "PATH": f"{grading.BIN}:"
           + os.environ.get("PATH", "")}
    for fmt, plugin in (("canvas", "CanvasExport"), ("moodle", "MoodleExport")):
        ours = export.export(course, [A], fmt, dest=tmp_path / f"ours-{fmt}.csv",
                             log=lambda _: 0)
        theirs = tmp_path / f"nbgrader-{fmt}.csv"
        run = subprocess.run([str(grading.BIN / "nbgrader"), "export",
                              f"--exporter=grader.export.{plugin}", "--to", str(theirs)],
                             cwd=course, env=env, capture_output=True, text=True, check=False)
        assert run.returncode == 0, run.stderr[-3000:]
        assert theirs.read_bytes() == ours.read_bytes()


def test_command_line_writes_into_exports(course):
    run = subprocess.run([sys.executable, "-E", "-s", "-m", "grader", "export", A, "--to",
                          "parts", "--course", str(course)], cwd=grading.ROOT,
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (course / "exports" / f"parts-{A}.csv").is_file()
    assert "dave (Dave Stranger)" in run.stdout


@pytest.mark.parametrize("text, says", [
    ("id,name\nalice,Alice\n", "needs a header row with the column student_id"),
    ("student_id,name,grade\nalice,Alice,3\n", "unknown columns: grade"),
    ("student_id,name\nalice,Alice\nalice,Alice again\n", "lists alice twice"),
    ("student_id,name\n,Nobody\n", "has no student_id"),
])
def test_a_bad_roster_is_refused_with_a_sentence(course, tmp_path, text, says):
    roster = tmp_path / "roster.csv"
    roster.write_text(text, encoding="utf-8")
    with pytest.raises(GraderError, match=re.escape(says)):
        export.export(course, [A], "canvas", roster=roster, dest=tmp_path / "x.csv",
                      log=lambda _: 0)
    assert not (tmp_path / "x.csv").exists()


def test_the_late_policy():
    policy = late.LatePolicy(percent_per_day=10, max_days=3)
    assert policy.penalty(8, 0) == 0
    assert policy.penalty(8, 1) == pytest.approx(0.8)  # a second late: a started day
    assert policy.penalty(8, 86400) == pytest.approx(0.8)
    assert policy.penalty(8, 86401) == pytest.approx(1.6)
    assert policy.penalty(8, 3 * 86400) == pytest.approx(2.4)
    assert policy.penalty(8, 3 * 86400 + 1) == 8  # after max_days: 0 left


def test_no_gradebook_is_refused_with_a_sentence(tmp_path):
    with pytest.raises(GraderError, match="No gradebook.db in .*: grade first"):
        export.export(tmp_path, [A], "canvas", log=lambda _: 0)
    assert not (tmp_path / "gradebook.db").exists()
