"""Autograde the submission zoo through the real pipeline (`grading.grade`, what
`make grade` runs) and check every grade cell of every kind, the feedback, and
that nothing a hostile submission did reached the gradebook or other files."""
import hashlib
import re
import zipfile
from html import unescape

import pytest
import zoo
from conftest import HIDDEN_REGION, grading, notebook, region_lines, submit

TIMEOUT = 30  # per cell; the infinite loop costs this per test cell that calls it


def _hashes(course, *folders):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest()
            for f in folders for p in sorted((course / f).rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def graded(course_factory):
    """graded(a): the zoo of assignment `a`, autograded once per test module."""
    done = {}

    def get(a):
        if a not in done:
            done[a] = _grade_zoo(a, course_factory(a))
        return done[a]

    return get


def _grade_zoo(a, course):
    bases = {"source": zoo.read(notebook("source", a)),
             "release": zoo.read(course / "release" / a / f"{a}.ipynb")}
    for kind in zoo.ZOOS[a]:
        submit(course, a, kind.name, kind.build(bases[kind.base]))
    # one student comes through an LMS download (a zip), collected by zip_collect
    archive = course / "downloaded" / a / "archive"
    archive.mkdir(parents=True)
    with zipfile.ZipFile(archive / "download.zip", "w") as z:
        z.write(notebook("source", a), f"lms_{a}.ipynb")
    before = _hashes(course, "source", "submitted")
    lines = []
    failed = grading.grade(course, a, timeout=TIMEOUT, log=lines.append)
    return a, course, failed, before, lines


@pytest.mark.parametrize("a", sorted(zoo.ZOOS))
def test_every_submission_is_graded(graded, a):
    a, course, failed, _, lines = graded(a)
    assert failed == {}, "\n".join(lines)
    assert (course / "grades.csv").read_text().count(a) == len(zoo.ZOOS[a]) + 1
    collected = grading.scores(course, a, "lms")
    assert all(score == top for score, top in collected.values()), collected


@pytest.mark.parametrize("a", sorted(zoo.ZOOS))
def test_nothing_outside_the_sandbox_changed(graded, a):
    _, course, _, before, _ = graded(a)
    after = _hashes(course, "source", "submitted")
    assert {p: h for p, h in after.items() if "/submitted/lms/" not in str(p)} == before
    assert (course / "gradebook.db").stat().st_size > 0


@pytest.mark.parametrize(("a", "kind"), zoo.KINDS, ids=[k.name for _, k in zoo.KINDS])
def test_score_of_each_kind(graded, a, kind):
    _, course, _, _, _ = graded(a)
    got = grading.scores(course, a, kind.name)
    expected = zoo.expected_scores(kind, {g: m for g, (_, m) in got.items()})
    assert {g: s for g, (s, _) in got.items()} == expected


@pytest.mark.parametrize(("a", "kind"), zoo.KINDS, ids=[k.name for _, k in zoo.KINDS])
def test_feedback_of_each_kind(graded, a, kind):
    _, course, _, _, _ = graded(a)
    html = (course / "feedback" / kind.name / a / f"{a}.html").read_text()
    text = unescape(re.sub(r"<[^>]+>", "", html))
    for phrase in kind.says:
        assert phrase in text, f"feedback of {kind.name} does not say {phrase!r}"
    shown = {line.strip() for line in text.splitlines()}
    leaked = [line for line in region_lines(a, HIDDEN_REGION) if line in shown]
    assert not leaked, f"hidden test code in the feedback of {kind.name}: {leaked[:3]}"
    assert len(html) < 2_000_000, "feedback is too large: output was not limited"
