"""The class report: what a class got right, and which misconceptions it has.

report/<assignment>/ holds index.html (one self-contained page: the score histogram, the named
mistakes, the grade cells in notebook order with their parts, and a table of the students with
their score, the parts they failed, their named mistakes and a link to their feedback),
scores.png (the histogram), cells.csv (the pass rate of every grade cell), mistakes.csv
(each part, each mistake id named there, how many students made it and who) and
similarity.csv (pairs of students
whose graded functions are alike beyond chance, shown side by side in index.html:
grader/similarity.py).

Mistakes are counted as data: the grader's verdict writes the ids of what it named for each
failing part into the test cell's metadata (``cell.metadata["backprop"]["mistakes"]`` =
{part: [ids]}, see grader/verdict.py); a part that failed with no id counts as "not named";
every failing student is listed under the part that failed, once per part and id
(`mistakes_of`, `class_mistakes`). For people, the sentences ("Most likely: ...") are read
from the same cells by `mistakes_by_cell` (the student table, the LMS exports).
"""
import base64
import csv
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

import nbformat

from grader import course as coursedir
from grader import similarity
from grader.errors import GraderError
from grader.parts import grade_cells
from grader.state import load_state
from grader.task import Outcome

WHAT = re.compile(r"[\w.\[\]']+")  # the checked name that starts a check's message
# the mistake, without the "." that ends it (or the ".)" of a message in parentheses, as in
# "descend calls himmelblau_grad, which fails its own test: fix that first. (...)"), and
# without the tolerance that follows it ("... Most likely: X. (Tolerance 1e-10 + ...)")
MISTAKE = re.compile(r"Most likely: (.+?)\.?\)?(?= \(Tolerance |$)", re.MULTILINE)


def mistakes_by_cell(notebook_path):
    """{grade_id: [(function, mistake)]} named in the failing grade cells of one autograded
    notebook (the one place that reads named mistakes from a notebook)."""
    found = {}
    try:
        nb = nbformat.read(notebook_path, as_version=4)
    except (OSError, ValueError):
        return found
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("grade"):
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                evalue = out.get("evalue", "")
                what = WHAT.match(evalue)
                for mistake in MISTAKE.findall(evalue):
                    named = (what.group() if what else "?", mistake.strip())
                    if named not in found.setdefault(meta.get("grade_id", "?"), []):
                        found[meta.get("grade_id", "?")].append(named)
    return found


NOT_NAMED = "not named"


def mistakes_of(notebook_path):
    """{(part, mistake id)} of the failing grade cells of one autograded notebook: the ids
    the verdict stored in each test cell's metadata, (part, "not named") for a part that
    failed with none ("?" for the part of a failing cell the verdict left no record in)."""
    found = set()
    try:
        nb = nbformat.read(notebook_path, as_version=4)
    except (OSError, ValueError):
        return found
    for cell in nb.cells:
        if not cell.metadata.get("nbgrader", {}).get("grade"):
            continue
        named = cell.metadata.get("backprop", {}).get("mistakes")
        failed = any(o.get("output_type") == "error" for o in cell.get("outputs", []))
        if isinstance(named, dict):
            for part, ids in named.items():
                ids = [i for i in ids if isinstance(i, str)] if isinstance(ids, list) else []
                found |= {(str(part), i) for i in ids} or {(str(part), NOT_NAMED)}
        elif failed:
            found.add(("?", NOT_NAMED))
    return found


def class_mistakes(notebooks):
    """(Counter {(part, mistake id): students}, {(part, mistake id): [students]}) from
    `notebooks` {student: [autograded notebook paths]}: each student once per part and
    mistake, every failing part listed (its id "not named" when it has none)."""
    counts, who = Counter(), {}
    for student, paths in sorted(notebooks.items()):
        made = set()
        for path in paths:
            made |= mistakes_of(path)
        counts.update(made)
        for key in sorted(made):
            who.setdefault(key, []).append(student)
    return counts, who


