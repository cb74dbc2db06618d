"""A class on JupyterHub, end to end (hub/jupyterhub_config.py, hub/setup.py).

One hub for the module, on free ports of 127.0.0.1, with everything it writes (the hub's
state, the users' homes that the servers serve, the exchange, the instructor's course) in
one tmp folder that is removed at the end. The Unix users bp-instructor, bp-student1 and
bp-student2 are created by hub/setup.py where they do not exist yet, and those it created
are removed at the end (with their homes). When the course lies where other users cannot
enter (a clone in /root), what their servers read is staged in the tmp folder
(BP_HUB_STAGE, see hub/setup.py).

The instructor releases ps1 from Formgrader; two students fetch it from the Assignment
List, one solves it, one flips the sign of the output delta, both submit; the instructor
collects, grades with `python -m grader grade` (the course's sandbox, as root) and releases
feedback; each student fetches their own feedback and sees their own score and mistake.
Meanwhile the hub's grading service grades the same submissions as they arrive: the
instructor's run waits for it and finds them graded. Then, with ps2, a student gets feedback
without the instructor: submits, fetches the feedback the service released, submits again
within the limit and is told when to submit again.
Everything goes through the hub's REST API and the users' servers' HTTP API with tokens.
"""
import json
import os
import pwd
import re
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

import nbformat
import pytest
from classroom import COURSE_ID, Http, student_work, wait_for
from conftest import required

ROOT = Path(__file__).resolve().parent.parent
CHP = ROOT / ".venv" / "chp" / "node_modules" / ".bin" / "configurable-http-proxy"
A = "ps1_perceptron"
A2 = "ps2_multi_output_perceptron"  # the feedback-on-submit test's
INSTRUCTOR, GOOD, BAD = "bp-instructor", "bp-student1", "bp-student2"
USERS = (INSTRUCTOR, GOOD, BAD)
TIMES = {}


def _missing():
    """Why the hub cannot run on this machine, or None."""
    if os.geteuid() != 0:
        return "the hub test needs root (it creates Unix users and starts servers as them)."
    if not CHP.exists():
        return "configurable-http-proxy is not installed; run `make hub-install` (needs npm)."
    for tool in ("useradd", "userdel", "runuser"):
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


def _others_can_enter(path):
    """Whether users other than root can reach `path` (every folder on the way has o+x)."""
    return all(p.stat().st_mode & 0o001 for p in (path, *path.parents) if p.is_dir())


def _service_processes(course):
    """The grading service of this test's hub (and what it started), by its command line."""
    import psutil

    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info["cmdline"] or []
        if "grader" in cmd and "serve" in cmd and str(course) in cmd:
            found.append(proc)
    return found


def remove_users(users):
    """Remove Unix users that a test created, with their homes; first end what runs as them."""
    import psutil

    for user in users:
        try:
            uid = pwd.getpwnam(user).pw_uid
        except KeyError:
            continue
        left = [p for p in psutil.process_iter(["uids"]) if p.info["uids"]
                and p.info["uids"].real == uid]
        for proc in left:
            proc.kill()
        psutil.wait_procs(left, timeout=10)
        subprocess.run(["userdel", "--remove", user], capture_output=True, check=False)


