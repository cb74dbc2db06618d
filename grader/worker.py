"""Grade one submission: the task a worker runs, locally or on a Dask cluster.

A Task (grader/task.py) is self-contained plain data (the notebook's bytes, the
assignment's files, the course's configuration and a gradebook that knows only the
assignment), so it can run in a process of this machine or on another machine with the same
environment. The worker builds a scratch course, autogrades there with the student's kernel
in the sandbox, generates and sanitizes the feedback, and returns a Result: the grades, the
autograded notebook and the feedback as plain data; the instructor's process merges them
into the one gradebook.

nbgrader runs the grader's own preprocessors, configured through traitlets like nbgrader's:
SandboxExecute (the kernels in the sandbox, from a KernelSpec) and Deduplicate here, and
verdict.Verdicts and feedback.ScrubHiddenLines.
"""
import copy
import json
import os
import re
import shutil
import tempfile
import time
import typing
from dataclasses import replace
from pathlib import Path

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.v4 import new_output
from nbgrader.preprocessors import DeduplicateIds, Execute
from traitlets import Bool, Instance, Integer

from grader import course as coursedir
from grader import feedback, late, sandbox, submission, verdict
from grader.task import Grades, KernelSpec, NotebookGrades, Result


def _cache_templates():
    """Compile nbconvert's templates once per worker, not once per student (-1 s each)."""
    import jinja2
    from nbconvert.exporters.templateexporter import TemplateExporter

    if getattr(TemplateExporter, "_bp_cached", False):
        return

    class MemoryBytecodeCache(jinja2.BytecodeCache):
        store: typing.ClassVar[dict] = {}

        def load_bytecode(self, bucket):
            if bucket.key in self.store:
                bucket.bytecode_from_string(self.store[bucket.key])

        def dump_bytecode(self, bucket):
            self.store[bucket.key] = bucket.bytecode_to_string()

    create, cache = TemplateExporter._create_environment, MemoryBytecodeCache()

    def cached_environment(self):
        env = create(self)
        env.bytecode_cache = cache
        return env

    TemplateExporter._create_environment = cached_environment
    TemplateExporter._bp_cached = True


