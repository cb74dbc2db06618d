"""The class report: what a class got right, and which misconceptions it has.

report/<assignment>/ holds index.html, scores.png (a histogram), cells.csv (the pass rate of
every grade cell) and mistakes.csv (each part, each mistake named there, how many students
made it and who). The mistakes are read as data: the grader's verdict writes the ids of what
it named for each failing part into the test cell's metadata (``cell.metadata["backprop"]
["mistakes"]`` = {part: [ids]}, see ``grader/verdict.py``); a part that failed with no id
counts as "not named". Every failing student is listed under the part that failed, and one
student counts once per part and mistake.
"""
import csv
from collections import Counter
from html import escape
from pathlib import Path

import nbformat

from grader import course as coursedir

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


def write(course, a, state=None, unsafe=False):
    """Write report/<a>/ from the gradebook and autograded/; returns the folder."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    course = Path(course)
    out = course / "report" / a
    out.mkdir(parents=True, exist_ok=True)
    totals, cells, maxima, notebooks = {}, {}, {}, {}
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
            notebooks[student] = sorted((course / "autograded" / student / a).glob("*.ipynb"))
    mistakes, who = class_mistakes(notebooks)
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
        w.writerow(["part", "mistake", "students", "who"])
        w.writerows((part, mistake, n, " ".join(sorted(who[part, mistake])))
                    for (part, mistake), n in ranked)
    problems = {s: i for s, i in (state or {}).items() if i.get("reason") or i.get("notes")}
    style = "body{font-family:sans-serif;margin:2em}td,th{padding:.2em .8em;text-align:left}"
    mean = sum(totals.values()) / len(totals) if totals else 0
    html = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(a)}</title>",
            f"<style>{style}</style></head><body><h1>{escape(a)}: class report</h1>",
            f"<p>{len(totals)} students graded; mean score {mean:.2f} of {top:g}.</p>",
            "<img src='scores.png' alt='histogram of scores'><h2>Named mistakes</h2>",
            "<table><tr><th>part</th><th>mistake</th><th>students</th></tr>"]
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
    if unsafe:
        html.append("<p><strong>Graded with --unsafe: student code ran without the sandbox."
                    "</strong></p>")
    html.append("</body></html>")
    (out / "index.html").write_text("\n".join(html))
    return out