STYLE = """body{font:15px/1.5 system-ui,sans-serif;margin:2em auto;max-width:70em;padding:0 1em}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{padding:.25em .8em;text-align:left;
vertical-align:top;border-bottom:1px solid #dde}th{background:#f3f5f8}td.n{text-align:right}
.none{color:#666;font-style:italic}img{max-width:100%}ul.flat{margin:0;padding-left:1.1em}
table.pair td{vertical-align:top;border-top:1px solid #ccc}"""


def _cells_in_order(course, a, names):
    """[(grade cell, part)] in the order of the source notebook; cells it does not have last."""
    source = Path(course) / "source" / a / f"{a}.ipynb"
    known = [(c.grade_id, c.part) for c in grade_cells(source)] if source.exists() else []
    seen = {g for g, _ in known}
    return [(g, p) for g, p in known if g in names] + [(g, "") for g in sorted(names - seen)]


def histogram(totals, top, a):
    """The score histogram (a Matplotlib figure): whole scores and whole numbers of students."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(list(totals.values()), bins=[x - 0.5 for x in range(int(top) + 2)],
            color="#4c72b0", edgecolor="white")
    ax.set(title=f"{a}: scores of {len(totals)} students", xlabel=f"score (of {top:g})",
           ylabel="students")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    return fig


def _png(fig):
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def _table(head, rows):
    """An HTML table, or "none" when there is no row."""
    if not rows:
        return "<p class='none'>none</p>"
    th = "".join(f"<th>{h}</th>" for h in head)
    return (f"<table><tr>{th}</tr>"
            + "".join("<tr>" + "".join(rows_cells) + "</tr>" for rows_cells in rows) + "</table>")


def _list(items):
    return "<ul class='flat'>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>" \
        if items else "<span class='none'>none</span>"


@dataclass
class ClassGrades:
    """What the gradebook and autograded/ hold of one assignment, per student."""
    top: float  # the assignment's points
    totals: dict = field(default_factory=dict)  # {student: score}
    scores: dict = field(default_factory=dict)  # {student: {grade cell: (score, max)}}
    passed: dict = field(default_factory=dict)  # {grade cell: [full marks?, per student]}
    maxima: dict = field(default_factory=dict)  # {grade cell: points}
    notebooks: dict = field(default_factory=dict)  # {student: [autograded notebooks]}
    named: dict = field(default_factory=dict)  # {student: {(function, sentence)}}


def read_grades(course, a):
    """The ClassGrades of `a`; GraderError if the gradebook does not know it."""
    from nbgrader.api import MissingEntry

    course = Path(course)
    with coursedir.gradebook(course) as gb:
        try:
            assignment = gb.find_assignment(a)
        except MissingEntry:
            raise GraderError(f"{a} has not been graded in {course}: grade it first "
                              f"(make grade A={a}), then ask for its report.") from None
        got = ClassGrades(assignment.max_score)
        for sub in assignment.submissions:
            student = sub.student.id
            got.totals[student] = sub.score
            got.scores[student] = {}
            for nb in sub.notebooks:
                for g in nb.grades:
                    got.maxima[g.name] = g.max_score
                    got.passed.setdefault(g.name, []).append(g.score == g.max_score)
                    got.scores[student][g.name] = (g.score, g.max_score)
            got.notebooks[student] = sorted((course / "autograded" / student / a).glob("*.ipynb"))
            got.named[student] = {m for path in got.notebooks[student]
                                  for found in mistakes_by_cell(path).values() for m in found}
    return got


def _csv(path, header, rows):
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def write(course, a, state=None, unsafe=False):
    """Write report/<a>/ from the gradebook and autograded/ (with the problems met in
    `state`, {student: Outcome}, see grader/state.py); returns the folder.

    index.html is one self-contained page (its histogram embedded), with links to each
    student's feedback in feedback/<student>/<a>/."""
    course = Path(course)
    got = read_grades(course, a)
    out = course / "report" / a
    out.mkdir(parents=True, exist_ok=True)
    mistakes, who = class_mistakes(got.notebooks)
    png = _png(histogram(got.totals, got.top, a))
    (out / "scores.png").write_bytes(png)
    order = _cells_in_order(course, a, set(got.passed))
    part_of = dict(order)
    rows = [(g, got.maxima[g], sum(got.passed[g]), len(got.passed[g]),
             sum(got.passed[g]) / len(got.passed[g]), part_of[g]) for g, _ in order]
    _csv(out / "cells.csv", ["grade_cell", "points", "passed", "students", "pass_rate", "part"],
         ((g, p, n, t, f"{r:.3f}", part) for g, p, n, t, r, part in rows))
    ranked = sorted(mistakes.items(), key=lambda kv: (-kv[1], kv[0]))
    _csv(out / "mistakes.csv", ["part", "mistake", "students", "who"],
         ((part, mistake, n, " ".join(sorted(who[part, mistake])))
          for (part, mistake), n in ranked))
    pairs = similar(course, a, got.totals)
    _csv(out / "similarity.csv", ["student_a", "student_b", "score", "shared_nodes", "functions"],
         ((p.a, p.b, p.score, p.shared, " ".join(n for n, _, _ in p.functions)) for p in pairs))
    problems = {s: i for s, i in (state or {}).items() if i.reason or i.notes}
    html = [*_head(a, got, png, unsafe),
            "<h2>Named mistakes</h2>",
            _table(["part", "mistake", "students"], [
                (f"<td>{escape(w)}</td>", f"<td>{escape(m)}</td>", f"<td class='n'>{n}</td>")
                for (w, m), n in ranked]),
            "<h2>Grade cells</h2>",
            _table(["part", "grade cell", "points", "pass rate"], [
                (f"<td>{escape(part) or '<span class=none>none</span>'}</td>",
                 f"<td>{escape(g)}</td>", f"<td class='n'>{p:g}</td>",
                 f"<td class='n'>{r:.0%} ({n}/{t})</td>")
                for g, p, n, t, r, part in rows]),
            "<h2>Students</h2>",
            _students(course, a, got, order, part_of),
            "<h2>Problems met while grading</h2>",
            _list([f"{escape(student)}: " + escape(" ".join(filter(
                None, [info.reason, *info.notes])))
                for student, info in sorted(problems.items())]),
            *similarity_html(pairs),
            "</body></html>"]
    (out / "index.html").write_text("\n".join(html))
    return out


