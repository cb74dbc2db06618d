"""The zoo's tests, shared by the modules test_zoo_<assignment>.py (one module each, so the
assignments' zoos are graded on different pytest-xdist workers at the same time).

Each module sets `A`, the assignment, and imports these tests: they autograde the zoo of A
through the real pipeline (`classgrade.grade_class`, what `make grade` runs) and check
every grade cell of every kind, the feedback, and that nothing a hostile submission did
reached the grader, the course or another student."""
import csv
import hashlib
import os
import re
import sys
import tempfile
import zipfile
from html import unescape
from pathlib import Path

import pytest
import zoo
from conftest import (
    HIDDEN_REGION,
    SOLUTION_REGION,
    classgrade,
    notebook,
    region_lines,
    submit,
)

from grader import report

# seconds per cell, unless the module sets TIMEOUT: ps4's hidden training takes 13-42 s on a
# loaded 2-core machine; ps1's infinite loop costs this per test cell that calls it
TIMEOUT = 40
PYTHON_DIRS = sorted({Path(sys.prefix), Path(sys.base_prefix)})


def _hashes(*folders):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest()
            for f in folders for p in sorted(Path(f).rglob("*")) if p.is_file()}


def _planted():
    """Files a student could have planted in the Python installation."""
    names = {"sitecustomize.py", "usercustomize.py", "zz_planted.pth", "00-planted.py"}
    return [p for d in PYTHON_DIRS for p in d.rglob("*") if p.name in names
            and "PLANTED" in p.read_text(errors="ignore")]


def _leftovers():
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"bp-leftover-marker" in cmd:
            found.append(pid)
    return found


def _lms_archive(course, a):
    """An LMS download: one good member and every kind of bad one."""
    archive = course / "downloaded" / a / "archive"
    archive.mkdir(parents=True)
    good = notebook("source", a).read_bytes()
    with zipfile.ZipFile(archive / "download.zip", "w") as z:
        z.writestr(f"lms_{a}.ipynb", good)
        z.writestr(f"../escaped_{a}.ipynb", good)
        z.writestr(f"gz_{a}.ipynb.gz", b"\x1f\x8b not really")
        z.writestr("readme.txt", "hello")
    (archive / "broken.zip").write_bytes(b"PK not a zip")


def _grade_zoo(a, course, timeout=TIMEOUT):
    bases = {"source": zoo.read(notebook("source", a)),
             "release": zoo.read(course / "release" / a / f"{a}.ipynb")}
    for kind in zoo.ZOOS[a]:
        if kind.raw is not None or kind.link is not None:
            path = course / "submitted" / kind.name / a / f"{a}.ipynb"
            path.parent.mkdir(parents=True)
            if kind.link is not None:
                how, target = kind.link.format(a=a).split(":", 1)
                (path.symlink_to if how == "symbolic" else path.hardlink_to)(course / target)
            else:
                path.write_bytes(kind.raw)
        else:
            base = bases[kind.base]
            if kind.base_of:
                where, other = kind.base_of.split(":")
                base = zoo.read(notebook(where, other))
            path = submit(course, a, kind.name, kind.build(base))
        for name, text in kind.files.items():
            (path.parent / name).write_text(text)
    _lms_archive(course, a)
    before = _hashes(course / "source", course / "submitted")
    lines = []
    failed = classgrade.grade_class(course, a, jobs=2, timeout=timeout, log=lines.append)
    after = _hashes(course / "source", course / "submitted")
    return {"a": a, "course": course, "failed": failed, "lines": lines,
            "before": before, "after": after, "leftovers": _leftovers(), "planted": _planted()}


def pytest_generate_tests(metafunc):
    """`kind` runs over the zoo of the module's assignment."""
    if "kind" in metafunc.fixturenames:
        kinds = zoo.ZOOS[metafunc.module.A]
        metafunc.parametrize("kind", kinds, ids=[k.name for k in kinds])


@pytest.fixture(scope="module")
def a(request):
    """The assignment of this test module."""
    return request.module.A


@pytest.fixture(scope="module")
def graded(course_factory, tmp_path_factory, request):
    """graded(a): the zoo of assignment `a`, autograded once per test module, with the
    grader's temporary folder inside the test's own scratch folder."""
    done = {}

    def get(a):
        if a not in done:
            scratch = tmp_path_factory.mktemp(f"tmp-{a}")
            saved, tempfile.tempdir = tempfile.tempdir, str(scratch)
            try:
                done[a] = _grade_zoo(a, course_factory(a),
                                     getattr(request.module, "TIMEOUT", TIMEOUT))
            finally:
                tempfile.tempdir = saved
            done[a]["left_in_tmp"] = sorted(p.name for p in scratch.iterdir())
        return done[a]

    return get


