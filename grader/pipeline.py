"""The course's nbgrader pipeline, used by the Makefile and by the tests.

    python -m grader release [ASSIGNMENT ...]    regenerate release/ from source/
    python -m grader solutions [ASSIGNMENT ...]  regenerate solutions/ (no hidden tests)
    python -m grader grade ASSIGNMENT [--course DIR]
        autograde every submission in DIR/submitted (and DIR/downloaded via zip_collect),
        one student at a time, write feedback and DIR/grades.csv, and list failures.

Student code runs in a sandboxed kernel (grader/sandbox_kernel.py) and every
student is graded in a separate process with a wall-clock limit, so one bad
submission cannot stop the others.
"""
import argparse
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ASSIGNMENTS = sorted(p.name for p in (ROOT / "source").iterdir() if p.is_dir())
STUDENT_WALL_SECONDS = int(os.environ.get("BP_STUDENT_WALL_SECONDS", "1200"))

os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"  # nbgrader runs alembic


def config(course, **overrides):
    """The course's nbgrader_config.py, rooted at `course`, plus overrides {"Section.key": v}."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    cfg.CourseDirectory.root = str(course)
    extra = Config()
    for key, value in overrides.items():
        section, name = key.split(".")
        extra[section][name] = value
    cfg.merge(extra)
    return cfg


def api(course, **overrides):
    from nbgrader.apps import NbGraderAPI

    return NbGraderAPI(config=config(course, **overrides))


def new_course(dest, assignments=ASSIGNMENTS):
    """A course folder at `dest` with the config and a copy of source/ (links resolved)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "nbgrader_config.py", dest)
    for a in assignments:
        shutil.copytree(ROOT / "source" / a, dest / "source" / a, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    return dest


def _check(result, what):
    if not result["success"]:
        raise RuntimeError(f"{what} failed:\n{result.get('error', '')}\n{result.get('log', '')}")


def generate_release(course, a):
    _check(api(course).generate_assignment(a, force=True), f"generate_assignment {a}")
    return Path(course) / "release" / a


def generate_solutions(course, a):
    from nbgrader.apps.api import capture_log
    from nbgrader.converters import GenerateSolution

    generate_release(course, a)  # generate_solution needs the assignment in the gradebook
    nbg = api(course)  # the API has no generate_solution; run the converter the same way
    nbg.coursedir.assignment_id = a
    app = GenerateSolution(coursedir=nbg.coursedir, parent=nbg)
    app.force = True
    _check(capture_log(app), f"generate_solution {a}")
    return Path(course) / "solutions" / a


def _publish(kind, assignments):
    """Regenerate release/ or solutions/ in a scratch course and copy it into the repo."""
    make = generate_release if kind == "release" else generate_solutions
    with tempfile.TemporaryDirectory() as tmp:
        course = new_course(tmp, assignments)
        for a in assignments:
            built = make(course, a)
            shutil.rmtree(ROOT / kind / a, ignore_errors=True)
            shutil.copytree(built, ROOT / kind / a,
                            ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
            print(f"{kind}/{a}: regenerated")


# --------------------------------------------------------------------------
# Autograding, one student per process, student code in a sandboxed kernel.

def _sandbox_kernelspec(where):
    spec = Path(where) / "kernels" / "bp-sandbox"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, str(Path(__file__).with_name("sandbox_kernel.py")),
                 "-f", "{connection_file}"],
        "display_name": "Python 3 (grading sandbox)", "language": "python"}))
    return str(where)


