"""Grading as a user who is not root: the grader's own command,
`python -E -s -m grader grade ps1_perceptron --jobs 2`, run as the unprivileged user `nobody`,
so each kernel is sandboxed the non-root way (`bwrap --unshare-user`).

The test runs as root (as CI does) and switches to `nobody` (which exists on every Debian
machine and stays as it was: no user is created). Everything the grader reads or writes is in
one scratch folder of /tmp (mode 711, a short path for the kernels' Unix sockets), removed at
the end: a scratch course (the grader package, nbgrader_config.py, source/ps1_perceptron,
the submissions) and the grader's home and temporary folder, all owned by `nobody`.

The course's Python may live where `nobody` cannot go (pyenv under /root, mode 700). The
grader then runs in a private mount namespace (`unshare --mount`) in which each such folder
(/root) is replaced by a folder of mode 755 that holds only the Python folders, bound in
(the interpreter and the venv, at their own paths): nothing of the host changes, and the
grader runs with the very interpreter and packages `make grade` uses.

One class run (two jobs, two rounds) grades four submissions: two hostile ones made of four
kinds of the zoo (the file system: reads of the course and the gradebook, then startup files
planted for later students; the processes: signals to everything in sight, then two
processes left behind), the named mistake (the sign flip), and the correct solution, graded
after the hostile ones so that it is also the control. Each must get the zoo's exact per-cell
score and feedback. Then: the grader exited 0 and graded everyone, nothing is left in its
temporary folder, no process of the run is alive, nothing was planted, the course's files are
unchanged, and `nobody` wrote nothing outside the scratch folder (every folder it could write
to is looked at). The second test shows that each symptom of a broken run would be reported.
"""
import copy
import dataclasses
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from html import unescape
from pathlib import Path

import pytest
import zoo
from conftest import grading, notebook, submit

from grader import report, sandbox

USER = "nobody"
A = zoo.PS1
# not the zoo's marker: test_zoo (or this test in another session) may run at the same time
MARKER = f"bp-nonroot-leftover-{os.getpid()}"
PREFIX = "bp-nonroot-"  # the scratch folder's
# The course's interpreter, named by its venv's real folder: the zoo's file-system search skips
# the kernel's sys.prefix, and through a .venv that links to another venv, sys.prefix would be
# the link while the search reached the real folder (and nbgrader's own test gradebook.db).
PYTHON = Path(sys.executable).parent.resolve() / Path(sys.executable).name
PLANTER = "hostile-files"  # its own code says PLANTED
PLANTED = ("sitecustomize.py", "usercustomize.py", "zz_planted.pth", "00-planted.py")


def _together(name, *kinds):
    """One submission that does what each of `kinds` does, in that order (fewer kernels)."""
    assert all(k.base == "source" and not k.files for k in kinds)
    lose = set().union(*(set(k.lose) for k in kinds))  # each kind of the zoo
    return zoo.Kind(name, "source", [step for k in kinds for step in k.steps], lose=lose,
                    says=tuple(p for k in kinds for p in k.says),
                    never=tuple(p for k in kinds for p in k.never))


def _kinds():
    """{student: zoo kind}, graded in name order, two at a time."""
    zoo_kinds = {k.name: k for k in zoo.ZOOS[A]}
    leftover = zoo.Kind("leftover-processes", "source",
                        [zoo.append(zoo.LEFTOVER.replace("bp-leftover-marker", MARKER))],
                        says=("two processes left",))
    kinds = [
        # the file system: look for the course and the gradebook, plant startup files
        _together(PLANTER, zoo_kinds["reads-secrets"], zoo_kinds["persistence"]),
        # the processes: signal everything in sight, then leave two processes running
        _together("hostile-processes", zoo_kinds["signals-grader"], leftover),
        zoo_kinds["sign-flipped"],
        # the whole notebook against the verdict: a patch at the top level, forged records,
        # autograd through assembled names
        zoo_kinds["tensor-method-at-top-level"],
        zoo_kinds["replaces-the-checks"],
        zoo_kinds["attrgetter-assembled-names"],
        # the correct solution is also the control: graded after the hostile ones, it must
        # still get full marks
        dataclasses.replace(zoo_kinds["correct"], name="zz-correct"),
    ]
    return {k.name: k for k in kinds}


KINDS = _kinds()


