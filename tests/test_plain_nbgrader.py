"""Off the course's grader, grading fails closed: plain `nbgrader autograde` (what
Formgrader's Autograde button runs) reads the course's nbgrader_config.py, runs the notebook
in one kernel that the notebook's own code controls, and so scores every test cell 0 with a
sentence naming the course's grader, never full marks."""
import nbformat
import pytest
import zoo
from conftest import ASSIGNMENTS, grading, notebook, submit

from grader import report

HIDDEN_SENTENCE = "hidden tests run only with the course's grader: make grade"


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    """Every assignment's untouched release, its correct source and (ps1) a forger, graded
    with plain nbgrader."""
    course = grading.new_course(tmp_path_factory.mktemp("plain"), ASSIGNMENTS)
    students = {}
    for a in ASSIGNMENTS:
        grading.generate_release(course, a)
        submit(course, a, "untouched", course / "release" / a / f"{a}.ipynb")
        submit(course, a, "correct", notebook("source", a))
        students[a] = ["untouched", "correct"]
    forger = next(k for k in zoo.PS1_ZOO if k.name == "replaces-the-checks")
    release = zoo.read(course / "release" / zoo.PS1 / f"{zoo.PS1}.ipynb")
    submit(course, zoo.PS1, "forger", forger.build(release))
    students[zoo.PS1].append("forger")
    api = grading.api(course)
    for a, names in students.items():
        for student in names:
            run = api.autograde(a, student, force=True, create=True)
            assert run["success"], run.get("log")
    return course, students


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_plain_nbgrader_scores_every_cell_zero(plain, a):
    """Graded by plain nbgrader, does any test cell of an untouched, a correct or a forging
    notebook score anything?"""
    course, students = plain
    for student in students[a]:
        scores = report.scores(course, a, student)
        assert scores and all(score == 0 for score, _ in scores.values()), (student, scores)


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_plain_nbgrader_says_why(plain, a):
    """Does every hidden-test cell say that hidden tests run only with the course's grader,
    and every other test cell that it counts only there?"""
    course, students = plain
    for student in students[a]:
        nb = nbformat.read(course / "autograded" / student / a / f"{a}.ipynb", as_version=4)
        tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
        assert tests
        for cell in tests:
            said = " ".join(o.get("evalue", "") for o in cell.outputs
                            if o.output_type == "error")
            if "BEGIN HIDDEN TESTS" in cell.source:
                assert said == HIDDEN_SENTENCE, (student, cell.metadata, said)
            else:
                assert "counts only when graded with the course's grader: make grade" in said
