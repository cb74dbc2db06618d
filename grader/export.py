"""Grades for the course's LMS, from the gradebook: Canvas, Moodle, and one row per part.

    python -m grader export A [A ...] --to canvas|moodle|parts [--roster roster.csv] [--out F]
    nbgrader export --exporter=grader.export.CanvasExport   (MoodleExport, PartsExport)

- `canvas`: Canvas's gradebook CSV (Grades > Import): a header row `Student, ID, SIS User ID,
  SIS Login ID, Section`, then one column per assignment (titled with the assignment's name,
  which Canvas matches to an assignment of that title or creates), a `Points Possible` row,
  then one row per student. Canvas finds a student by ID, then SIS User ID, then SIS Login ID,
  then name. UTF-8, comma-separated.
- `moodle`: Moodle's CSV grade import (Grades > Import > CSV file): a header row, then one row
  per student: `First name, Last name, ID number, Email address`, and per assignment a grade
  column and a feedback column (`<assignment> (Feedback)`) holding one line per part (its
  points and its named mistake) and the late penalty. In Moodle's mapping step, identify users
  by "Email address" (or "ID number") and map each column to its grade item or its feedback.
  UTF-8, comma-separated, "." as the decimal point.
- `parts`: one row per student, assignment and part: visible and hidden points, their maxima,
  the named mistakes; a `late` row holds the late penalty (as negative points), so a student's
  points add up to the score.

A roster (CSV with a header; `student_id` is nbgrader's id and the only required column;
`name, email, lms_id, sis_id, login_id, section` are optional) maps ids to the LMS: `lms_id` is
Canvas's numeric user ID, `sis_id` the SIS user ID (Moodle's "ID number"), `login_id` the SIS
login ID. A student of the roster with no submission gets 0 and is listed; a graded student
missing from the roster is still exported (with the LMS ids empty) and named in the summary.
Every score is the score after the late penalty.
"""
import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.plugins import ExportPlugin
from traitlets import Unicode

from grader import late, report
from grader.errors import GraderError

FORMATS = ("canvas", "moodle", "parts")
ROSTER_COLUMNS = ("student_id", "name", "email", "lms_id", "sis_id", "login_id", "section")
CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_COLUMNS = ["First name", "Last name", "ID number", "Email address"]
PARTS_COLUMNS = ["student_id", "name", "assignment", "part", "visible_points", "visible_max",
                 "hidden_points", "hidden_max", "points", "max_points", "mistakes"]


class RosterError(ValueError):
    """The roster cannot be read; the message says what to fix."""


@dataclass
class Part:
    name: str
    visible: float = 0.0
    visible_max: float = 0.0
    hidden: float = 0.0
    hidden_max: float = 0.0
    mistakes: list = field(default_factory=list)


@dataclass
class Result:
    """One student's result on one assignment (`submitted` False: no submission, 0 points)."""
    submitted: bool
    score: float  # after the late penalty
    max_score: float
    penalty: float = 0.0
    seconds_late: float = 0.0
    parts: dict = field(default_factory=dict)

    def late_line(self):
        return late.describe(self.seconds_late, self.penalty)


@dataclass
class Student:
    student_id: str
    name: str = ""
    email: str = ""
    lms_id: str = ""
    sis_id: str = ""
    login_id: str = ""
    section: str = ""
    in_roster: bool = True
    results: dict = field(default_factory=dict)  # assignment -> Result


def part_of(grade_id):
    """The part a grade cell checks: test_gradients and test_gradients_hidden -> gradients."""
    return grade_id.removeprefix("test_").removesuffix("_hidden")