def _why_not():
    """Why this machine cannot run the test, or None."""
    if os.geteuid() != 0:
        return ("this test switches from root to the unprivileged user nobody, which needs "
                "root; run as a normal user, the other grading tests already grade without root.")
    try:
        pwd.getpwnam(USER)
    except KeyError:
        return f"there is no user {USER} on this machine to grade as."
    for tool in ("unshare", "mount", "setpriv", "find"):
        if not shutil.which(tool):
            return f"the non-root grading test needs the `{tool}` command, which is missing."
    return None


def _hidden_top(path, uid):
    """The first folder on the way to `path` that user `uid` cannot enter, or None."""
    for folder in [*reversed(Path(path).parents), Path(path)][1:]:
        st = folder.stat()
        if not st.st_mode & 0o001 and st.st_uid != uid:
            return folder
    return None


def _view(scratch, uid):
    """Shell lines (run as root in a private mount namespace) after which `uid` reaches the
    course's Python: each folder it cannot enter is replaced by a skeleton of mode 755 in
    `scratch` holding only the Python folders below it, bound at their own paths."""
    dirs = [PYTHON.resolve().parent, *sandbox._python_dirs()]
    dirs = [d for d in dirs if not any(o != d and o in d.parents for o in dirs)]
    lines, tops = [], {}
    for d in dirs:
        top = _hidden_top(d, uid)
        if top is None:
            continue
        skeleton = tops.setdefault(top, scratch / "view" / str(len(tops)))
        inner = skeleton / d.relative_to(top)
        inner.mkdir(parents=True, exist_ok=True)
        for folder in [inner, *inner.parents]:
            if folder == skeleton.parent:
                break
            folder.chmod(0o755)
        lines.append(f"mount --bind {shlex.quote(str(d))} {shlex.quote(str(inner))}")
    for top, skeleton in tops.items():
        lines.append(f"mount --rbind {shlex.quote(str(skeleton))} {shlex.quote(str(top))}")
    return lines


def _as_user(scratch, pw, command, cwd, timeout):
    """Run `command` as the user, with a clean environment, seeing the course's Python."""
    env = {"HOME": str(scratch / "home"), "TMPDIR": str(scratch / "tmp"), "LANG": "C.UTF-8",
           "PATH": f"{PYTHON.parent}:/usr/bin:/bin", "USER": pw.pw_name,
           "LOGNAME": pw.pw_name}
    switch = ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups",
              "--", "env", "-i", *(f"{k}={v}" for k, v in env.items()), *command]
    script = "\n".join([*_view(scratch, pw.pw_uid), "exec " + shlex.join(switch)])
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "--",
                           "/bin/sh", "-ec", script], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, check=False)


def _writable_folders(uid):
    """Every folder that user `uid` could create files in, but scratch folders of this test."""
    found = subprocess.run(
        ["find", "/", "/dev/shm", "-xdev", "(", "!", "-perm", "-0001", "!", "-uid", str(uid),
         "-prune", ")", "-o", "-type", "d", "(", "-perm", "-0002", "-o", "-uid", str(uid), ")",
         "-print"], capture_output=True, text=True, check=False).stdout.splitlines()
    # (another session's scratch folder changes on its own)
    return [Path(p) for p in found if not any(part.startswith(PREFIX) for part in Path(p).parts)]


def _written(uid, folders, since):
    """The entries of `folders` that `uid` owns and that changed after `since` (a time)."""
    found = []
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            st = entry.stat(follow_symlinks=False)
            if st.st_uid == uid and max(st.st_ctime, st.st_mtime) >= since:
                found.append(entry.path)
    return sorted(found)


