"""Grading on a Dask cluster gives the same scores as grading on this machine."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zoo
from conftest import classgrade, grading, notebook, submit

from grader import report

KINDS = ["correct", "untouched", "sign-flipped"]


@pytest.fixture
def cluster(tmp_path):
    """A local Dask cluster: a scheduler and two worker processes, started by the test."""
    bin_ = Path(sys.executable).parent
    env = {**os.environ, "PYTHONPATH": str(grading.ROOT), "DASK_DISTRIBUTED__WORKER__DAEMON":
           "False", "DASK_TEMPORARY_DIRECTORY": str(tmp_path)}  # not /tmp/dask-scratch-space
    info = tmp_path / "scheduler.json"
    log = (tmp_path / "dask.log").open("w")
    procs = [subprocess.Popen([bin_ / "dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard", "--scheduler-file", str(info)],
                              cwd=tmp_path, env=env, stdout=log, stderr=log)]
    for _ in range(120):
        if info.exists():
            break
        time.sleep(0.5)
    procs.append(subprocess.Popen(
        [bin_ / "dask", "worker", "--scheduler-file", str(info), "--nworkers", "2",
         "--nthreads", "1", "--no-dashboard", "--local-directory", str(tmp_path / "w")],
        cwd=tmp_path, env=env, stdout=log, stderr=log))
    try:
        import json

        yield json.loads(info.read_text())["address"]
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def test_dask_cluster_grades_like_this_machine(cluster, tmp_path):
    """Are the per-cell scores from two Dask workers exactly those of a local run (the zoo's
    expected scores, which the local run of the zoo is held to)?"""
    a = zoo.PS1
    kinds = [k for k in zoo.ZOOS[a] if k.name in KINDS]
    course = grading.new_course(tmp_path / "course", [a])
    grading.generate_release(course, a)
    bases = {"source": zoo.read(notebook("source", a)),
             "release": zoo.read(course / "release" / a / f"{a}.ipynb")}
    for kind in kinds:
        submit(course, a, kind.name, kind.build(bases[kind.base]))
    assert classgrade.grade_class(course, a, log=lambda _: None, scheduler=cluster) == {}
    for kind in kinds:
        got = report.scores(course, a, kind.name)
        expected = zoo.expected_scores(kind, {g: m for g, (_, m) in got.items()})
        assert {g: s for g, (s, _) in got.items()} == expected, kind.name
        assert (course / "feedback" / kind.name / a / f"{a}.html").exists()