@pytest.fixture(scope="module")
def hub():
    required(_missing(), "run the hub test")
    start = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="bp-hub-", dir="/tmp"))
    tmp.chmod(0o711)  # the users reach their homes and the exchange inside it
    port, api_port, proxy_port = _free_ports(3)
    admin_token = secrets.token_hex(24)
    env = {**os.environ, "BP_HUB_HOMES": str(tmp / "homes"), "BP_EXCHANGE": str(tmp / "exchange"),
           "BP_HUB_STATE": str(tmp / "state"), "BP_HUB_STUDENTS": f"{GOOD} {BAD}",
           "BP_HUB_PORT": str(port), "BP_HUB_API_PORT": str(api_port),
           "BP_HUB_PROXY_API_PORT": str(proxy_port), "BP_HUB_ADMIN_TOKEN": admin_token,
           "BP_GRADING_JOBS": "1", "BP_GRADING_LIMIT": "600",
           # the hub's and its grading service's temporary folders (a killed one leaves its own)
           "TMPDIR": str(tmp / "tmp")}
    (tmp / "tmp").mkdir()
    if not _others_can_enter(ROOT / ".venv"):  # a clone in /root: stage what the users read
        env["BP_HUB_STAGE"] = str(tmp / "staged")
    log_path = tmp / "hub.log"
    course = tmp / "homes" / INSTRUCTOR / COURSE_ID
    created = []
    for user in USERS:
        try:
            pwd.getpwnam(user)
        except KeyError:
            created.append(user)
    proc, left = None, []
    try:
        setup = subprocess.run([sys.executable, ROOT / "hub" / "setup.py"], env=env,
                               cwd=ROOT, capture_output=True, text=True, check=False)
        assert setup.returncode == 0, setup.stderr
        TIMES["setup (s)"] = time.monotonic() - start
        python = re.search(r"users' Python (\S+)", setup.stdout)[1]  # what the users run
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
        assert _service_processes(course), f"the grading service is not running: see {log_path}"
        yield {"users": users, "admin": admin, "tmp": tmp, "env": env, "log": log_path,
               "course": course, "hub": proc, "python": python}
    finally:
        if proc is not None:
            try:
                for user in USERS:
                    admin.call("DELETE", f"/users/{user}/server", ok=(202, 204, 400, 404))
            except (OSError, AssertionError):
                pass
            # the hub stops the grading service, the proxy and the remaining servers
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
            left = _service_processes(course)
            for service in left:  # outlived the hub: end it, and fail below
                service.kill()
        remove_users(created)
        shutil.rmtree(tmp, ignore_errors=True)
        print("hub test: " + ", ".join(f"{k} {v:.1f}" for k, v in TIMES.items()))
    assert not left, f"the grading service outlived the hub: {[p.pid for p in left]}"


def _feedback_pages(http, a=A):
    """{timestamp folder: HTML} of the feedback that the student fetched, read through their
    server."""
    folder = f"/api/contents/{COURSE_ID}/{a}/feedback"
    listing = http.get(folder, ok=(200, 404))
    stamps = [item["path"] for item in listing["content"]] if isinstance(listing, dict) and \
        listing.get("type") == "directory" else []
    return {stamp.rsplit("/", 1)[-1]: http.get(
        f"/api/contents/{quote(stamp)}/{a}.html?content=1&type=file&format=text")["content"]
        for stamp in stamps}


def _feedback_html(http):
    """The one HTML feedback of ps1 that the student fetched."""
    (page,) = _feedback_pages(http).values()
    return page


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
    # the hub's grading service graded them too, or waits to find them unchanged: together,
    # each submission is graded once
    for student in (GOOD, BAD):
        graded = re.findall(rf"\] {student}: graded ", run.stdout + hub["log"].read_text())
        assert len(graded) == 1, (student, run.stdout[-2000:])
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


