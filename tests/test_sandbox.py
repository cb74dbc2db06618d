"""The sandbox refuses to be skipped silently, and the feedback sanitizer keeps nothing
executable (fast checks; the zoo checks the same through real grading)."""
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import classgrade, grading

from grader import feedback, sandbox
from grader.errors import GradingRefused
from grader.task import KernelSpec
from grader.warm import ForkServer, WarmKernel


def test_grading_refuses_without_a_working_sandbox(monkeypatch, tmp_path):
    """Where bubblewrap cannot run, does `make grade` refuse and say why and what to do?"""
    def broken():
        raise sandbox.SandboxUnavailable("bubblewrap (bwrap) is not installed: run "
                                         "`make install`.")

    monkeypatch.setattr(sandbox, "bwrap", broken)
    course = grading.new_course(tmp_path, ["ps1_perceptron"])
    with pytest.raises(GradingRefused) as refused:
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


PROBE = r'''
import json, os, resource, socket, sys
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
seen = {key: status[key].strip() for key in ("Uid", "Gid", "Groups", "CapInh", "CapPrm",
                                              "CapEff", "CapBnd", "CapAmb", "NoNewPrivs")}
seen["preloaded"] = sorted(m for m in ("torch", "numpy", "matplotlib") if m in sys.modules)
seen["grader"] = sorted(m for m in sys.modules if m.split(".")[0] in
                        ("grader", "nbgrader", "nbclient", "sqlalchemy", "referee", "check"))
seen["limits"] = {name: resource.getrlimit(getattr(resource, "RLIMIT_" + name))[1]
                  for name in ("AS", "CPU", "FSIZE", "NPROC", "CORE")}
seen["cwd"], seen["env"], seen["host"] = os.getcwd(), dict(os.environ), socket.gethostname()
seen["path"] = sys.path
seen["mounts"] = sorted(" ".join(line.split()[4:6]) for line in open("/proc/self/mountinfo")
                        if "/bp-channels-" not in line)
seen["net"] = sorted(line.split(":")[0].strip() for line in open("/proc/net/dev").readlines()[2:])
seen["others"] = sorted(os.path.basename(open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")[0])
                        .decode() for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid())
def target(fd):
    try:
        return os.readlink(f"/proc/self/fd/{fd}").split("[")[0].split(":")[0]
    except OSError:  # the folder listing's own descriptor, closed since
        return None
seen["fds"] = sorted({target(fd) for fd in os.listdir("/proc/self/fd")} - {None})
print(json.dumps(seen, sort_keys=True))
'''


async def _probe_kernel(tmp_path, warm):
    """What a probe cell sees in a sandboxed kernel started warm (forked) or cold."""
    os.environ["BP_COLD_KERNELS"] = "0" if warm else "1"
    ForkServer._servers.clear()
    channels = Path(tempfile.mkdtemp(prefix="bp-channels-", dir=tmp_path))
    channels.chmod(0o733)
    spec = KernelSpec(channels=str(channels), slot=sandbox.acquire_slot(),
                      env={"BACKPROP_GRADING": "1"},
                      helpers={"compare.py": grading.ROOT / "notebooks" / "compare.py"})
    km = type("ProbeKernelManager", (sandbox.SandboxKernelManager,), {"spec": spec})(
        kernel_name="python3")
    await km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=120)
        channels.chmod(0o711)
        warm_process = isinstance(km.provisioner.process, WarmKernel)
        out = []
        await kc.execute_interactive(PROBE, timeout=120, output_hook=lambda m: out.append(
            m["content"].get("text", "") if m["msg_type"] == "stream" else
            "\n".join(m["content"].get("traceback", []))))
    finally:
        await km.shutdown_kernel(now=True)
        kc.stop_channels()
        os.environ.pop("BP_COLD_KERNELS", None)
        server = ForkServer._servers.get(os.getpid())
        if server is not None:
            server.process.kill()
            server.process.wait()
        ForkServer._servers.clear()
    assert not await km.is_alive()
    return warm_process, json.loads("".join(out))


