"""Fresh virtual environments for the tests of a student's install (test_student_install.py,
test_colab.py), built the way a student would (`python -m venv`) but quickly: torch's wheel is
fetched once by this course's pip (on a machine whose pip config points at a local CPU build,
that build; elsewhere PyPI's), and uv installs it with the rest from the run's own uv cache
(XDG_CACHE_HOME, in the run's scratch folder), which the second venv of a run reuses."""
import subprocess
import sys
import time
from pathlib import Path

from conftest import grading

BIN = Path(sys.executable).parent
REQUIREMENTS = grading.ROOT / "requirements"


def pins(path):
    """{name: "name==version"} of a requirements file (markers and -r lines left out)."""
    found = {}
    for line in Path(path).read_text().splitlines():
        line = line.split("#")[0].split(";")[0].strip()
        if "==" in line:
            found[line.split("==")[0].lower()] = line
    return found


PINNED = {**pins(grading.ROOT / "requirements.txt"), **pins(REQUIREMENTS / "student.txt")}


def fresh_venv(folder, names):
    """A new venv in folder/venv with the pinned versions of `names` (and their
    dependencies) only: its python, and the seconds it took (printed)."""
    venv, wheels = Path(folder) / "venv", Path(folder) / "wheels"
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    python = venv / "bin" / "python"
    packages = [PINNED[n] for n in names]
    if "torch" in names:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--disable-pip-version-check", PINNED["torch"], "-d", wheels],
                       check=True)
        packages = [*wheels.glob("torch-*.whl"), *(PINNED[n] for n in names if n != "torch")]
    subprocess.run([BIN / "uv", "pip", "install", "--quiet", "--python", python, *packages],
                   check=True)
    seconds = time.monotonic() - start
    print(f"a fresh venv with {', '.join(names)}: {seconds:.0f} s")
    return python
