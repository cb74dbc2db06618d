"""The zoo of ps1_perceptron (see zootests.py), and the checks that need one assignment:
LMS archives, persistence into a later student, a hostile page in a browser, the probe."""
import re
import subprocess

import zoo
from browserkit import CHROMIUM, need_chromium
from conftest import classgrade, grading, notebook, submit
from zootests import *
from zootests import _feedback_text

from grader import report

A = zoo.PS1
# seconds per cell: ps1's cells take under a second, so its infinite loop (three test
# cells call it) need not cost 3 x 40 s of a worker
TIMEOUT = 15


def test_bad_lms_members_are_skipped_by_name(graded):
    """Does one bad member of an LMS archive skip only itself, with its name said?"""
    run = graded(A)
    said = "\n".join(run["lines"])
    for member in ("../escaped_ps1_perceptron.ipynb", "gz_ps1_perceptron.ipynb.gz",
                   "readme.txt", "broken.zip"):
        assert re.search(rf"SKIPPED .*{re.escape(member)}", said), f"{member} not reported"
    assert not list(run["course"].parent.rglob("escaped_*")), "a member escaped the archive"


def test_persistence_does_not_reach_a_later_student(graded, tmp_path):
    """After a submission planted startup files everywhere it could, does a correct control
    graded next score full marks with no sign of the planted code?"""
    run = graded(A)
    course, a = run["course"], A
    submit(course, a, "control", notebook("source", a))
    lines = []
    assert classgrade.grade_class(course, a, jobs=2, log=lines.append) == {}
    assert any("unchanged since they were graded" in ln for ln in lines), lines
    scores = report.scores(course, a, "control")
    assert all(s == m for s, m in scores.values()), scores
    _, text = _feedback_text(course, a, "control")
    assert "PLANTED" not in text and "PLANTED" not in "\n".join(lines)


def test_feedback_runs_no_script_in_a_browser(graded, tmp_path):
    """Opened in a real browser, does the hostile feedback page run any script?"""
    need_chromium()
    run = graded(A)
    page = run["course"] / "feedback" / "xss" / zoo.PS1 / f"{zoo.PS1}.html"
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=3000",
         "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False).stdout
    assert "click me" in dom, "the page did not load"
    assert not re.search(r"<[^>]*\sdata-pwned\s*=", dom), "a script in the feedback ran"


def test_student_code_runs_unprivileged_without_network(course_factory):
    """Inside the sandbox, is the student someone else than root, alone, and offline?"""
    a = A
    course = course_factory(a)
    code = PROBE.replace("COURSE", str(course)).replace("REPO", str(grading.ROOT))
    probe = zoo.Kind("probe", "source", [zoo.append(code)])
    submit(course, a, "probe", probe.build(zoo.read(notebook("source", a))))
    assert classgrade.grade_class(course, a, jobs=1, log=lambda _: None) == {}
    nb = zoo.read(course / "autograded" / "probe" / a / f"{a}.ipynb")
    printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    facts = dict(re.findall(r"PROBE (\w+)=(\S+)", printed.replace(" ", " PROBE ")))
    assert facts["uid"] != "0" and facts["euid"] != "0", facts
    assert facts["net"] == "unreachable", facts
    assert int(facts["processes"]) <= 3, facts  # the sandbox's init, the kernel, ps
    assert facts["course"] == "invisible", facts


PROBE = r'''
import os
import socket
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
    net = "reachable"
except OSError:
    net = "unreachable"
course = "visible" if any(os.path.exists(p) for p in (
    "COURSE", "COURSE/gradebook.db", "REPO/source", "REPO/.git", "/root/.ssh")) else "invisible"
print(f"PROBE uid={os.getuid()} euid={os.geteuid()} net={net} "
      f"processes={sum(p.isdigit() for p in os.listdir('/proc'))} course={course}")
'''
