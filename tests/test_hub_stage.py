"""A test of the hub test's staging (hub/setup.py, BP_HUB_STAGE): a course cloned into a folder
that other users cannot enter (mode 700, as in /root) still gives the hub's users a Python
they can run, with the course's packages and its hub configuration, once staged in a folder
they can enter. Cheap: a small stand-in for the course (its layout, one probe package) and
one Unix user made for the test and removed at the end."""
import importlib.util
import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from conftest import required

ROOT = Path(__file__).resolve().parent.parent
PROBE = "bp_stage_probe"


def _setup_module():
    spec = importlib.util.spec_from_file_location("hub_setup", ROOT / "hub" / "setup.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _missing():
    if os.geteuid() != 0:
        return "the staging test needs root (it creates a Unix user and runs as it)."
    for tool in ("useradd", "userdel", "runuser"):
        if not shutil.which(tool):
            return f"the staging test needs the `{tool}` command, which this machine lacks."
    return None


@pytest.fixture
def user():
    required(_missing(), "run the staging test")
    name = f"bp-stage-{secrets.token_hex(4)}"
    subprocess.run(["useradd", "--no-create-home", "--home-dir", "/nonexistent", "--user-group",
                    "--shell", "/usr/sbin/nologin", name], check=True, capture_output=True)
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)
        assert subprocess.run(["id", name], check=False, capture_output=True).returncode != 0


def _as(user, *cmd):
    return subprocess.run(["runuser", "-u", user, "--", *map(str, cmd)], capture_output=True,
                          text=True, check=False, cwd="/")


def test_a_course_no_user_can_enter_is_staged_where_they_can(tmp_path, user):
    setup = _setup_module()
    clone = tmp_path / "private" / "backprop-by-hand"  # a clone in a mode-700 folder
    site = clone / ".venv" / setup.SITE
    site.mkdir(parents=True)
    (site / f"{PROBE}.py").write_text("ANSWER = 42\n")
    for folder in ("share/jupyter/lab", "etc/jupyter"):
        (clone / ".venv" / folder).mkdir(parents=True)
    shutil.copytree(ROOT / "hub", clone / "hub", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "nbgrader_config.py", clone)
    (tmp_path / "private").chmod(0o700)
    assert _as(user, "cat", site / f"{PROBE}.py").returncode != 0  # the user is kept out

    scratch = Path(tempfile.mkdtemp(prefix="bp-stage-", dir="/tmp"))
    try:
        scratch.chmod(0o755)
        staged = setup.stage(scratch / "staged", root=clone)
        python = setup.user_python(user, staged / ".venv", packages=(PROBE,))
        assert python == staged / ".venv" / "hub-python" / "bin" / "python", python
        run = _as(user, python, "-c", f"import {PROBE}, sys; print({PROBE}.ANSWER, "
                  "sys.prefix)")
        assert run.returncode == 0 and run.stdout.split()[0] == "42", run.stderr
        # the hub configuration the users' servers load, and the course config it loads
        for rel in ("hub/nbgrader_config.py", "hub/student/jupyter_server_config.json",
                    "nbgrader_config.py"):
            assert _as(user, "cat", staged / rel).returncode == 0, rel
        # staged again (every `make hub`, every hub test): made afresh, still runs
        setup.stage(scratch / "staged", root=clone)
        assert setup.user_python(user, staged / ".venv", packages=(PROBE,)) == python
        assert _as(user, python, "-c", f"import {PROBE}").returncode == 0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
