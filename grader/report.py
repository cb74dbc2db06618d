"""The class report: what a class got right, and which misconceptions it has.

report/<assignment>/ holds index.html, scores.png (a histogram), cells.csv (the pass rate of
every grade cell), mistakes.csv (each named mistake and how many students made it) and
similarity.csv (pairs of students whose graded functions are alike beyond chance, shown side
by side in index.html: grader/similarity.py). A
named mistake is what a failing check diagnosed ("Most likely: W was used where W.T is
needed"), read from the autograded notebooks; one student counts once per mistake.
"""
import csv
import re
from collections import Counter
from html import escape
from pathlib import Path

import nbformat

from grader import course as coursedir
from grader import similarity

WHAT = re.compile(r"[\w.\[\]']+")  # the checked name that starts a check's message
# the mistake, without the "." that ends it (or the ".)" of a message in parentheses, as in
# "descend calls himmelblau_grad, which fails its own test: fix that first. (...)")
MISTAKE = re.compile(r"Most likely: (.+?)\.?\)?$", re.MULTILINE)


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


def mistakes_of(notebook_path):
    """{(function, mistake)} named in the failing grade cells of one autograded notebook."""
    return {m for named in mistakes_by_cell(notebook_path).values() for m in named}


def write(course, a, state=None, unsafe=False):
    """Write report/<a>/ from the gradebook and autograded/; returns the folder."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    course = Path(course)
    out = course / "report" / a
    out.mkdir(parents=True, exist_ok=True)
    totals, cells, maxima, mistakes = {}, {}, {}, Counter()
    with coursedir.gradebook(course) as gb:
        assignment = gb.find_assignment(a)
        top = assignment.max_score
        for sub in assignment.submissions:
            student = sub.student.id
            totals[student] = sub.score
            for nb in sub.notebooks:
                for g in nb.grades:
                    maxima[g.name] = g.max_score
                    cells.setdefault(g.name, []).append(g.score == g.max_score)
            for path in (course / "autograded" / student / a).glob("*.ipynb"):
                mistakes.update(mistakes_of(path))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(list(totals.values()), bins=[x - 0.5 for x in range(int(top) + 2)],
            color="#4c72b0", edgecolor="white")
    ax.set(title=f"{a}: scores of {len(totals)} students", xlabel=f"score (of {top:g})",
           ylabel="students")
    fig.tight_layout()
    fig.savefig(out / "scores.png", dpi=100)
    plt.close(fig)
    rows = [(g, maxima[g], sum(v), len(v), sum(v) / len(v)) for g, v in sorted(cells.items())]
    with (out / "cells.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["grade_cell", "points", "passed", "students", "pass_rate"])
        w.writerows((g, p, n, t, f"{r:.3f}") for g, p, n, t, r in rows)
    ranked = sorted(mistakes.items(), key=lambda kv: (-kv[1], kv[0]))
    with (out / "mistakes.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["function", "mistake", "students"])
        w.writerows((what, mistake, n) for (what, mistake), n in ranked)
    pairs = similar(course, a, totals)
    with (out / "similarity.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student_a", "student_b", "score", "shared_nodes", "functions"])
        w.writerows((p.a, p.b, p.score, p.shared, " ".join(n for n, _, _ in p.functions))
                    for p in pairs)
    problems = {s: i for s, i in (state or {}).items() if i.get("reason") or i.get("notes")}
    style = ("body{font-family:sans-serif;margin:2em}td,th{padding:.2em .8em;text-align:left}"
             "table.pair td{vertical-align:top;border-top:1px solid #ccc}")
    mean = sum(totals.values()) / len(totals) if totals else 0
    html = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(a)}</title>",
            f"<style>{style}</style></head><body><h1>{escape(a)}: class report</h1>",
            f"<p>{len(totals)} students graded; mean score {mean:.2f} of {top:g}.</p>",
            "<img src='scores.png' alt='histogram of scores'><h2>Named mistakes</h2>",
            "<table><tr><th>function</th><th>mistake</th><th>students</th></tr>"]
    html += [f"<tr><td>{escape(w)}</td><td>{escape(m)}</td><td>{n}</td></tr>"
             for (w, m), n in ranked]
    html += ["</table><h2>Grade cells</h2>",
             "<table><tr><th>cell</th><th>points</th><th>pass rate</th></tr>"]
    html += [f"<tr><td>{escape(g)}</td><td>{p:g}</td><td>{r:.0%} ({n}/{t})</td></tr>"
             for g, p, n, t, r in rows]
    html += ["</table><h2>Problems met while grading</h2><ul>"]
    for student, info in sorted(problems.items()):
        said = " ".join(filter(None, [info.get("reason"), *info.get("notes", [])]))
        html.append(f"<li>{escape(student)}: {escape(said)}</li>")
    html.append("</ul>")
    html += similarity_html(pairs)
    if unsafe:
        html.append("<p><strong>Graded with --unsafe: student code ran without the sandbox."
                    "</strong></p>")
    html.append("</body></html>")
    (out / "index.html").write_text("\n".join(html))
    return out


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
        return [*html, "<p>No pair.</p>"]
    for p in pairs:
        html.append(f"<h3>{escape(p.a)} and {escape(p.b)}: similarity {p.score:.2f}, "
                    f"{p.shared:g} nodes of shared code</h3>")
        html.append("<table class='pair'><tr><th>function</th>"
                    f"<th>{escape(p.a)}</th><th>{escape(p.b)}</th></tr>")
        html += [f"<tr><td>{escape(name)}</td><td><pre>{escape(left)}</pre></td>"
                 f"<td><pre>{escape(right)}</pre></td></tr>" for name, left, right in p.functions]
        html.append("</table>")
    return html
