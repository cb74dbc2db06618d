"""`make lab` serves JupyterLab on the course, with nbgrader's extensions and its exchange.

The server runs `make lab` in a scratch copy of the course (its Makefile, config, source/
and release/ of ps1, and a link to this repository's .venv), so the exchange, the gradebook
and the student's fetched work all live in the test's tmp folder.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from classroom import COURSE_ID, Http, scratch_course, student_work, wait_for

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
A = "ps1_perceptron"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_labextension_is_listed():
    out = subprocess.run([BIN / "jupyter", "labextension", "list"], capture_output=True,
                         text=True, check=True)
    assert re.search(r"@jupyter/nbgrader .*enabled", out.stdout + out.stderr)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """`make lab` on a scratch course: (course folder, Http client, server log path)."""
    tmp = tmp_path_factory.mktemp("lab")
    course = scratch_course(tmp / "course")
    for name in ("Makefile", "requirements.txt"):
        shutil.copy2(ROOT / name, course)  # copy2 keeps the mtime: make sees .venv installed
    shutil.copytree(ROOT / "requirements", course / "requirements")  # copy2 too
    (course / ".venv").symlink_to(ROOT / ".venv")
    port = _free_port()
    log_path = tmp / "lab.log"
    log = log_path.open("w+")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
           "JUPYTER_DATA_DIR": str(tmp / "data"), "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "ws")}
    server = subprocess.Popen(["make", "lab", f"PORT={port}"], cwd=course, stdout=log,
                              stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        def url():
            log.seek(0)
            found = re.search(rf"http://127\.0\.0\.1:{port}/lab\?token=\w+", log.read())
            return found and found.group(0)

        lab_url = wait_for("make lab printed no URL", url, timeout=90)
        http = Http(f"http://127.0.0.1:{port}", lab_url.split("token=")[1])
        yield course, http, log_path
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_make_lab_serves_the_course(lab):
    _, http, _ = lab
    assert "JupyterLab" in http.get("/lab")
    names = [item["name"] for item in http.get("/api/contents/release")["content"]]
    assert A in names, "the server does not serve the course folder"
    assert http.get("/formgrader/api/status")["status"] is True


def test_exchange_release_fetch_validate_submit_collect(lab):
    """Instructor releases from Formgrader, the student fetches, validates and submits from
    the Assignment List, the instructor collects: all through the server's HTTP API."""
    course, http, log_path = lab
    me = os.environ.get("USER") or __import__("pwd").getpwuid(os.getuid()).pw_name

    assert http.get("/courses") == {"success": True, "value": []}  # nothing released yet
    released = http.post(f"/formgrader/api/assignment/{A}/release")
    assert released["success"], released
    assert http.get("/courses") == {"success": True, "value": [COURSE_ID]}
    listing = http.get(f"/assignments?course_id={COURSE_ID}")
    assert listing["success"], listing
    assert [(a["assignment_id"], a["status"]) for a in listing["value"]] == [(A, "released")]
    formgrader = {a["name"]: a for a in http.get("/formgrader/api/assignments")}
    assert formgrader[A]["status"] == "released", formgrader[A]

    http.nbgrader("/assignments/fetch", {"course_id": COURSE_ID, "assignment_id": A})
    fetched = f"{COURSE_ID}/{A}/{A}.ipynb"
    assert (course / fetched).is_file() and (course / COURSE_ID / A / "check.py").is_file()
    http.put_notebook(fetched, student_work(A))

    verdict = http.nbgrader("/assignments/validate", {"path": fetched})
    assert not any(verdict.get(k) for k in ("failed", "changed", "type_changed")), verdict

    http.nbgrader("/assignments/submit", {"course_id": COURSE_ID, "assignment_id": A})
    listing = http.get(f"/assignments?course_id={COURSE_ID}")["value"]
    assert any(a["status"] == "submitted" for a in listing), listing

    collected = http.post(f"/formgrader/api/assignment/{A}/collect")
    assert collected["success"], collected
    got = nbformat.read(course / "submitted" / me / A / f"{A}.ipynb", as_version=4)
    assert got == student_work(A), "the collected notebook is not what the student submitted"

    log = log_path.read_text()
    for bad in ("ExchangeError", "Unwritable directory", "exchange directory does not exist",
                "[E ", "is not absolute"):
        assert bad not in log, f"the server log reports {bad!r}:\n{log[-3000:]}"