def _head(a, got, png, unsafe):
    """The page's start: title, the --unsafe warning, the mean and the histogram."""
    mean = sum(got.totals.values()) / len(got.totals) if got.totals else 0
    html = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
            "<meta name='viewport' content='width=device-width, initial-scale=1'>",
            f"<title>{escape(a)}: class report</title><style>{STYLE}</style></head><body>",
            f"<h1>{escape(a)}: class report</h1>"]
    if unsafe:
        html.append("<p><strong>Graded with --unsafe: student code ran without the sandbox."
                    "</strong></p>")
    html.append(f"<p>{len(got.totals)} students graded; mean score {mean:.2f} of "
                f"{got.top:g}.</p>")
    if got.totals:
        html.append("<img alt='histogram of scores' src='data:image/png;base64,"
                    f"{base64.b64encode(png).decode()}'>")
    return html


def _students(course, a, got, order, part_of):
    """The per-student table: score, parts failed, named mistakes, a link to the feedback."""
    rows = []
    for student in sorted(got.totals):
        mine = got.scores[student]
        failed = [part_of.get(g) or g for g, _ in order if g in mine and mine[g][0] < mine[g][1]]
        failed = list(dict.fromkeys(failed))  # each part once, in notebook order
        said = sorted(f"{w}: {m}" for w, m in got.named[student])
        pages = sorted((course / "feedback" / student / a).glob("*.html"))
        # the page is report/<a>/index.html: two folders below the course
        link = "".join(f"<a href='../../{escape(p.relative_to(course).as_posix(), quote=True)}'>"
                       f"{escape(p.name)}</a> " for p in pages)
        rows.append((
            f"<td>{escape(student)}</td>",
            f"<td class='n'>{got.totals[student]:g} / {got.top:g}</td>",
            f"<td>{_list([escape(p) for p in failed])}</td>",
            f"<td>{_list([escape(m) for m in said])}</td>",
            f"<td>{link or '<span class=none>none</span>'}</td>"))
    return _table(["student", "score", "parts failed", "named mistakes", "feedback"], rows)