def test_feedback_on_submit_then_told_to_wait(hub):
    """ps2: the hub's grading service grades a submission and releases its feedback with no
    instructor action; a second submission within the limit is refused with a sentence."""
    users, course = hub["users"], hub["course"]
    teacher, good = users[INSTRUCTOR], users[GOOD]
    released = teacher.post(f"/formgrader/api/assignment/{A2}/release")
    assert released["success"], released
    good.nbgrader("/assignments/fetch", {"course_id": COURSE_ID, "assignment_id": A2})
    good.put_notebook(f"{COURSE_ID}/{A2}/{A2}.ipynb", student_work(A2))
    start = time.monotonic()
    good.nbgrader("/assignments/submit", {"course_id": COURSE_ID, "assignment_id": A2})

    def fetched(n):
        good.nbgrader("/assignments/fetch_feedback", {"course_id": COURSE_ID,
                                                      "assignment_id": A2})
        pages = _feedback_pages(good, A2)
        return pages if len(pages) >= n else None

    (first,) = wait_for("no feedback reached the student (see the hub's log "
                        f"{hub['log']})", lambda: fetched(1), timeout=120, every=2).values()
    TIMES["submit to fetched feedback (s)"] = time.monotonic() - start
    score = re.search(r"Score: ([\d.]+) / ([\d.]+)", first)
    assert score and float(score[1]) == float(score[2]) > 0, first[:2000]

    good.nbgrader("/assignments/submit", {"course_id": COURSE_ID, "assignment_id": A2})
    pages = wait_for("the refusal did not reach the student", lambda: fetched(2), timeout=120,
                     every=2)
    (told,) = [p for p in pages.values() if p != first]
    assert "was received but not graded: one submission is graded every 10 minutes" in told
    assert "Submit again after" in told, told

    # the instructor's course holds both: the first graded, in the gradebook, the second
    # recorded as refused (Collect in Formgrader still gets it, as the latest submission)
    state = json.loads((course / "autograded" / ".bp-service.json").read_text())
    handled = sorted((name.split("+")[2], how) for name, how in state["handled"].items()
                     if name.startswith(f"{GOOD}+{A2}+"))
    assert [how for _, how in handled] == ["graded", "refused"], handled
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        sub = gb.find_submission(A2, GOOD)
        assert sub.score == sub.max_score > 0
        assert str(sub.timestamp) == handled[0][0].replace(" UTC", ""), (sub.timestamp, handled)
    owner = pwd.getpwnam(INSTRUCTOR).pw_uid
    assert (course / "gradebook.db").stat().st_uid == owner  # given back after grading
    log = hub["log"].read_text()
    assert f"{GOOD}: graded" in log and "refused" in log, log[-3000:]


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
                         (GOOD, hub["course"] / "gradebook.db"),
                         # the feedback the grading service released: reached by name only
                         (GOOD, tmp / "exchange" / COURSE_ID / "feedback")):
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


# One student of the load test, run as that Unix user in their home: submit with nbgrader's
# own exchange, then fetch feedback every 2 s until it comes; prints when it submitted and when
# it had the feedback (the clock's seconds).
STUDENT = """
import sys, time
from pathlib import Path
from traitlets.config import Config
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange.default import ExchangeFetchFeedback, ExchangeSubmit
exchange, course_id, a, timeout = sys.argv[1:]

def app(kind):
    cfg = Config()
    cfg.CourseDirectory.course_id = course_id
    cfg.CourseDirectory.assignment_id = a
    cfg.CourseDirectory.root = str(Path.cwd())
    cfg.Exchange.root = exchange
    cfg.Exchange.cache = str(Path.cwd() / "cache")
    cfg.Exchange.path_includes_course = True
    return kind(coursedir=CourseDirectory(config=cfg), authenticator=Authenticator(config=cfg),
                config=cfg)

app(ExchangeSubmit).start()
submitted = time.time()
while not list(Path(course_id, a, "feedback").glob(f"*/{a}.html")):
    if time.time() - submitted > float(timeout):
        sys.exit(f"no feedback after {timeout} s")
    time.sleep(2)
    try:
        app(ExchangeFetchFeedback).start()
    except Exception:  # no feedback folder yet
        pass
print(submitted, time.time())
"""
LOAD = int(os.environ.get("BP_HUB_LOAD", "6"))


