"""Shared fixtures: scratch nbgrader courses built from this repository's source/; and the
per-user folders of Jupyter, nbgrader, IPython, Matplotlib and Chromium moved into the run's
scratch folder, so that a test run writes nothing into the home folder."""
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from grader import classgrade  # noqa: F401 (the tests import it from here)
from grader import course as grading

ASSIGNMENTS = grading.ASSIGNMENTS
# every per-user folder a test's programs write to, by variable: nbgrader's cache of
# submissions is JUPYTER_DATA_DIR/nbgrader_cache; Chromium and dconf use the XDG folders;
# JupyterLab runs `npm prefix`, which writes a log into npm's cache; torch.func.jvp makes
# torch's compiler cache (/tmp/torchinductor_<user> unless told otherwise)
USER_DIRS = ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR",
             "MPLCONFIGDIR", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME",
             "XDG_STATE_HOME", "npm_config_cache", "TORCHINDUCTOR_CACHE_DIR")
SCRATCH_HOME = "BP_TEST_USER_DIRS"  # set once per run, to the folder that holds them
SOLUTION_REGION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.DOTALL)
HIDDEN_REGION = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.DOTALL)


def pytest_configure(config):
    """Point every per-user folder into this run's scratch folder (beside pytest's
    --basetemp, so `make test` removes it with the rest), before any test module is imported;
    xdist's workers and every program a test starts inherit it."""
    if hasattr(config, "workerinput") or os.environ.get(SCRATCH_HOME):
        return
    base = config.option.basetemp
    if base:
        folder = Path(f"{Path(base).resolve()}-user-dirs")
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    else:
        folder = Path(tempfile.mkdtemp(prefix="bp-test-user-dirs-"))
    os.environ[SCRATCH_HOME] = str(folder)
    for name in USER_DIRS:
        os.environ[name] = str(folder / name.lower())
    config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))


def required(reason, what):
    """Skip with `reason` (on a laptop), or fail under CI=true, where `what` must run."""
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must {what}, but {reason}")
        pytest.skip(reason)


def notebook(kind, a):
    """The one notebook of assignment `a` in source/, release/ or solutions/."""
    return grading.ROOT / kind / a / f"{a}.ipynb"


def region_lines(a, region):
    """Lines found only inside the solution or hidden-test regions of the source."""
    nb = nbformat.read(notebook("source", a), as_version=4)
    inside, outside = set(), set()
    for cell in nb.cells:
        for block in region.findall(cell.source):
            inside |= {ln.strip() for ln in block.splitlines()
                       if len(ln.strip()) > 12 and not ln.strip().startswith("#")}
        outside |= {ln.strip() for ln in region.sub("", cell.source).splitlines()}
    return inside - outside


def submit(course, a, student, nb_path_or_node):
    """Put a notebook (a path or a NotebookNode) in course/submitted/student/a/."""
    dest = Path(course) / "submitted" / student / a
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / f"{a}.ipynb"
    if isinstance(nb_path_or_node, (str, Path)):
        shutil.copy(nb_path_or_node, target)
    else:
        nbformat.write(nb_path_or_node, target)
    return target


@pytest.fixture(scope="module")
def course_factory(tmp_path_factory):
    """Build (once per module and assignment) a course with the assignment released."""
    built = {}

    def make(a):
        if a not in built:
            course = grading.new_course(tmp_path_factory.mktemp(f"course-{a}"), [a])
            grading.generate_release(course, a)
            built[a] = course
        return built[a]

    return make


@pytest.fixture(scope="module")
def browser():
    """One Chromium for a test module (skipped without it, outside CI)."""
    from browserkit import Browser, need_chromium

    need_chromium()
    b = Browser()
    yield b
    b.close()