def _feedback_text(course, a, student):
    html = (course / "feedback" / student / a / f"{a}.html").read_text()
    return html, unescape(re.sub(r"<[^>]+>", "", html))


def test_every_submission_is_graded(graded, a):
    """Is every student graded, with one line each in grades.csv, whatever the others did?"""
    run = graded(a)
    assert run["failed"] == {}, "\n".join(run["lines"])
    rows = [ln for ln in (run["course"] / "grades.csv").read_text().splitlines()
            if ln.startswith(a + ",")]
    assert len(rows) == len(zoo.ZOOS[a]) + 1  # + the student collected from the LMS archive
    collected = report.scores(run["course"], a, "lms")
    assert all(score == top for score, top in collected.values()), collected


def test_nothing_outside_the_sandbox_changed(graded, a):
    """Does a hostile class leave the course, the Python installation and the host as they were?"""
    run = graded(a)
    changed = {p for p in set(run["before"]) | set(run["after"])
               if run["before"].get(p) != run["after"].get(p) and "/submitted/lms/" not in str(p)}
    assert not changed, f"changed by grading: {sorted(changed)[:5]}"
    assert run["planted"] == [], f"planted in the Python installation: {run['planted']}"
    assert run["leftovers"] == [], "processes started by a submission outlived its grading"
    assert (run["course"] / "gradebook.db").stat().st_size > 0
    assert run["left_in_tmp"] == [], f"grading left {run['left_in_tmp']} in the temporary folder"


def test_class_report_counts_the_named_mistakes(graded, a):
    """Does the class report list every failing student under the part that failed, each
    once per part and mistake id (read from the verdicts' metadata, not from English)?"""
    run = graded(a)
    folder = run["course"] / "report" / a
    assert (folder / "scores.png").stat().st_size > 1000
    rows = list(csv.DictReader((folder / "mistakes.csv").open()))
    assert rows, "the report names no mistake"
    for r in rows:
        who = r["who"].split()
        assert int(r["students"]) == len(who) == len(set(who)), r
    scores = {k.name: report.scores(run["course"], a, k.name) for k in zoo.ZOOS[a]}
    failing = {k for k, s in scores.items() if any(got < top for got, top in s.values())}
    listed = {s for r in rows for s in r["who"].split()}
    missing = failing - listed
    assert not missing, f"failing students the report does not list: {missing}"
    rates = {r["grade_cell"]: float(r["pass_rate"])
             for r in csv.DictReader((folder / "cells.csv").open())}
    for cell, rate in rates.items():
        passed = sum(s[cell][0] == s[cell][1] for s in scores.values())
        passed += 1  # the student collected from the LMS archive is correct
        assert rate == pytest.approx(passed / (len(scores) + 1), abs=1e-3), cell
    assert "Named mistakes" in (folder / "index.html").read_text()


def test_score_of_each_kind(graded, a, kind):
    """Does each kind get exactly the per-cell score an honest TA would give?"""
    run = graded(a)
    got = report.scores(run["course"], a, kind.name)
    expected = zoo.expected_scores(kind, {g: m for g, (_, m) in got.items()})
    assert {g: s for g, (s, _) in got.items()} == expected


def test_feedback_of_each_kind(graded, a, kind):
    """Does the feedback say what went wrong, and nothing of the hidden tests or the key?"""
    run = graded(a)
    html, text = _feedback_text(run["course"], a, kind.name)
    for phrase in kind.says:
        assert phrase in text, f"feedback of {kind.name} does not say {phrase!r}"
    for phrase in kind.never:
        assert phrase not in text, f"feedback of {kind.name} says {phrase!r}"
    shown = {line.strip() for line in text.splitlines()}
    leaked = [line for line in region_lines(a, HIDDEN_REGION) if line in shown]
    assert not leaked, f"hidden test code in the feedback of {kind.name}: {leaked[:3]}"
    if kind.base != "source":  # only the instructor's notebook may show solution code
        key = [line for line in region_lines(a, SOLUTION_REGION) if line in shown]
        assert not key, f"solution code in the feedback of {kind.name}: {key[:3]}"
    assert len(html) < 2_000_000, "feedback is too large: output was not limited"
    assert "<script" not in html.lower()
    assert not re.search(r"<[^>]+\son\w+\s*=", html, re.IGNORECASE), "an event handler survived"
    assert not re.search(r"(href|src)\s*=\s*[\"']?\s*javascript:", html, re.IGNORECASE)
