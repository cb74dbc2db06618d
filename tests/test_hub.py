"""A class on JupyterHub, end to end (hub/jupyterhub_config.py, hub/setup.py).

One hub for the module, on free ports of 127.0.0.1, with everything it writes (the hub's
state, the users' homes that the servers serve, the exchange, the instructor's course) in
one tmp folder that is removed at the end. The Unix users bp-instructor, bp-student1 and
bp-student2 are created once by hub/setup.py and stay (creation is idempotent).

The instructor releases ps1 from Formgrader; two students fetch it from the Assignment
List, one solves it, one flips the sign of the output delta, both submit; the instructor
collects, grades with `python -m grader grade` (the course's sandbox, as root) and releases
feedback; each student fetches their own feedback and sees their own score and mistake.
Everything goes through the hub's REST API and the users' servers' HTTP API with tokens.
"""
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import pytest
from classroom import COURSE_ID, Http, student_work, wait_for

ROOT = Path(__file__).resolve().parent.parent
CHP = ROOT / ".venv" / "chp" / "node_modules" / ".bin" / "configurable-http-proxy"
A = "ps1_perceptron"
INSTRUCTOR, GOOD, BAD = "bp-instructor", "bp-student1", "bp-student2"
USERS = (INSTRUCTOR, GOOD, BAD)
TIMES = {}


def _missing():
    """Why the hub cannot run on this machine, or None."""
    if os.geteuid() != 0:
        return "the hub test needs root (it creates Unix users and starts servers as them)."
    if not CHP.exists():
        return "configurable-http-proxy is not installed; run `make hub-install` (needs npm)."
    for tool in ("useradd", "runuser"):
        if not shutil.which(tool):
            return f"the hub test needs the `{tool}` command, which this machine lacks."
    return None


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.fixture(scope="module")
def hub():
    reason = _missing()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the hub test, but {reason}")
        pytest.skip(reason)
    start = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="bp-hub-", dir="/tmp"))
    tmp.chmod(0o711)  # the users reach their homes and the exchange inside it
    port, api_port, proxy_port = _free_ports(3)
    admin_token = secrets.token_hex(24)
    env = {**os.environ, "BP_HUB_HOMES": str(tmp / "homes"), "BP_EXCHANGE": str(tmp / "exchange"),
           "BP_HUB_STATE": str(tmp / "state"), "BP_HUB_STUDENTS": f"{GOOD} {BAD}",
           "BP_HUB_PORT": str(port), "BP_HUB_API_PORT": str(api_port),
           "BP_HUB_PROXY_API_PORT": str(proxy_port), "BP_HUB_ADMIN_TOKEN": admin_token}
    log_path = tmp / "hub.log"
    proc = None
    try:
        setup = subprocess.run([sys.executable, ROOT / "hub" / "setup.py"], env=env,
                               cwd=ROOT, capture_output=True, text=True, check=False)
        assert setup.returncode == 0, setup.stderr
        TIMES["setup (s)"] = time.monotonic() - start
        with log_path.open("w") as log:
            proc = subprocess.Popen([Path(sys.executable).parent / "jupyterhub", "-f",
                                     ROOT / "hub" / "jupyterhub_config.py"], cwd=tmp, env=env,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        admin = Http(f"{base}/hub/api", admin_token)
        wait_for("the hub did not start: see " + str(log_path),
                 lambda: proc.poll() is None and admin.get("/users"), timeout=60)
        TIMES["hub up (s)"] = time.monotonic() - start

        def login(user):
            """What a login gives: the user's running server and a token for it."""
            admin.post(f"/users/{user}/server")
            wait_for(f"the server of {user} did not start (see {log_path})",
                     lambda: admin.get(f"/users/{user}")["servers"].get("", {}).get("ready"),
                     timeout=120)
            token = admin.post(f"/users/{user}/tokens",
                               body={"note": "class test", "expires_in": 900})["token"]
            return Http(f"{base}/user/{user}", token)

        with ThreadPoolExecutor(len(USERS)) as pool:
            users = dict(zip(USERS, pool.map(login, USERS)))
        TIMES["3 servers up (s)"] = time.monotonic() - start
        yield {"users": users, "admin": admin, "tmp": tmp, "env": env, "log": log_path,
               "course": tmp / "homes" / INSTRUCTOR / COURSE_ID}
    finally:
        if proc is not None:
            try:
                for user in USERS:
                    admin.call("DELETE", f"/users/{user}/server", ok=(202, 204, 400, 404))
            except (OSError, AssertionError):
                pass
            proc.send_signal(signal.SIGTERM)  # the hub stops the proxy and remaining servers
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)
        print("hub test: " + ", ".join(f"{k} {v:.1f}" for k, v in TIMES.items()))


def _feedback_html(http):
    """The HTML feedback that the student fetched, read through their server."""
    folder = f"/api/contents/{COURSE_ID}/{A}/feedback"
    (stamp,) = [item["path"] for item in http.get(folder)["content"]]
    page = http.get(f"/api/contents/{quote(stamp)}/{A}.html?content=1&type=file&format=text")
    return page["content"]