def init_worker():
    """Worker start-up: take a sandbox slot, die with the parent, import the heavy modules
    once."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    sandbox.acquire_slot()
    import warnings

    from sqlalchemy.exc import SAWarning

    warnings.filterwarnings("ignore", category=SAWarning)  # nbgrader's add_submission
    import nbgrader.apps
    import nbgrader.converters  # noqa: F401


class SandboxExecute(Execute):
    """nbgrader's Execute with the kernel in the sandbox (`spec`, a KernelSpec; with `unsafe`,
    without it): survives a kernel that dies or times out, caps outputs, and after the
    student's run, runs the judging notebook (grader/verdict.py) in a fresh kernel."""

    spec = Instance(KernelSpec, allow_none=True,
                    help="the kernels' KernelSpec (grader/task.py)").tag(config=True)
    unsafe = Bool(False, help="run the kernels without the sandbox (--unsafe)").tag(config=True)
    max_output_chars = Integer(20_000).tag(config=True)
    max_restarts = Integer(3).tag(config=True)
    max_data_bytes = Integer(8_000_000).tag(config=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        manager = sandbox.UnsafeKernelManager if self.unsafe else sandbox.SandboxKernelManager
        self.kernel_manager_class = type("TaskKernelManager", (manager,), {"spec": self.spec})

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        if not self.unsafe:
            os.chmod(self.spec.channels, 0o711)  # the kernel may no longer write there
        return kc

    def preprocess(self, nb, resources=None, km=None):
        """Run the notebook whole (the student's feedback), then the judging notebook in
        a fresh sandboxed kernel: its records go to resources["backprop"]."""
        spec = self.spec
        ran, resources = self._run(nb, resources, km)
        token = verdict.new_token()
        judging, left_out = verdict.judging_notebook(
            ran, verdict.hidden_cases(spec.folder), token,
            verdict.helper_modules(spec.helpers))
        judged, resources = self._run(judging, resources, km)
        resources["backprop"] = {
            "records": verdict.records(judged, verdict.load(spec.folder)[2].RECORD, token),
            "left_out": left_out}
        return ran, resources

    def _run(self, nb, resources, km):
        """Execute `nb` in a new kernel; a cell that kills the kernel or times out is
        skipped (an error output says so) and the notebook is run again without it."""
        self._skipped, self._index = {}, None
        for _ in range(self.max_restarts + 1):
            try:
                if not self.unsafe:
                    sandbox.wait_until_gone(self.spec.slot)
                os.chmod(self.spec.channels, 0o733)
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
        for i, out in enumerate(cell.get("outputs", [])):
            if out.output_type == "stream" and len(out.text) > self.max_output_chars:
                out.text = (out.text[: self.max_output_chars]
                            + f"\n... output cut at {self.max_output_chars} characters ...\n")
            elif "data" in out and len(json.dumps(out.data)) > self.max_data_bytes:
                cell.outputs[i] = new_output(
                    "stream", name="stdout",
                    text=f"... an output over {self.max_data_bytes} bytes was dropped ...\n")
        return cell, resources


class Deduplicate(DeduplicateIds):
    """nbgrader's DeduplicateIds leaves `"nbgrader": {}` on the dropped copy of a duplicated
    grade cell, which crashes OverwriteCells.add_missing_cells; this drops the key instead."""

    def preprocess(self, nb, resources):
        nb, resources = super().preprocess(nb, resources)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader") == {}:
                del cell.metadata["nbgrader"]
        return nb, resources


def _overrides(task, spec, hidden, course):
    from nbconvert.preprocessors import (
        ClearMetadataPreprocessor,
        CSSHTMLHeaderPreprocessor,
    )
    from nbgrader.preprocessors import (
        AssignLatePenalties,
        CheckCellMetadata,
        ClearHiddenTests,
        ClearOutput,
        GetGrades,
        IgnorePattern,
        LimitOutput,
        OverwriteCells,
        OverwriteKernelspec,
        SaveAutoGrades,
    )

    from grader.feedback import ScrubHiddenLines

    # the course's feedback steps (nbgrader_config.py), with every hidden-test line scrubbed
    # from every output before the hidden tests themselves are cleared
    steps = list(coursedir.config(course).GenerateFeedback.get(
        "preprocessors", [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]))
    steps.insert(steps.index(ClearHiddenTests) if ClearHiddenTests in steps else 1,
                 ScrubHiddenLines)
    out = {
        "Execute.kernel_name": "python3",
        "Execute.shutdown_kernel": "immediate",  # the sandbox goes with it: nothing to save
        "Autograde.sanitize_preprocessors": [
            ClearOutput, Deduplicate, OverwriteKernelspec, OverwriteCells,
            CheckCellMetadata],
        "Autograde.autograde_preprocessors": [
            SandboxExecute,
            verdict.Verdicts,
            IgnorePattern, ClearMetadataPreprocessor,
            LimitOutput, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata],
        "GenerateFeedback.preprocessors": steps,
        "ScrubHiddenLines.lines": sorted(hidden),
        "SandboxExecute.spec": spec,
        "SandboxExecute.unsafe": task.unsafe,
        "Verdicts.folder": str(spec.folder),
        "Verdicts.helpers": sorted(verdict.helper_modules(spec.helpers)),
    }
    if task.timeout:
        out["Execute.timeout"] = task.timeout
    return out


def _read_grades(gradebook, a, student):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{gradebook}") as gb:
        sub = gb.find_submission(a, student)
        return Grades(
            timestamp=sub.timestamp.isoformat() if sub.timestamp else None,
            notebooks={nb.name: NotebookGrades(
                late_submission_penalty=nb.late_submission_penalty,
                grades={g.name: {k: getattr(g, k) for k in (
                    "auto_score", "manual_score", "extra_credit", "needs_manual_grade")}
                    for g in nb.grades},
                max_scores={g.name: g.max_score for g in nb.grades},
                comments={c.name: c.auto_comment for c in nb.comments},
            ) for nb in sub.notebooks})


def _files(folder):
    folder = Path(folder)
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()} if folder.is_dir() else {}


ERROR_LINE = re.compile(r"\s*((?:\w+\.)*\w+(?:Error|Exception|Exit)(?::\s.*)?)$")


def _failure(what, run):
    """(reason, log) of a failed nbgrader step. The reason is the error its traceback ended
    with: nbgrader's own exception only says "see the above traceback", which is in its log."""
    log = (run.get("log") or "") + (run.get("error") or "")
    errors = [m.group(1) for m in map(ERROR_LINE.fullmatch, log.splitlines())
              if m and "NbGraderException" not in m.group(1)]
    lines = errors[-1:] or [ln for ln in log.splitlines() if ln.strip()][-3:]
    return f"{what} failed: " + " | ".join(ln[:300] for ln in lines), log[-6000:]


def _sweep_channels():
    """Remove the short channel folders in /tmp (bp-ch-<pid>-*) of grading processes that no
    longer run: a worker killed while grading (SIGKILL) cannot remove its own."""
    for folder in Path("/tmp").glob("bp-ch-*-*"):
        pid = folder.name.split("-")[2]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists() \
                and folder.stat().st_uid == os.geteuid():
            shutil.rmtree(folder, ignore_errors=True)