def similar(course, a, students):
    """similarity.similar_pairs over the autograded notebooks of `students`."""
    notebooks = {}
    for student in sorted(students):
        path = Path(course) / "autograded" / student / a / f"{a}.ipynb"
        try:
            notebooks[student] = nbformat.read(path, as_version=4)
        except (OSError, ValueError):
            continue
    expected = []
    for kind in ("source", "release"):
        try:
            expected.append(nbformat.read(Path(course) / kind / a / f"{a}.ipynb", as_version=4))
        except (OSError, ValueError):
            continue
    return similarity.similar_pairs(notebooks, expected)


def similarity_html(pairs):
    """The report's section on similar submissions: each pair's functions side by side."""
    html = ["<h2>Similar submissions</h2>",
            ("<p>Pairs of students whose graded functions are alike beyond chance (after "
             "normalising names, comments, order and formatting; code given in the assignment "
             "or equal to the course's solution does not count). For you to read: alike code "
             "is not proof of copying, and this is never a penalty.</p>")]
    if not pairs:
        return [*html, "<p class='none'>none</p>"]
    for p in pairs:
        html.append(f"<h3>{escape(p.a)} and {escape(p.b)}: similarity {p.score:.2f}, "
                    f"{p.shared:g} nodes of shared code</h3>")
        html.append("<table class='pair'><tr><th>function</th>"
                    f"<th>{escape(p.a)}</th><th>{escape(p.b)}</th></tr>")
        html += [f"<tr><td>{escape(name)}</td><td><pre>{escape(left)}</pre></td>"
                 f"<td><pre>{escape(right)}</pre></td></tr>" for name, left, right in p.functions]
        html.append("</table>")
    return html


COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name",
           "email", "raw_score", "late_submission_penalty", "score", "max_score", "problem"]


def write_grades_csv(course):
    """grades.csv: nbgrader's export columns plus `problem`, for every student with a grade."""
    course = Path(course)
    if not (course / "gradebook.db").exists():
        return
    rows = []
    with coursedir.gradebook(course) as gb:
        for assignment in gb.assignments:
            state = load_state(course, assignment.name)
            for sub in assignment.submissions:
                info = state.get(sub.student.id, Outcome())
                problem = " ".join(([info.reason] if info.reason else []) + list(info.notes))
                penalty = sub.late_submission_penalty or 0.0
                rows.append([assignment.name, assignment.duedate, sub.timestamp, sub.student.id,
                             sub.student.last_name, sub.student.first_name, sub.student.email,
                             sub.score, penalty, max(0.0, sub.score - penalty), sub.max_score,
                             problem])
    tmp = course / "grades.csv.tmp"
    with tmp.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        writer.writerows(["" if v is None else v for v in row] for row in rows)
    os.replace(tmp, course / "grades.csv")


def scores(course, a, student):
    """{grade_id: (score, max_score)} of one graded submission, from the gradebook."""
    with coursedir.gradebook(course) as gb:
        sub = gb.find_submission(a, student)
        return {g.name: (g.score, g.max_score) for nb in sub.notebooks for g in nb.grades}
