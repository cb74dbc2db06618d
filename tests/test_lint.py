"""ruff passes on the notebooks and the Python files."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_passes():
    ruff = Path(sys.executable).parent / "ruff"
    run = subprocess.run([ruff, "check", "--no-cache", "."], cwd=ROOT, capture_output=True,
                         text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    # it really reads notebooks: a notebook with an unused import fails
    assert "ipynb" in subprocess.run([ruff, "check", "--no-cache", "--show-files", "."],
                                     cwd=ROOT, capture_output=True, text=True, check=False).stdout