def _scratch_course(task, work, notes):
    """The worker's scratch course in `work`, with the submission normalized into it:
    (course, source notebook, path of the submitted notebook); adds normalize's notes."""
    import nbformat

    a = task.assignment
    course = work / "course"
    (course / "source" / a).mkdir(parents=True)
    (course / "nbgrader_config.py").write_bytes(task.config)
    for rel, data in task.source.items():
        (course / "source" / a / rel).write_bytes(data)
    (course / "gradebook.db").write_bytes(task.gradebook)
    source_nb = nbformat.reads(task.source[f"{a}.ipynb"].decode(), as_version=4)
    release_nb = nbformat.reads(task.release.decode(), as_version=4)
    nb, said = submission.normalize(task.notebook, source_nb, release_nb, a)
    if not task.notebook and notes:
        said = [n for n in said if "not a readable notebook" not in n]  # said already
    notes += said
    dest = course / "submitted" / task.student / a
    dest.mkdir(parents=True)
    nbformat.write(nb, dest / f"{a}.ipynb")
    for name, data in task.metadata.items():
        (dest / name).write_bytes(data)
    return course, source_nb, dest / f"{a}.ipynb"


def _channels(work, outside):
    """The kernels' channels folder: in `work`, or in /tmp when that path is too long (then
    appended to `outside`, to be removed)."""
    channels = work / "ch"
    if len(str(channels)) > 80:  # a Unix socket's path holds at most 107 bytes
        _sweep_channels()
        outside.append(Path(tempfile.mkdtemp(prefix=f"bp-ch-{os.getpid()}-", dir="/tmp")))
        return outside[-1]
    channels.mkdir()
    return channels


def _prepare(task, work, notes, outside):
    """(scratch course, nbgrader's configuration overrides) for grading `task` in `work`."""
    a = task.assignment
    course, source_nb, notebook = _scratch_course(task, work, notes)
    channels = _channels(work, outside)
    folder = course / "source" / a
    helpers = {n: folder / n for n in task.source
               if n != f"{a}.ipynb" and n not in coursedir.GRADER_ONLY}
    spec = KernelSpec(channels=str(channels), helpers=helpers, slot=sandbox.acquire_slot(),
                      notebook=str(notebook), folder=folder, scratch=str(work),
                      env=verdict.environment(folder))
    hidden = feedback.hidden_lines(c.source for c in source_nb.cells) | \
        verdict.case_texts(verdict.hidden_cases(folder))
    return course, _overrides(task, spec, hidden, course)


def _feedback(course, task, notes):
    """{path: bytes} of the submission's feedback, its HTML sanitized with the notes on top."""
    a, student = task.assignment, task.student
    banner = late.notes(course, a, student) + list(notes)  # lateness first
    files = {}
    for rel, data in _files(course / "feedback" / student / a).items():
        if rel.endswith(".html"):
            data = feedback.sanitize(data.decode(), f"{a}: feedback for {student}",
                                     banner).encode()
        files[rel] = data
    return files


def _since(started):
    return round(time.monotonic() - started, 2)


def _grade(task, work, outside, started):
    """The Result of grading `task` in the scratch folder `work` (see grade)."""
    a, student = task.assignment, task.student
    result = Result(student=student, assignment=a, sha256=task.sha256, notes=tuple(task.notes))
    notes = list(task.notes)
    try:
        course, overrides = _prepare(task, work, notes, outside)
        result = replace(result, notes=tuple(notes), phases={"prepare": _since(started)})
        for attempt in (1, 2):  # a kernel that did not start under load is retried once
            run = coursedir.api(course, **overrides).autograde(a, student, force=True,
                                                               create=True)
            if run["success"] or attempt == 2 or "Kernel" not in run.get("log", ""):
                break
        if not run["success"]:
            reason, log = _failure("autograde", run)
            return replace(result, reason=reason, log=log)
        result = replace(result, phases={**result.phases, "autograde": _since(started)})
        result = replace(result, grades=_read_grades(course / "gradebook.db", a, student))
        result = replace(result, autograded=_files(course / "autograded" / student / a))
        fb = coursedir.api(course, **overrides).generate_feedback(a, student)
        if not fb["success"]:
            reason, log = _failure("feedback", fb)
            return replace(result, reason=reason, log=log)
        result = replace(result, feedback=_feedback(course, task, result.notes))
        return replace(result, ok=True, phases={**result.phases, "feedback": _since(started)})
    except Exception as err:  # noqa: BLE001 (one student's problem never stops the class)
        return replace(result, notes=tuple(notes),
                       reason=f"grading failed: {type(err).__name__}: {str(err)[:300]}")


def grade(task):
    """Grade one Task (see module docstring); returns its Result. Never raises."""
    started = time.monotonic()
    _cache_templates()
    work = Path(tempfile.mkdtemp(prefix="bp-grade-", dir=task.tmpdir))
    outside = []  # a channels folder made outside `work`
    try:
        return replace(_grade(task, work, outside, started), seconds=_since(started))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        for folder in outside:
            shutil.rmtree(folder, ignore_errors=True)