def read_roster(path):
    """{student_id: Student} from a roster CSV (UTF-8, a spreadsheet's byte-order mark allowed)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as err:
        raise RosterError(f"The roster {path} cannot be read ({err.strerror}); give the path of "
                          "a CSV file with a header row starting with student_id.") from err
    except UnicodeDecodeError as err:
        raise RosterError(f"The roster {path} is not UTF-8 text; save it as 'CSV UTF-8'.") \
            from err
    rows = list(csv.reader(io.StringIO(text)))
    header = [h.strip() for h in rows[0]] if rows else []
    unknown = [h for h in header if h not in ROSTER_COLUMNS]
    if "student_id" not in header or unknown:
        raise RosterError(
            f"The roster {path} needs a header row with the column student_id (nbgrader's id) "
            f"and optionally {', '.join(ROSTER_COLUMNS[1:])}"
            + (f"; it has unknown columns: {', '.join(unknown)}." if unknown else "."))
    roster = {}
    for n, row in enumerate(rows[1:], start=2):
        if not any(v.strip() for v in row):
            continue
        values = dict(zip(header, (v.strip() for v in row)))
        sid = values.get("student_id", "")
        if not sid:
            raise RosterError(f"Line {n} of the roster {path} has no student_id; fill it in "
                              "or delete the line.")
        if sid in roster:
            raise RosterError(f"The roster {path} lists {sid} twice (line {n}); keep one line "
                              "per student.")
        roster[sid] = Student(**values)
    return roster


def _result(course, a, sub):
    """The Result of one submission, its parts read from the gradebook and the autograded
    notebook (the named mistakes)."""
    penalty = sub.late_submission_penalty or 0.0
    result = Result(True, max(0.0, sub.score - penalty), sub.max_score, penalty,
                    sub.total_seconds_late)
    for nb in sub.notebooks:
        found = report.mistakes_by_cell(
            Path(course) / "autograded" / sub.student.id / a / f"{nb.name}.ipynb")
        for g in nb.grades:
            part = result.parts.setdefault(part_of(g.name), Part(part_of(g.name)))
            _add(part, g.name, g.max_score, g.score or 0.0)
            part.mistakes += [m for _, m in found.get(g.name, []) if m not in part.mistakes]
    return result


def _add(part, grade_id, top, score=0.0):
    if grade_id.endswith("_hidden"):
        part.hidden, part.hidden_max = part.hidden + score, part.hidden_max + top
    else:
        part.visible, part.visible_max = part.visible + score, part.visible_max + top


def _nothing(assignment):
    """The Result of a student who submitted nothing: 0 in every part."""
    result = Result(False, 0.0, assignment.max_score)
    for nb in assignment.notebooks:
        for c in nb.grade_cells:
            _add(result.parts.setdefault(part_of(c.name), Part(part_of(c.name))), c.name,
                 c.max_score)
    return result


def collect(course, assignments, roster=None, gradebook=None):
    """[Student] with a Result for every assignment: the roster's students (in its order; a
    submission or 0) and every graded student missing from it (by id)."""
    from nbgrader.api import MissingEntry

    from grader import course as coursedir

    graded, nothing, names = {}, {}, {}
    own = gradebook is None
    gb = coursedir.gradebook(course).__enter__() if own else gradebook
    try:
        for a in assignments:
            try:
                assignment = gb.find_assignment(a)
            except MissingEntry:
                raise GraderError(f"The gradebook has no assignment {a}: grade it first "
                                  f"(make grade A={a}).") from None
            nothing[a] = _nothing(assignment)
            for sub in assignment.submissions:
                st = sub.student
                names[st.id] = (" ".join(filter(None, [st.first_name, st.last_name])),
                                st.email or "")
                graded[(st.id, a)] = _result(course, a, sub)
    finally:
        if own:
            gb.__exit__(None, None, None)
    students = list((roster or {}).values())
    students += [Student(sid, name=names[sid][0], email=names[sid][1], in_roster=roster is None)
                 for sid in sorted(names) if sid not in (roster or {})]
    for s in students:
        s.results = {a: graded.get((s.student_id, a), nothing[a]) for a in assignments}
    return students


def number(x):
    """A score as CSV text: up to 4 decimals, "." as the decimal point, no trailing zeros."""
    text = f"{x:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _split_name(name):
    first, _, last = name.strip().rpartition(" ")
    return (first, last) if first else (last, "")


def feedback_text(result):
    """Moodle's feedback cell: the late line, then one line per part."""
    if not result.submitted:
        return "No submission."
    lines = [result.late_line()] if result.late_line() else []
    for part in result.parts.values():
        got = part.visible + part.hidden
        top = part.visible_max + part.hidden_max
        line = f"{part.name}: {number(got)}/{number(top)}"
        if part.mistakes:
            line += " - " + "; ".join(part.mistakes)
        lines.append(line)
    return "\n".join(lines)


