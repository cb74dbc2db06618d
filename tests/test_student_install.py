"""A student's install: the student's set (requirements/student.txt) resolves to wheels on
every platform a student has (uv, against PyPI; only metadata is fetched), and it is the
part of the whole course's requirements.txt that a student needs.
(tests/test_colab.py: the notebook alone, on Colab or a hub, and the zips.)
"""
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
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