def _running(uid, *needles):
    """{pid: command line} of the processes of `uid` whose command line has one of `needles`."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            owner = Path(f"/proc/{pid}").stat().st_uid
        except OSError:
            continue
        if owner == uid and any(n in cmd for n in needles):
            found[int(pid)] = cmd[:200]
    return found


def _planted(scratch):
    """Startup files a student planted (sitecustomize.py, a .pth file, an IPython startup)
    where a later Python or IPython would run them: the Python folders, the homes, `scratch`."""
    folders = {*sandbox._python_dirs(), *Path("/").glob("*/.ipython/profile_default/startup"),
               *Path("/home").glob("*/.ipython/profile_default/startup")}
    files = [f / name for f in folders for name in PLANTED]
    files += [p for p in scratch.rglob("*") if p.name in PLANTED]
    return sorted(str(p) for p in files
                  if p.is_file() and "PLANTED" in p.read_text(errors="ignore"))


def _build_course(scratch, pw):
    course = grading.new_course(scratch / "course", [A])
    shutil.copytree(grading.ROOT / "grader", course / "grader", ignore=grading.IGNORED)
    bases = {b: zoo.read(notebook(b, A)) for b in ("source", "release")}
    for name, kind in KINDS.items():
        submit(course, A, name, kind.build(bases[kind.base]))
    for folder in (course, scratch / "home", scratch / "tmp"):
        folder.mkdir(exist_ok=True)
        for path in [folder, *folder.rglob("*")]:
            os.chown(path, pw.pw_uid, pw.pw_gid, follow_symlinks=False)
    course.chmod(0o700)
    return course


@pytest.fixture(scope="module")
def graded():
    """One class run as the user; the facts the checks look at."""
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    pw = pwd.getpwnam(USER)
    scratch = Path(tempfile.mkdtemp(prefix=PREFIX, dir="/tmp"))
    try:
        scratch.chmod(0o711)  # the user can enter it; no other user can list it
        course = _build_course(scratch, pw)
        hashes = {p: p.read_bytes() for p in sorted((course / "source").rglob("*"))
                  + sorted((course / "submitted").rglob("*")) if p.is_file()}
        start, since = time.monotonic(), time.time() - 1
        with ThreadPoolExecutor(1) as pool:  # found while the class is graded
            writable = pool.submit(_writable_folders, pw.pw_uid)
            run = _as_user(scratch, pw, [str(PYTHON), "-E", "-s", "-m", "grader", "grade", A,
                                         "--jobs", "2"], course, timeout=600)
        refused = re.search(r"the sandbox cannot run here: (.*?) Grading untrusted", run.stderr,
                            re.DOTALL)
        if refused:
            pytest.skip(f"the sandbox cannot run as the unprivileged user {USER} here: "
                        + refused.group(1))
        facts = {"returncode": run.returncode, "output": run.stdout + run.stderr,
                 "seconds": time.monotonic() - start,
                 "scores": {}, "feedback": {},
                 "left_in_tmp": sorted(p.name for p in (scratch / "tmp").iterdir()),
                 "running": [f"{pid}: {cmd}" for pid, cmd in
                             _running(pw.pw_uid, MARKER, str(scratch)).items()],
                 "planted": _planted(scratch),
                 "written_outside": _written(pw.pw_uid, writable.result(), since),
                 "changed": sorted(str(p) for p, data in hashes.items()
                                   if not p.is_file() or p.read_bytes() != data)}
        for name in KINDS:
            try:
                facts["scores"][name] = report.scores(course, A, name)
                html = (course / "feedback" / name / A / f"{A}.html").read_text()
                facts["feedback"][name] = unescape(re.sub(r"<[^>]+>", "", html))
            except Exception as err:  # noqa: BLE001 (a missing grade is a problem said below)
                facts["scores"].setdefault(name, f"no grade: {err}")
        yield facts
    finally:  # a broken run may leave processes: end them (ours, by id), then the folder
        for pid in _running(pw.pw_uid, MARKER, str(scratch)):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(scratch, ignore_errors=True)


def problems(facts):
    """Every way the run differs from a fair and safe grading, one sentence each."""
    found = []
    if facts["returncode"] != 0 or f"graded {len(KINDS)} of {len(KINDS)}" not in facts["output"]:
        found.append(f"the grader did not grade everyone (exit {facts['returncode']}): "
                     + facts["output"][-3000:])
    for name, kind in KINDS.items():
        got = facts["scores"].get(name)
        if not isinstance(got, dict):
            found.append(f"{name}: {got}")
            continue
        expected = zoo.expected_scores(kind, {g: m for g, (_, m) in got.items()})
        if {g: s for g, (s, _) in got.items()} != expected:
            found.append(f"{name}: scored {got}, expected {expected}")
        text = facts["feedback"].get(name, "")
        found += [f"{name}: the feedback does not say {p!r}" for p in kind.says if p not in text]
        found += [f"{name}: the feedback says {p!r}" for p in kind.never if p in text]
        if "PLANTED" in text and name != PLANTER:
            found.append(f"{name}: planted code ran while it was graded")
    for key, what in (("left_in_tmp", "left in the grader's temporary folder"),
                      ("running", "processes of the run still alive"),
                      ("planted", "startup files planted"),
                      ("written_outside", f"written by {USER} outside the scratch folder"),
                      ("changed", "course files changed by grading")):
        if facts[key]:
            found.append(f"{what}: {facts[key][:5]}")
    return found


def test_grading_as_a_non_root_user_is_fair_and_safe(graded):
    """Run by an unprivileged user, does the grader give the correct work and the control full
    marks, the named mistake and each hostile kind the zoo's exact score, survive, and leave
    nothing behind (no file, no process, no planted startup file) outside its scratch folder?"""
    found = problems(graded)
    assert not found, "\n".join(found)
    assert graded["seconds"] < 120, f"grading took {graded['seconds']:.0f} s"


def _full_marks(facts, name):
    facts["scores"][name] = {g: (m, m) for g, (_, m) in facts["scores"][name].items()}


def _zero_first_cell(facts, name):
    first, (_, top) = next(iter(facts["scores"][name].items()))
    facts["scores"][name][first] = (0.0, top)


SYMPTOMS = {  # what a broken sandbox or grader would show, put into a clean run's facts
    "the control loses a point": lambda f: _zero_first_cell(f, "zz-correct"),
    "the named mistake gets full marks": lambda f: _full_marks(f, "sign-flipped"),
    "a student is not graded": lambda f: f["scores"].update({"hostile-processes": "no grade"}),
    "the course was readable": lambda f: f["feedback"].update(
        {PLANTER: "a secret was found: ../../../gradebook.db"}),
    "the grader was killed": lambda f: f.update(returncode=-9),
    "a leftover in the temporary folder": lambda f: f["left_in_tmp"].append("bp-class-x"),
    "a process outlived the run": lambda f: f["running"].append(f"123: python -c {MARKER}"),
    "a planted startup file": lambda f: f["planted"].append("home/.ipython/00-planted.py"),
    "planted code ran for a later student": lambda f: f["feedback"].update(
        {"zz-correct": "PLANTED-BY-A-STUDENT"}),
    "a file written outside the scratch folder": lambda f: f["written_outside"].append("/tmp/x"),
    "a course file changed": lambda f: f["changed"].append("course/source/ps1/ps1.ipynb"),
}


def test_the_checks_catch_a_broken_sandbox(graded):
    """Would the checks fail if the sandbox or the grader broke? Each symptom, put into the
    facts of the real (clean) run, is reported."""
    assert not problems(graded), "the run itself is not clean: see the test above"
    for symptom, inject in SYMPTOMS.items():
        facts = copy.deepcopy(graded)
        inject(facts)
        assert problems(facts), f"{symptom}: the checks would not notice"


def test_a_failed_nbgrader_step_says_its_real_error():
    """When nbgrader fails (as feedback did for `nobody` under a Python older than the installed
    packages need), does the reason name the error rather than "see the above traceback"?"""
    from grader import worker

    log = ("[ERROR] There was an error processing assignment: /tmp/x/autograded/s/a\n"
           "[ERROR] Traceback (most recent call last):\n"
           '      File "/venv/nbconvert/exporters/html.py", line 290, in from_notebook_node\n'
           '        for elem in soup.select("img:not([alt])"):\n'
           "    soupsieve.util.SelectorSyntaxError: Invalid character 'i' position 0\n"
           "      line 1:\n    img:not([alt])\n    ^\n"
           "[WARNING] Removing failed assignment: /tmp/x/feedback/s/a\n")
    error = ("Traceback (most recent call last):\n"
             '  File "/venv/nbgrader/converters/base.py", line 468, in convert_notebooks\n'
             "    raise NbGraderException(msg)\n"
             "nbgrader.converters.base.NbGraderException: Please see the the above traceback "
             "for details on the specific errors on the above failures.\n")
    reason, kept = worker._failure("feedback", {"log": log, "error": error})
    assert reason == ("feedback failed: soupsieve.util.SelectorSyntaxError: "
                      "Invalid character 'i' position 0")
    assert "img:not([alt])" in kept