@pytest.mark.skipif(os.geteuid() != 0, reason="warm kernels are forked only when grading as root")
def test_a_warm_kernel_is_sandboxed_like_a_cold_one(tmp_path):
    """Is a kernel forked from the fork server (torch already imported) confined exactly as a
    kernel started cold: the same user with no capability, limits, mounts, environment,
    network and folder, nothing of the grader in memory, and no process of the grader
    (the fork server included) in sight?"""
    warm_used, warm = asyncio.run(_probe_kernel(tmp_path, warm=True))
    cold_used, cold = asyncio.run(_probe_kernel(tmp_path, warm=False))
    assert warm_used and not cold_used
    assert warm.pop("preloaded") == ["matplotlib", "numpy", "torch"]
    assert cold.pop("preloaded") == []
    # the placeholder of the sandbox is the one more process a warm kernel sees
    others = (warm.pop("others"), cold.pop("others"))
    assert others == (["bwrap", "sleep"], ["bwrap"]), others
    # cold kernels keep the bounding set (setpriv cannot empty it); warm ones empty it
    assert warm.pop("CapBnd") == "0000000000000000"
    cold.pop("CapBnd")
    assert set(warm["env"].items()) ^ set(cold["env"].items()) == set()
    assert warm == cold
    uid = str(sandbox.BASE_UID + sandbox.acquire_slot())
    assert warm["Uid"].split() == [uid] * 4 and warm["Gid"].split() == [uid] * 4
    assert {warm[k] for k in ("CapInh", "CapPrm", "CapEff", "CapAmb")} == {"0000000000000000"}
    assert warm["NoNewPrivs"] == "1" and warm["Groups"] == ""
    assert warm["grader"] == [] and warm["net"] == ["lo"] and warm["cwd"] == sandbox.WORK
    assert warm["limits"] == {k[2:].upper(): v for k, v in sandbox.LIMITS.items()}
    assert warm["env"]["BACKPROP_GRADING"] == "1" and warm["env"]["HOME"] == sandbox.HOME


@pytest.mark.skipif(os.geteuid() != 0, reason="warm kernels are forked only when grading as root")
def test_the_fork_server_never_enters_an_unfinished_sandbox():
    """If asked to enter namespaces whose root is still the host's (a sandbox not yet set up,
    or not a sandbox at all), does the fork server refuse rather than start a kernel there?"""
    outer = subprocess.Popen(["unshare", "--mount", "--pid", "--fork", "sleep", "60"])
    try:
        for _ in range(200):
            inner = subprocess.run(["pgrep", "-P", str(outer.pid)], capture_output=True,
                                   text=True, check=False).stdout.split()
            if inner:
                break
            time.sleep(0.05)
        enter = subprocess.run(
            [sys.executable, "-c", f"from grader import forkserver; forkserver._enter({inner[0]})"],
            cwd=grading.ROOT, capture_output=True, text=True, timeout=60, check=False)
    finally:
        outer.kill()
        outer.wait()
    assert enter.returncode != 0
    assert "the sandbox's root is the host's" in enter.stderr, enter.stderr


def test_two_grading_processes_never_share_a_sandbox_uid():
    """Do two processes grading at once on one machine (two classes, two test workers) get
    different sandbox slots, so a flood of processes under one uid cannot starve the other's
    kernels, and is a slot free again once its process has ended?"""
    mine = sandbox.acquire_slot()
    assert sandbox.acquire_slot() == mine  # held for the process's life
    ask = [sys.executable, "-c", ("import sys, time; from grader import sandbox; "
                                  "print(sandbox.acquire_slot(), flush=True); "
                                  "time.sleep(float(sys.argv[1]))")]
    first = subprocess.Popen([*ask, "30"], cwd=grading.ROOT, stdout=subprocess.PIPE, text=True)
    try:
        theirs = int(first.stdout.readline())
        again = subprocess.run([*ask, "0"], cwd=grading.ROOT, capture_output=True, text=True,
                               timeout=60, check=True)
        assert len({mine, theirs, int(again.stdout)}) == 3
    finally:
        first.kill()
        first.wait()
        first.stdout.close()
    with socket.socket(socket.AF_UNIX) as probe:  # free again: it can be taken
        probe.bind(f"\0backprop-by-hand-sandbox-slot-{theirs}")
