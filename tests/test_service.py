"""Feedback on submit (grader/service.py), on one machine through nbgrader's exchange: the
instructor releases, a student fetches and submits with nbgrader's own commands, the service
grades and releases the feedback, the student fetches it; a second submission within the
limit is refused with a sentence the student fetches; a restart (also one that lost its last
record) grades nothing twice."""
import datetime
import json
import os
import re
import subprocess
import sys
import time
from html import escape

import nbformat
import pytest
from classroom import COURSE_ID, scratch_course, student_work
from conftest import grading

from grader import service

A = "ps1_perceptron"


@pytest.fixture
def classroom(tmp_path, monkeypatch):
    exchange = tmp_path / "exchange"
    exchange.mkdir(mode=0o1777)
    os.chmod(exchange, 0o1777)
    monkeypatch.setenv("BP_EXCHANGE", str(exchange))
    course = scratch_course(tmp_path / "course", [A])
    grading.generate_release(course, A)
    grading.check(grading.api(course).release_assignment(A), "release")
    home = tmp_path / "student"
    home.mkdir()
    env = {**os.environ, "BP_EXCHANGE": str(exchange),
           "PATH": f"{grading.BIN}:{os.environ.get('PATH', '')}"}
    flags = ["--course", COURSE_ID, f"--Exchange.root={exchange}",
             f"--Exchange.cache={tmp_path / 'cache'}", "--Exchange.path_includes_course=True"]

    def student(*args):
        run = subprocess.run([str(grading.BIN / "nbgrader"), *args, *flags], cwd=home, env=env,
                             capture_output=True, text=True, check=False)
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        return run.stderr

    student("fetch_assignment", A)
    return course, home, student


def _feedback(home):
    return {p.parent.name: p.read_text() for p in
            (home / COURSE_ID / A / "feedback").glob(f"*/{A}.html")}


def test_submit_graded_feedback_fetched_then_refused_then_restart(classroom):
    course, home, student = classroom
    nbformat.write(student_work(A, mistake=True), home / COURSE_ID / A / f"{A}.ipynb")
    student("submit", A)
    lines = []
    done = service.run_once(course, limit=600, jobs=1, timeout=40, log=lines.append)
    assert len(done["graded"]) == 1 and done["refused"] == [], lines
    student("fetch_feedback", A)
    (first,) = _feedback(home).values()
    assert "the sign is flipped" in first and "<script" not in first

    time.sleep(1.1)  # a new timestamp
    nbformat.write(student_work(A), home / COURSE_ID / A / f"{A}.ipynb")
    student("submit", A)
    done = service.run_once(course, limit=600, jobs=1, timeout=40, log=lines.append)
    assert done["graded"] == [] and len(done["refused"]) == 1
    student("fetch_feedback", A)
    pages = _feedback(home)
    assert len(pages) == 2
    refused = next(p for p in pages.values() if "not graded" in p)
    assert "one submission is graded every 10 minutes" in refused
    assert "Submit again after" in refused

    # a restart handles nothing new
    assert service.run_once(course, limit=600, jobs=1, log=lines.append) == \
        {"graded": [], "refused": []}
    # a restart after a kill between grading and recording: released again, not regraded
    state = service.load_state(course)
    graded = next(k for k, v in state["handled"].items() if v == "graded")
    del state["handled"][graded]
    state["last"].clear()  # recorded together with "handled", so lost together
    service._save(course, state)
    again = []
    done = service.run_once(course, limit=600, jobs=1, log=again.append)
    assert done["graded"] == [graded]
    assert any("unchanged since they were graded: skipped" in ln for ln in again), again
    with grading.gradebook(course) as gb:
        (sub,) = gb.find_assignment(A).submissions
        assert sub.score < sub.max_score  # the first (flipped) submission is the graded one
    assert json.loads((course / "autograded" / service.STATE).read_text())["handled"][graded] \
        == "graded"


def test_before_the_due_date_only_tests_then_everything(classroom):
    course, home, student = classroom
    config = course / "nbgrader_config.py"
    base = config.read_text()
    tomorrow = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
    config.write_text(base + f"\nc.LatePolicy.duedates = {{{A!r}: "
                      f"{tomorrow:'%Y-%m-%d %H:%M:%S UTC'}}}\n")
    nbformat.write(student_work(A, mistake=True), home / COURSE_ID / A / f"{A}.ipynb")
    student("submit", A)
    service.run_once(course, limit=600, jobs=1, timeout=40, before_due="tests", log=print)
    student("fetch_feedback", A)
    ((stamp, limited),) = _feedback(home).items()
    rows = dict(re.findall(r"<tr><td>(\w+)</td>(.*?)</tr>", limited))
    assert set(rows) == {"sigmoid", "forward", "gradients", "train"}
    assert "the sign is flipped" in rows["gradients"] and "<td>fail</td>" in rows["gradients"]
    assert rows["sigmoid"] == "<td>passed</td><td>pass</td>"
    said = service._messages(course / "autograded" / "root" / A / f"{A}.ipynb")
    hidden = [m for g, m in said.items() if g.endswith("_hidden")]
    assert hidden and not any(escape(m) in limited for m in hidden)
    full = (course / "feedback" / "root" / A / f"{A}.html").read_text()
    assert full != limited
    due = datetime.datetime(2026, 1, 2, 3, 4)
    assert "no result is shown" in service.before_due_page(course, A, "root", due, "nothing")

    config.write_text(base + f"\nc.LatePolicy.duedates = {{{A!r}: '2026-01-01 00:00:00 UTC'}}\n")
    lines = []
    service.run_once(course, limit=600, jobs=1, log=lines.append)
    assert any("full feedback released" in ln for ln in lines), lines
    student("fetch_feedback", A)
    assert _feedback(home) == {stamp: full}


def test_a_second_grading_run_waits_for_the_first(tmp_path):
    """The grading lock that the service and `make grade` take (grader.course.grading_lock):
    while one holds it, another process says it waits, and goes on once it is released."""
    other = ("import sys\nfrom grader import course\n"
             "with course.grading_lock(sys.argv[1]):\n    print('got it', flush=True)\n")
    with grading.grading_lock(tmp_path, log=lambda line: None):
        proc = subprocess.Popen([sys.executable, "-c", other, str(tmp_path)], cwd=grading.ROOT,
                                stdout=subprocess.PIPE, text=True)
        time.sleep(3)
        assert proc.poll() is None, "the second run did not wait"
    out, _ = proc.communicate(timeout=60)
    assert "another grading run of this course is under way" in out and out.endswith("got it\n")


def test_a_submission_still_being_written_waits_for_the_next_round(tmp_path):
    """Is an inbound folder taken only once nbgrader's submit has written its last file,
    submission_secret.txt (it copies the notebook, then timestamp.txt, then the secret)?"""
    from grader import service

    folder = tmp_path / "s1+ps1_perceptron+2026-12-07 22:00:00.000000 UTC+abc"
    folder.mkdir()
    (folder / "ps1_perceptron.ipynb").write_text("{}")
    (folder / "timestamp.txt").write_text("2026-12-07 22:00:00.000000 UTC")
    assert not service._complete(folder)
    (folder / "submission_secret.txt").write_text("")
    assert not service._complete(folder)
    (folder / "submission_secret.txt").write_text("f" * 128)
    assert service._complete(folder)