def test_many_students_submit_the_service_is_killed_and_the_hub_restarts_it(hub):
    """LOAD students (Unix users made for the test, removed at the end) submit ps1 at once
    through the hub's exchange as themselves; once a third of the feedback is out the grading
    service is killed (SIGKILL) and the hub starts it again. Every submission is graded
    exactly once and every student fetches their feedback. BP_HUB_LOAD=50 for the issue's
    figure."""
    import psutil

    tmp, course, teacher = hub["tmp"], hub["course"], hub["users"][INSTRUCTOR]
    exchange = Path(hub["env"]["BP_EXCHANGE"]) / COURSE_ID
    if not (exchange / "outbound" / A).is_dir():
        assert teacher.post(f"/formgrader/api/assignment/{A}/release")["success"]
    tag = secrets.token_hex(2)
    students = [f"bp-load-{tag}-{i:02d}" for i in range(LOAD)]
    feedback = exchange / "feedback"
    before = len(list(feedback.glob("*.html")))
    procs, created = {}, []
    try:
        for i, student in enumerate(students):
            subprocess.run(["useradd", "--no-create-home", "--home-dir", str(tmp / student),
                            "--user-group", "--shell", "/usr/sbin/nologin", student],
                           check=True, capture_output=True)
            created.append(student)
            home = tmp / student
            (home / COURSE_ID / A).mkdir(parents=True)
            nbformat.write(student_work(A, mistake=i % 2 == 1), home / COURSE_ID / A / f"{A}.ipynb")
            pw = pwd.getpwnam(student)
            for folder, dirs, files in os.walk(home):
                for name in [folder, *(os.path.join(folder, f) for f in dirs + files)]:
                    os.chown(name, pw.pw_uid, pw.pw_gid)
            home.chmod(0o700)
        for student in students:  # all at once, as themselves
            procs[student] = subprocess.Popen(
                [shutil.which("runuser"), "-u", student, "--", hub["python"], "-c", STUDENT, str(exchange.parent),
                 COURSE_ID, A, "600"], cwd=tmp / student, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True,
                env={"HOME": str(tmp / student), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
                     "OMP_NUM_THREADS": "1"})

        def released():
            return len([p for p in feedback.glob("*.html") if not p.name.endswith("-tmp.html")])

        wait_for("a third of the feedback", lambda: released() - before >= max(1, LOAD // 3),
                 timeout=600, every=0.5)
        (service,) = [p for p in _service_processes(course) if p.ppid() == hub["hub"].pid]
        service.kill()
        killed, killed_at = time.monotonic(), released() - before
        assert killed_at < LOAD, "the service finished before it could be killed"
        again = wait_for("the hub did not start the grading service again", lambda: [
            p for p in _service_processes(course) if p.ppid() == hub["hub"].pid
            and p.pid != service.pid], timeout=90)
        TIMES["hub restarted the killed service after (s)"] = time.monotonic() - killed
        assert len(again) == 1
        times = {}  # student: (submitted, had the feedback)
        for student, proc in procs.items():
            out, err = proc.communicate(timeout=900)
            assert proc.returncode == 0, (student, err[-2000:])
            times[student] = tuple(map(float, out.split()[-2:]))
        pages = {student: [p.read_text() for p in (tmp / student / COURSE_ID / A / "feedback")
                           .glob(f"*/{A}.html")] for student in students}
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
        remove_users(created)
    log = hub["log"].read_text()
    for i, student in enumerate(students):  # graded exactly once, with its own verdict
        assert len(re.findall(rf"\] {student}: graded ", log)) == 1, (student, log[-4000:])
        (page,) = pages[student]
        assert ("the sign is flipped" in page) == (i % 2 == 1), student
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        graded = {s.student.id for s in gb.find_assignment(A).submissions}
    assert set(students) <= graded
    assert psutil.pid_exists(again[0].pid)
    first, last = min(t[0] for t in times.values()), max(t[1] for t in times.values())
    TIMES[f"{LOAD} students: submissions within (s)"] = max(t[0] for t in times.values()) - first
    TIMES[f"{LOAD} students: killed with feedback out"] = killed_at
    TIMES[f"{LOAD} students: first submission to last feedback (s)"] = last - first
    TIMES[f"{LOAD} students: slowest submit to fetched feedback (s)"] = max(
        b - a for a, b in times.values())
