"""nbgrader configuration of the course "Backprop by hand" (nbgrader 0.9.6)."""
import os

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbformat.v4 import new_output
from nbgrader.plugins import FileNameCollectorPlugin
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearHiddenTests,
    ClearMarkScheme,
    ClearOutput,
    Execute,
    GetGrades,
    IgnorePattern,
    IncludeHeaderFooter,
    LimitOutput,
    LockCells,
    NbGraderPreprocessor,
    SaveAutoGrades,
)

c = get_config()  # noqa: F821 (nbgrader provides get_config)

# The course folder: the folder of this file (traitlets sets __file__ while loading it),
# as an absolute path (a relative root makes nbgrader warn on every request).
COURSE = os.path.dirname(os.path.abspath(globals().get("__file__") or "nbgrader_config.py"))

c.CourseDirectory.course_id = "backprop-by-hand"
c.CourseDirectory.root = COURSE

# nbgrader's exchange (release -> fetch -> submit -> collect -> feedback) lives in the
# git-ignored folder exchange/ of the course (`make lab` creates it, mode 1777 as nbgrader
# expects), so `make lab` works on one machine without root. nbgrader's default,
# /usr/local/share/nbgrader/exchange, usually does not exist.
# On JupyterHub (hub/), $BP_EXCHANGE names the hub's shared exchange instead.
c.Exchange.root = os.environ.get("BP_EXCHANGE") or os.path.join(COURSE, "exchange")
# Fetched assignments go to <server root>/backprop-by-hand/<assignment>/ (git-ignored),
# as in a student's home on JupyterHub.
c.Exchange.path_includes_course = True
# nbgrader's default is "solution" (singular); this course publishes solutions/.
c.CourseDirectory.solution_directory = "solutions"
# the helper module is shipped with every assignment; never ship caches.
# referee.py (the hidden cases and grader-only judges) stays with the instructor
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback",
                            "referee.py"]

# Where students find the course, for those who have only a notebook (Colab, a hub):
# site_url is where the built site (`make site`, _build/site/) is published; a release
# notebook's setup cell downloads its assignment's zip from <site_url>/downloads/ when
# check.py is missing (run `make release` after changing it: the URL is written into the
# setup cells). repository_url (on GitHub) and repository_branch give the site's
# "Open in Colab" links; hub_url (a JupyterHub with nbgitpuller) its "Open on the hub"
# links. An empty URL leaves its links out.
c.BackpropCourse.site_url = "https://example.org/backprop-by-hand"
c.BackpropCourse.repository_url = ""
c.BackpropCourse.repository_branch = "main"
c.BackpropCourse.hub_url = ""

# The assignments are ps1_perceptron, ps2_multi_output_perceptron, ps3_chain_rule,
# ps4_mlp_backprop and ps5_himmelblau (one folder each in source/). nbgrader 0.9 has no `db_assignments`
# option (it was removed in 0.6 and is only warned about): `generate_assignment`
# records each assignment and its cells in the gradebook, and `make grade` does so
# when the gradebook does not know the assignment yet.

# Per-cell time limit while validating and autograding (an infinite loop costs
# at most this long), and no timing metadata, so executed notebooks are
# byte-for-byte reproducible.
c.Execute.timeout = 60
c.Execute.record_timing = False

# Any stderr output zeroes a grade cell. Python warnings raised by libraries
# (a DeprecationWarning, a UserWarning) are not the student's fault; drop them.
c.IgnorePattern.pattern = r"(?m)^\S*\.py:\d+: \w*Warning: |^\s*warnings\.warn\("
c.IgnorePattern.enabled = True

# A deleted test cell is put back (and run) rather than silently losing or
# gaining its points; edited or retyped test cells are restored from source/.
c.OverwriteCells.add_missing_cells = True

# zip_collect: an LMS download of files named <student_id>_<assignment>.ipynb.
c.ZipCollectApp.collector_plugin = FileNameCollectorPlugin
c.FileNameCollectorPlugin.named_regexp = r".*/(?P<student_id>[A-Za-z0-9]+)_(?P<file_id>[^/]+\.ipynb)$"

# Long output (a print in a loop) is cut, so feedback stays readable.
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 40

# solutions/ is published: no hidden tests in it (generate_solution keeps them).
c.GenerateSolution.preprocessors = [
    IncludeHeaderFooter, LockCells, ClearOutput, ClearMarkScheme, ClearHiddenTests, Execute,
]


class HideHiddenTestCode(NbGraderPreprocessor):
    """In feedback, a hidden test shows its result and message, never its code.

    ClearHiddenTests (below) removes the code between the markers; this drops
    the traceback (which quotes that code) and keeps only "Error: message".
    """

    def preprocess_cell(self, cell, resources, index):
        if "BEGIN HIDDEN TESTS" in cell.source:
            for out in cell.get("outputs", []):
                if out.output_type == "error":
                    out.traceback = [f"{out.ename}: {out.evalue}"]
        return cell, resources


c.GenerateFeedback.preprocessors = [
    GetGrades, HideHiddenTestCode, ClearHiddenTests, CSSHTMLHeaderPreprocessor,
]


class OffTheCourseGrader(NbGraderPreprocessor):
    """Plain `nbgrader autograde` (and Formgrader's Autograde button) fails closed.

    The course grades with its own grader (`make grade`): graded functions are judged in a
    sandbox, in a kernel where nothing else of the notebook ran, and the hidden tests run
    only there. Graded by nbgrader alone, a notebook runs in one kernel that its own code
    controls, so no cell's result can be trusted: every test cell scores 0 with a sentence
    saying where the real grade comes from. (`make grade` replaces this list of steps.)
    """

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
            if "BEGIN HIDDEN TESTS" in cell.source:
                why = "hidden tests run only with the course's grader: make grade"
                cell.outputs = []
            else:
                why = "this test counts only when graded with the course's grader: make grade"
            cell.outputs.append(new_output("error", ename="NotGraded", evalue=why,
                                           traceback=[f"NotGraded: {why}"]))
        return cell, resources


c.Autograde.autograde_preprocessors = [
    Execute, OffTheCourseGrader, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
    SaveAutoGrades, AssignLatePenalties, CheckCellMetadata,
]

# Due dates and the late policy (grader/late.py, an nbgrader LateSubmissionPlugin that
# `make grade` gives nbgrader's AssignLatePenalties). `make grade` writes each due date into
# the gradebook (nbgrader's `duedate`), and nbgrader compares it with the submission's
# timestamp. A date, a time and a time zone, e.g. {"ps1_perceptron": "2026-10-05 23:59:00 UTC"};
# an assignment not listed has no due date. The policy: percent_per_day % of the score off
# per started day late, for at most max_days days; later, the score is 0.
c.LatePolicy.duedates = {}
c.LatePolicy.percent_per_day = 10
c.LatePolicy.max_days = 3