def _safe_execute_class():
    """nbgrader's Execute that survives a dead kernel and caps output size."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from nbformat.v4 import new_output
    from nbgrader.preprocessors import Execute
    from traitlets import Integer

    class SafeExecute(Execute):
        max_output_chars = Integer(20_000).tag(config=True)
        max_restarts = Integer(3).tag(config=True)

        def preprocess(self, nb, resources=None, km=None):
            self._skipped, self._index = {}, None
            for _ in range(self.max_restarts + 1):
                try:
                    return super().preprocess(copy.deepcopy(nb), resources, km)
                except (DeadKernelError, CellTimeoutError) as err:
                    self.log.warning("cell %s stopped the kernel (%s)", self._index, err)
                    self._skipped[self._index] = type(err).__name__
            self._skipped = dict.fromkeys(range(len(nb.cells)), "TooManyCrashes")
            return super().preprocess(copy.deepcopy(nb), resources, km)

        def preprocess_cell(self, cell, resources, index):
            self._index = index
            if index in self._skipped and cell.cell_type == "code":
                why = (f"KernelDied ({self._skipped[index]}): this cell stopped the Python "
                       "kernel (os._exit, a crash, out of memory or time), so it was skipped, "
                       "the notebook was run again without it, and it scores 0.")
                cell.outputs = [new_output("error", ename="KernelDied", evalue=why,
                                           traceback=[why])]
                return cell, self.resources
            cell, resources = super().preprocess_cell(cell, resources, index)
            for out in cell.get("outputs", []):
                if out.output_type == "stream" and len(out.text) > self.max_output_chars:
                    out.text = (out.text[: self.max_output_chars]
                                + f"\n... output cut at {self.max_output_chars} characters ...\n")
            return cell, resources

    return SafeExecute


def _deduplicate_class():
    """nbgrader's DeduplicateIds leaves `"nbgrader": {}` on the dropped copy of a duplicated
    grade cell, which crashes OverwriteCells.add_missing_cells; drop the key instead."""
    from nbgrader.preprocessors import DeduplicateIds

    class Deduplicate(DeduplicateIds):
        def preprocess(self, nb, resources):
            nb, resources = super().preprocess(nb, resources)
            for cell in nb.cells:
                if cell.metadata.get("nbgrader") == {}:
                    del cell.metadata["nbgrader"]
            return nb, resources

    return Deduplicate


def autograde_here(course, a, student, timeout=None):
    """Autograde one submission in this process (called by `autograde` in a child)."""
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (
        AssignLatePenalties,
        CheckCellMetadata,
        ClearOutput,
        IgnorePattern,
        LimitOutput,
        OverwriteCells,
        OverwriteKernelspec,
        SaveAutoGrades,
    )

    os.environ["JUPYTER_PATH"] = _sandbox_kernelspec(tempfile.mkdtemp(prefix="bp-spec-"))
    os.environ["BP_SANDBOX_READONLY"] = os.pathsep.join(
        {str(Path(course).resolve()), str(ROOT)})
    overrides = {
        "Execute.kernel_name": "bp-sandbox",
        "Autograde.sanitize_preprocessors": [
            ClearOutput, _deduplicate_class(), OverwriteKernelspec, OverwriteCells,
            CheckCellMetadata],
        "Autograde.autograde_preprocessors": [
            _safe_execute_class(), IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
            SaveAutoGrades, AssignLatePenalties, CheckCellMetadata],
    }
    if timeout:
        overrides["Execute.timeout"] = timeout
    result = api(course, **overrides).autograde(a, student, force=True, create=True)
    if not result["success"]:
        print(result.get("log", ""), result.get("error", ""), file=sys.stderr)
    return result["success"]


def autograde(course, a, student, timeout=None, wall=STUDENT_WALL_SECONDS):
    """Autograde one submission in a child process; returns None or the reason it failed."""
    cmd = [sys.executable, "-m", "grader", "_autograde_one", str(course), a, student]
    if timeout:
        cmd += ["--timeout", str(timeout)]
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=wall, check=False, cwd=ROOT,
                             start_new_session=True)
    except subprocess.TimeoutExpired:
        return f"grading took longer than {wall} s and was stopped"
    if run.returncode != 0:
        lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
        return "autograde failed: " + " | ".join(lines[-3:])
    return None


def scores(course, a, student):
    """{grade_id: (score, max_score)} of one autograded submission, from the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{Path(course) / 'gradebook.db'}") as gb:
        sub = gb.find_submission(a, student)
        return {g.name: (g.score, g.max_score) for nb in sub.notebooks for g in nb.grades}


def _released(course, a):
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{Path(course) / 'gradebook.db'}") as gb:
        try:
            return bool(gb.find_assignment(a).notebooks)
        except MissingEntry:
            return False


def grade(course, a, timeout=None, log=print):
    """Autograde every submission of `a`, write feedback and grades.csv.

    Returns {student: reason} for the submissions that could not be graded.
    """
    course = Path(course)
    if (course / "downloaded" / a / "archive").is_dir():
        run = subprocess.run([BIN / "nbgrader", "zip_collect", a, "--force"], cwd=course,
                             capture_output=True, text=True, check=False)
        log(f"zip_collect {a}: {'done' if run.returncode == 0 else run.stderr[-500:]}")
    if not _released(course, a):
        generate_release(course, a)  # records the assignment's cells in the gradebook
    students = sorted(p.parent.name for p in (course / "submitted").glob(f"*/{a}"))
    failed = {}
    for i, student in enumerate(students, 1):
        reason = autograde(course, a, student, timeout=timeout)
        if reason is None:
            result = api(course).generate_feedback(a, student)
            reason = None if result["success"] else "feedback failed: " + result.get("error", "")
        if reason:
            failed[student] = reason
        log(f"[{i}/{len(students)}] {student}: {reason or 'graded'}")
    run = subprocess.run([BIN / "nbgrader", "export", "--to", str(course / "grades.csv")],
                         cwd=course, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        failed["(export)"] = run.stderr[-500:]
    log(f"graded {len(students) - len(failed)} of {len(students)} submissions of {a}; "
        f"grades in {course / 'grades.csv'}, feedback in {course / 'feedback'}")
    for student, reason in failed.items():
        log(f"NOT GRADED {student}: {reason}")
    return failed


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("command", choices=["release", "solutions", "grade", "_autograde_one"])
    p.add_argument("args", nargs="*")
    p.add_argument("--course", default=str(ROOT))
    p.add_argument("--timeout", type=int)
    opts = p.parse_args(argv)
    if opts.command in ("release", "solutions"):
        _publish(opts.command, opts.args or ASSIGNMENTS)
    elif opts.command == "grade":
        (a,) = opts.args
        return 1 if grade(opts.course, a, opts.timeout) else 0
    elif opts.command == "_autograde_one":
        course, a, student = opts.args
        return 0 if autograde_here(course, a, student, opts.timeout) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
