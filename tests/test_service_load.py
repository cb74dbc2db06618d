"""The grading service under load, killed once in the middle: N students submit at once
through nbgrader's exchange (nbgrader's own ExchangeSubmit, one student id each), the
service (`python -m grader serve`, as `make serve-grading` runs it) is killed with SIGKILL
once about a third of the feedback is out, and started again. Every submission is graded
exactly once, none is lost, every student fetches their feedback (nbgrader's own
ExchangeFetchFeedback). N is 12 (BP_SERVICE_LOAD=50 for the issue's figure); the time from
the first submission to the last feedback is printed."""
import os
import re
import signal
import subprocess
import sys
import time

import nbformat
from classroom import COURSE_ID, scratch_course, student_work, wait_for
from conftest import grading
from traitlets.config import Config

A = "ps1_perceptron"
N = int(os.environ.get("BP_SERVICE_LOAD", "12"))


def _exchange_app(kind, exchange, home, student, cache):
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.default import ExchangeFetchFeedback, ExchangeSubmit

    cfg = Config()
    cfg.CourseDirectory.course_id = COURSE_ID
    cfg.CourseDirectory.assignment_id = A
    cfg.CourseDirectory.student_id = student
    cfg.CourseDirectory.root = str(home)
    cfg.Exchange.root = str(exchange)
    cfg.Exchange.cache = str(cache / student)
    cfg.Exchange.path_includes_course = True
    app = {"submit": ExchangeSubmit, "fetch_feedback": ExchangeFetchFeedback}[kind]
    return app(coursedir=CourseDirectory(config=cfg), authenticator=Authenticator(config=cfg),
               config=cfg)


def _serve(course, exchange, log):
    """The service, its temporary folders in the test's own (a killed one leaves its own)."""
    tmp = course.parent / "tmp"
    tmp.mkdir(exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-E", "-s", "-u", "-m", "grader", "serve", "--course", str(course),
         "--every", "0.5", "--jobs", "2", "--timeout", "40"], cwd=grading.ROOT,
        env={**os.environ, "BP_EXCHANGE": str(exchange), "TMPDIR": str(tmp)}, stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True)


def _stop(proc, sig):
    """Send `sig` to the service's process group and wait for it; a service still running
    60 s after Ctrl-C (seen once, under the whole suite's load) is killed, so that nothing
    outlives the test."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)


def test_many_submissions_a_kill_and_a_restart(tmp_path, monkeypatch):
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    os.chmod(exchange, 0o1777)
    monkeypatch.setenv("BP_EXCHANGE", str(exchange))
    course = scratch_course(tmp_path / "course", [A])
    grading.generate_release(course, A)
    grading.check(grading.api(course).release_assignment(A), "release")
    home, cache = tmp_path / "home", tmp_path / "cache"
    (home / COURSE_ID / A).mkdir(parents=True)
    monkeypatch.chdir(home)  # nbgrader's exchange works relative to the current folder
    students = [f"s{i:02d}" for i in range(N)]
    logs = [(tmp_path / f"serve-{i}.log").open("w") for i in (1, 2)]
    feedback = exchange / COURSE_ID / "feedback"

    def released():
        return len([p for p in feedback.glob("*.html") if not p.name.endswith("-tmp.html")]) \
            if feedback.is_dir() else 0

    service = _serve(course, exchange, logs[0])
    try:
        start = time.monotonic()
        for i, student in enumerate(students):
            nbformat.write(student_work(A, mistake=i % 2 == 1), home / COURSE_ID / A / f"{A}.ipynb")
            _exchange_app("submit", exchange, home, student, cache).start()
        submitted = time.monotonic() - start
        wait_for("a third of the feedback", lambda: released() >= N // 3, timeout=600)
        _stop(service, signal.SIGKILL)
        killed_at = released()
        assert killed_at < N, "the service finished before it could be killed"
        service = _serve(course, exchange, logs[1])
        wait_for("every feedback", lambda: released() >= N, timeout=900, every=0.2)
        last = time.monotonic() - start
    finally:
        _stop(service, signal.SIGINT)
        for log in logs:
            log.close()
    text = [(tmp_path / f"serve-{i}.log").read_text() for i in (1, 2)]
    for student in students:
        merged = sum(len(re.findall(rf"\] {student}: graded ", t)) for t in text)
        said = [ln for t in text for ln in t.splitlines() if student in ln]
        assert merged == 1, f"{student} was merged {merged} times; its lines: {said}"
    with grading.gradebook(course) as gb:
        subs = {s.student.id: (s.score, s.max_score) for s in gb.find_assignment(A).submissions}
    assert sorted(subs) == students
    for i, student in enumerate(students):
        _exchange_app("fetch_feedback", exchange, home, student, cache).start()
        (page,) = (home / COURSE_ID / A / "feedback").glob(f"*/{A}.html")
        html = page.read_text()
        assert ("the sign is flipped" in html) == (i % 2 == 1), student
        score, top = subs[student]
        assert score == (top if i % 2 == 0 else 4.0), (student, score)
        page.unlink()
    print(f"\n{N} submissions sent in {submitted:.1f} s; killed with {killed_at} feedback out; "
          f"last feedback {last:.1f} s after the first submission")
