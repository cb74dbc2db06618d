"""Shared fixtures: scratch nbgrader courses built from this repository's source/."""
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from grader import classgrade  # noqa: F401 (the tests import it from here)
from grader import course as grading

ASSIGNMENTS = grading.ASSIGNMENTS
SOLUTION_REGION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.DOTALL)
HIDDEN_REGION = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.DOTALL)


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
