"""The sandbox refuses to be skipped silently, and the feedback sanitizer keeps nothing
executable (fast checks; the zoo checks the same through real grading)."""
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import classgrade, grading

from grader import feedback, sandbox


def test_grading_refuses_without_a_working_sandbox(monkeypatch, tmp_path):
    """Where bubblewrap cannot run, does `make grade` refuse and say why and what to do?"""
    def broken():
        raise sandbox.SandboxUnavailable("bubblewrap (bwrap) is not installed: run "
                                         "`make install`.")

    monkeypatch.setattr(sandbox, "bwrap", broken)
    course = grading.new_course(tmp_path, ["ps1_perceptron"])
    with pytest.raises(SystemExit) as refused:
        classgrade.grade_class(course, "ps1_perceptron", log=lambda _: None)
    said = str(refused.value)
    assert "Refusing to grade" in said and "not installed" in said and "--unsafe" in said
    assert not (course / "gradebook.db").exists(), "nothing may be graded without the sandbox"


def test_the_sandbox_runs_here():
    """Can this machine run the sandbox (as CI must)?"""
    assert sandbox.check_available() is None


HOSTILE = """<html><head><title>x</title><style>p {color: red}</style>
<script>alert(1)</script></head><body>
<p onclick="alert(2)">text</p><script>alert(3)</script><img src=x onerror=alert(4)>
<img src="data:image/png;base64,iVBORw0KGgo=" alt="figure"><a href="javascript:alert(5)">a</a>
<svg onload=alert(6)></svg><iframe src="https://example.com"></iframe>
<a href="https://pytorch.org">docs</a><pre>x &lt;script&gt; y</pre></body></html>"""


def test_sanitized_feedback_keeps_text_and_figures_and_drops_script():
    """Does the rebuilt page keep the text, figures, links and styles, and nothing that runs?"""
    page = feedback.sanitize(HOSTILE, "feedback", notes=["a <b>note</b>"])
    lower = page.lower()
    assert "<script" not in lower and "onerror" not in lower and "onload" not in lower
    assert "onclick" not in lower and "javascript:" not in lower and "<iframe" not in lower
    assert "script-src 'none'" in page
    assert "text" in page and 'src="data:image/png;base64,iVBORw0KGgo="' in page
    assert 'href="https://pytorch.org"' in page and "p {color: red}" in page
    assert "a &lt;b&gt;note&lt;/b&gt;" in page


def test_hidden_test_lines_are_scrubbed_from_any_output():
    """Is a line of hidden-test code removed from an output, whatever printed it?"""
    source = "x = 1\n### BEGIN HIDDEN TESTS\nsecret_check(x, 42)\n### END HIDDEN TESTS\n"
    lines = feedback.hidden_lines([source])
    assert lines == {"secret_check(x, 42)"}
    shown = feedback.scrub_text("In [3]: secret_check(x, 42)\nmy own output\n", lines)
    assert "secret_check" not in shown and "my own output" in shown


def test_a_course_under_tmp_is_not_hidden_by_the_private_tmp(tmp_path, monkeypatch):
    """With the course (and its .venv) checked out under /tmp, does the kernel still see
    Python, i.e. is the private /tmp mounted before anything is bound below it?"""
    venv = tmp_path / "venv"
    venv.mkdir()
    monkeypatch.setattr(sandbox, "_python_dirs", lambda: [venv])
    args = sandbox.argv(["/bin/true"], tmp_path / "channels")
    tmpfs = args.index("--tmpfs") + 1
    assert args[tmpfs] == "/tmp"
    binds = [i for i, arg in enumerate(args) if arg == str(venv)]
    assert binds and all(i > tmpfs for i in binds), "the tmpfs on /tmp would hide the venv"


def test_a_venv_reached_through_a_symlink_runs_in_the_sandbox(tmp_path, monkeypatch):
    """With .venv a link to another venv (a git worktree sharing one venv), does the kernel
    start from the path the grader knows its interpreter by, with the venv's packages?"""
    link = tmp_path / "linked-venv"
    link.symlink_to(Path(sys.prefix).resolve())
    python = link / "bin" / Path(sys.executable).name
    monkeypatch.setattr(sys, "executable", str(python))
    (tmp_path / "channels").mkdir()
    run = subprocess.run(sandbox.argv([str(python), "-c", "import sys, nbgrader; print(sys.prefix)"],
                                      tmp_path / "channels"),
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == str(link)
