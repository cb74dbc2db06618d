"""A killed grading run loses nothing already graded, and the next run grades the rest."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import zoo
from conftest import classgrade, grading, notebook, submit

from grader import report, worker
from grader.state import state_path


def test_killed_run_resumes_without_regrading(tmp_path):
    """After `make grade` is SIGKILLed mid-class, does a second run keep the grades given,
    grade only the rest, and end with every student graded as a fair TA would?"""
    a = zoo.PS1
    course = grading.new_course(tmp_path / "course", [a])
    grading.generate_release(course, a)
    kinds = {k.name: k for k in zoo.ZOOS[a] if k.name in ("correct", "untouched", "sign-flipped")}
    bases = {"source": zoo.read(notebook("source", a)),
             "release": zoo.read(course / "release" / a / f"{a}.ipynb")}
    for i in range(4):
        kind = list(kinds.values())[i % 3]
        submit(course, a, f"s{i}-{kind.name}", kind.build(bases[kind.base]))
    state = state_path(course, a)
    # the killed run cannot remove its scratch folder: give it one of ours (a short path,
    # for the kernels' Unix sockets) and remove that
    scratch = tempfile.mkdtemp(prefix="bp-resume-")
    run = subprocess.Popen([sys.executable, "-E", "-s", "-m", "grader", "grade", a, "--course",
                            str(course), "--jobs", "1"], cwd=grading.ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True, env={**os.environ, "TMPDIR": scratch})
    try:
        for _ in range(600):
            if state.exists() and json.loads(state.read_text()):
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the first run graded nobody in 120 s")
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
        for _ in range(20):  # the killed run's kernels may still be going down
            shutil.rmtree(scratch, ignore_errors=True)
            if not os.path.exists(scratch):
                break
            time.sleep(0.5)
    first = json.loads(state.read_text())
    assert 1 <= len(first) < 4, first
    lines = []
    assert classgrade.grade_class(course, a, jobs=2, log=lines.append) == {}
    assert any(f"{len(first)} submission(s) unchanged" in ln for ln in lines), lines
    assert f"{4 - len(first)} this run" in "\n".join(lines)
    for i in range(4):
        kind = list(kinds.values())[i % 3]
        got = report.scores(course, a, f"s{i}-{kind.name}")
        expected = zoo.expected_scores(kind, {g: m for g, (_, m) in got.items()})
        assert {g: s for g, (s, _) in got.items()} == expected, kind.name
    rows = (course / "grades.csv").read_text().splitlines()
    assert len(rows) == 1 + 4, rows


def test_channel_folders_of_killed_workers_are_swept():
    """Does a grading process remove the short channel folders (/tmp/bp-ch-<pid>-*) that a
    worker killed while grading left behind, and keep those of workers still running?"""
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    dead = Path(tempfile.mkdtemp(prefix=f"bp-ch-{gone}-", dir="/tmp"))
    alive = Path(tempfile.mkdtemp(prefix=f"bp-ch-{os.getpid()}-", dir="/tmp"))
    try:
        worker._sweep_channels()
        assert not dead.exists() and alive.exists()
    finally:
        for folder in (dead, alive):
            shutil.rmtree(folder, ignore_errors=True)