def rows(fmt, students, assignments):
    """(header, rows) of one format."""
    if fmt == "canvas":
        header = CANVAS_COLUMNS + list(assignments)
        maxima = [number(next((s.results[a].max_score for s in students
                               if s.results[a].max_score), 0)) for a in assignments]
        body = [["Points Possible", "", "", "", ""] + maxima]
        for s in students:
            body.append([s.name or s.student_id, s.lms_id, s.sis_id, s.login_id, s.section]
                        + [number(s.results[a].score) for a in assignments])
        return header, body
    if fmt == "moodle":
        header = MOODLE_COLUMNS + [c for a in assignments for c in (a, f"{a} (Feedback)")]
        body = []
        for s in students:
            first, last = _split_name(s.name or s.student_id)
            row = [first, last, s.sis_id, s.email]
            for a in assignments:
                row += [number(s.results[a].score), feedback_text(s.results[a])]
            body.append(row)
        return header, body
    if fmt == "parts":
        body = []
        for s in students:
            for a in assignments:
                r = s.results[a]
                for p in r.parts.values():
                    said = p.mistakes if r.submitted else ["no submission"]
                    body.append([s.student_id, s.name, a, p.name, number(p.visible),
                                 number(p.visible_max), number(p.hidden), number(p.hidden_max),
                                 number(p.visible + p.hidden), number(p.visible_max + p.hidden_max),
                                 "; ".join(said)])
                if r.penalty or r.seconds_late:
                    body.append([s.student_id, s.name, a, "late", "", "", "", "",
                                 number(-r.penalty), "0", r.late_line()])
        return PARTS_COLUMNS, body
    raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")


def write(fmt, students, assignments, dest):
    header, body = rows(fmt, students, assignments)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(header)
        w.writerows(body)
    os.replace(tmp, dest)
    return dest


def summary(students, assignments, roster_used):
    """Plain sentences: who is in the file with 0, who is graded but not in the roster."""
    lines = []
    for a in assignments:
        missing = [s.student_id for s in students if s.in_roster and not s.results[a].submitted]
        if missing and roster_used:
            lines.append(f"{a}: no submission from {len(missing)} student(s) of the roster, "
                         f"exported with 0: {', '.join(missing)}")
    strangers = [s for s in students if not s.in_roster]
    if strangers:
        lines.append(f"graded but not in the roster ({len(strangers)}), exported without LMS "
                     "ids (add them to the roster): "
                     + ", ".join(s.student_id + (f" ({s.name})" if s.name else "")
                                 for s in strangers))
    return lines


def export(course, assignments, fmt, roster=None, dest=None, gradebook=None, log=print):
    """Write one export; returns its path. `roster`: a path, or None (roster.csv of the course
    if it exists)."""
    course = Path(course)
    if fmt not in FORMATS:
        raise GraderError(f"Unknown export format {fmt!r}: choose one of "
                          f"{', '.join(FORMATS)}.")
    if gradebook is None and not (course / "gradebook.db").is_file():
        raise GraderError(f"No gradebook.db in {course}: grade first (make grade A=...).")
    if roster is None and (course / "roster.csv").is_file():
        roster = course / "roster.csv"
    try:
        people = read_roster(roster) if roster else None
    except RosterError as err:
        raise GraderError(str(err)) from None
    students = collect(course, assignments, people, gradebook)
    dest = Path(dest) if dest else course / "exports" / f"{fmt}-{'-'.join(assignments)}.csv"
    write(fmt, students, assignments, dest)
    log(f"{fmt} export of {', '.join(assignments)} ({len(students)} students): {dest}")
    if not roster:
        log("no roster (roster.csv in the course, or --roster FILE): students are named by "
            "their nbgrader id only")
    for line in summary(students, assignments, bool(roster)):
        log(line)
    return dest


class _LmsExport(ExportPlugin):
    """nbgrader's export plugin for one format (`--to FILE`, `--assignment`, `--roster`)."""

    fmt = "parts"
    roster = Unicode("", help="the roster CSV (default: roster.csv of the course if it "
                     "exists)").tag(config=True)

    def export(self, gradebook):
        coursedir = getattr(self.parent, "coursedir", None)
        course = Path(coursedir.root if coursedir else ".")
        names = [str(a) for a in self.assignment] or [a.name for a in gradebook.assignments]
        try:
            export(course, names, self.fmt, roster=self.roster or None,
                   dest=self.to or course / f"{self.fmt}.csv", gradebook=gradebook,
                   log=self.log.info)
        except GraderError as err:  # nbgrader's command line: its sentence, status 1
            raise SystemExit(str(err)) from None


class CanvasExport(_LmsExport):
    """Canvas's gradebook CSV (see grader/export.py)."""
    fmt = "canvas"


class MoodleExport(_LmsExport):
    """Moodle's CSV grade import, with a feedback column per assignment (see grader/export.py)."""
    fmt = "moodle"


class PartsExport(_LmsExport):
    """One row per student, assignment and part (see grader/export.py)."""
    fmt = "parts"
