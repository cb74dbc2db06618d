"""A test run leaves the home folder and the temporary folder as it found them: the
per-user folders of Jupyter, nbgrader (its cache of submissions), IPython, Matplotlib,
Chromium and torch's compiler cache are in the run's scratch folder (tests/conftest.py).
Checked by running real tests that use each of them with HOME and TMPDIR set to empty
folders: they must still be empty afterwards."""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from browserkit import ROOT, need_chromium
from conftest import SCRATCH_HOME, USER_DIRS

# a kernel with figures (IPython, Jupyter's runtime files, Matplotlib), torch.func.jvp (torch's
# compiler cache, /tmp/torchinductor_<user> by default), nbgrader's exchange
# seen from JupyterLab in Chromium (fetch and submit fill nbgrader's cache), and the site
TESTS = ["notebooks/01_perceptron.ipynb", "notebooks/03b_computational_graphs.ipynb",
         "tests/test_browser.py::test_assignment_list_fetch_and_submit",
         "tests/test_site.py::test_search_finds_a_lecture"]


def test_a_run_leaves_the_home_folder_as_it_found_it(tmp_path):
    need_chromium()
    home = tmp_path / "home"
    home.mkdir()
    # short: Chromium keeps a Unix socket in TMPDIR (at most 107 bytes of path)
    tmp = Path(tempfile.mkdtemp(prefix="bp-tmp-", dir="/tmp"))
    try:
        _run_with(home, tmp, tmp_path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run_with(home, tmp, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in (*USER_DIRS, SCRATCH_HOME)}
    env["HOME"], env["TMPDIR"] = str(home), str(tmp)
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                          "--basetemp", str(tmp_path / "t"), "--nbval",
                          "--nbval-sanitize-with", "tests/nbval_sanitize.cfg", *TESTS],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    last = run.stdout.strip().splitlines()[-1]
    assert " passed" in last and "skipped" not in last, last
    written = sorted(str(p.relative_to(home)) for p in home.rglob("*"))
    assert not written, f"the tests wrote into the home folder: {written}"
    left = sorted(p.name for p in tmp.iterdir())
    assert not left, f"the tests left these in the temporary folder: {left}"
    assert not (tmp_path / "t-user-dirs").exists(), "the run left its scratch user folders"