def test_class_through_the_hub(hub):
    start = time.monotonic()
    users, course = hub["users"], hub["course"]
    teacher, good, bad = users[INSTRUCTOR], users[GOOD], users[BAD]

    # 1. the instructor releases ps1 from Formgrader
    released = teacher.post(f"/formgrader/api/assignment/{A}/release")
    assert released["success"], released

    # 2. both students fetch it, work on it and submit it from the Assignment List
    for http, mistake in ((good, False), (bad, True)):
        listing = http.get(f"/assignments?course_id={COURSE_ID}")
        assert listing["success"], listing
        assert [(a["assignment_id"], a["status"]) for a in listing["value"]] == [(A, "released")]
        http.nbgrader("/assignments/fetch", {"course_id": COURSE_ID, "assignment_id": A})
        http.put_notebook(f"{COURSE_ID}/{A}/{A}.ipynb", student_work(A, mistake=mistake))
        http.nbgrader("/assignments/submit", {"course_id": COURSE_ID, "assignment_id": A})

    # 3. the instructor collects and grades (the course's sandbox, as root)
    collected = teacher.post(f"/formgrader/api/assignment/{A}/collect")
    assert collected["success"], collected
    for student in (GOOD, BAD):
        assert (course / "submitted" / student / A / f"{A}.ipynb").is_file(), collected
    grading = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "grader", "grade", A, "--course", str(course)],
                         cwd=ROOT, capture_output=True, text=True, check=False,
                         env={**os.environ, "OMP_NUM_THREADS": "1",  # no hub token
                              "BP_EXCHANGE": hub["env"]["BP_EXCHANGE"]})
    TIMES["grading 2 students (s)"] = time.monotonic() - grading
    assert run.returncode == 0, run.stdout + run.stderr
    owner = pwd.getpwnam(INSTRUCTOR)
    for folder, dirs, files in os.walk(course):  # graded as root: give it back
        for name in [folder, *(os.path.join(folder, f) for f in dirs + files)]:
            os.lchown(name, owner.pw_uid, -1)  # group stays root

    # 4. the gradebook: full marks for one, the gradients part lost for the other
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        totals = {s: (gb.find_submission(A, s).score, gb.find_submission(A, s).max_score)
                  for s in (GOOD, BAD)}
        grades = {g.name: g.score for nb in gb.find_submission(A, BAD).notebooks
                  for g in nb.grades}
    assert totals[GOOD][0] == totals[GOOD][1] > 0, totals
    assert 0 < totals[BAD][0] < totals[BAD][1], totals
    assert grades["test_gradients"] == 0 and grades["test_sigmoid"] == 1, grades

    # 5. the instructor releases feedback; each student fetches their own
    released = teacher.post(f"/formgrader/api/assignment/{A}/release_feedback")
    assert released["success"], released
    pages = {}
    for student, http in ((GOOD, good), (BAD, bad)):
        http.nbgrader("/assignments/fetch_feedback", {"course_id": COURSE_ID, "assignment_id": A})
        pages[student] = _feedback_html(http)
    for student, (score, max_score) in totals.items():
        assert f"Score: {score:g} / {max_score:g}" in pages[student].replace(".0 ", " ").replace(
            ".0)", ")"), pages[student][:2000]
    assert "the sign is flipped" in pages[BAD]
    assert "the sign is flipped" not in pages[GOOD]
    assert "BEGIN HIDDEN TESTS" not in pages[BAD] + pages[GOOD]
    TIMES["class workflow (s)"] = time.monotonic() - start


def test_nobody_sees_anothers_work(hub):
    """Run after the class test: the fetched work and feedback exist in both homes."""
    users, tmp = hub["users"], hub["tmp"]
    good, bad = users[GOOD], users[BAD]
    # through the hub: a student's token does not open another user's server
    for other in (BAD, INSTRUCTOR):
        Http(good.base.replace(GOOD, other), good.token).get("/api/contents", ok=(403, 404))
    # on disk: the homes are private, and so is the instructor's course
    for reader, path in ((GOOD, tmp / "homes" / BAD / COURSE_ID),
                         (BAD, tmp / "homes" / GOOD / COURSE_ID),
                         (GOOD, hub["course"] / "gradebook.db")):
        peek = subprocess.run(["runuser", "-u", reader, "--", "ls", str(path)],
                              capture_output=True, text=True, check=False)
        assert peek.returncode != 0 and "Permission denied" in peek.stderr, (reader, path)
    # Formgrader is the instructor's only
    assert "formgrader" not in str(bad.get("/api/config/labconfig", ok=(200, 404)))
    bad.get("/formgrader/api/assignments", ok=(404,))
    users[INSTRUCTOR].get("/formgrader/api/assignments")
    import psutil

    rss = sum(p.info["memory_info"].rss for p in psutil.process_iter(["username", "memory_info"])
              if p.info["username"] == BAD and p.info["memory_info"])
    TIMES["memory of one student's server (MB)"] = rss / 2**20
    log = hub["log"].read_text()
    for bad_line in ("ExchangeError", "Unwritable directory", "Traceback"):
        assert bad_line not in log, f"the hub log reports {bad_line!r}:\n{log[-3000:]}"
