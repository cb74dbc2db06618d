"""Grade a whole class: in parallel, resumable, incremental, locally or on a Dask cluster.

    grade_class(course, assignment, jobs=2)

grade_class is plan -> run -> merge -> publish, over the types of grader/task.py:
1. An LMS download in downloaded/<a>/archive is collected into submitted/ (bad members
   skipped, each named: submission.collect).
2. plan: every submission whose content (and the assignment's) is unchanged since it was
   last graded is skipped, unless force=True (grader/state.py); the rest become Tasks, with
   the notes on what was submitted (submission.notes).
3. run: the Tasks are graded (grader.worker.grade) by `jobs` worker processes that keep
   nbgrader imported, or by a Dask cluster (scheduler="tcp://host:8786").
4. merge: the instructor's process writes each Result into the one gradebook as it
   arrives, with its autograded notebook and its feedback, and records its Outcome in
   autograded/.bp-<a>.json: an interruption loses nothing already merged, and the next run
   resumes.
5. publish: grades.csv (every student that has a grade, and any problem met), the summary
   and the class report (grader/report.py).
"""
import datetime
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from grader import course as coursedir
from grader import late, report, sandbox, submission, worker
from grader.errors import GradingRefused
from grader.state import load_state, save_state, sha256, unchanged
from grader.task import Outcome, Task


def _released(course, a):
    from nbgrader.api import MissingEntry

    if not (Path(course) / "gradebook.db").exists():
        return False
    with coursedir.gradebook(course) as gb:
        try:
            return bool(gb.find_assignment(a).notebooks)
        except MissingEntry:
            return False


def _template(course, a, tmp):
    """(gradebook bytes, release notebook bytes): a gradebook that knows only `a`."""
    scratch = coursedir.new_course(Path(tmp) / "template", [a], root=course)
    release = coursedir.generate_release(scratch, a)
    late.set_duedate(scratch, a)
    return (scratch / "gradebook.db").read_bytes(), (release / f"{a}.ipynb").read_bytes()


def _record_grades(course, a, student, grades):
    """Write a submission's Grades into the course's gradebook."""
    import warnings

    from nbgrader.api import MissingEntry
    from sqlalchemy.exc import SAWarning

    warnings.simplefilter("ignore", SAWarning)  # nbgrader's add_submission is noisy
    stamp = datetime.datetime.fromisoformat(grades.timestamp) if grades.timestamp else None
    with coursedir.gradebook(course) as gb:
        gb.update_or_create_student(student)
        try:
            gb.find_submission(a, student)
            sub = gb.update_or_create_submission(a, student, timestamp=stamp)
        except MissingEntry:
            sub = gb.add_submission(a, student, timestamp=stamp)
        for nb in sub.notebooks:
            data = grades.notebooks.get(nb.name)
            nb.late_submission_penalty = data.late_submission_penalty if data else None
            for g in nb.grades:
                for key, value in (data.grades.get(g.name, {}) if data else {}).items():
                    setattr(g, key, value)
            for c in nb.comments:
                c.auto_comment = data.comments.get(c.name) if data else None
        gb.db.commit()


def merge(course, a, result):
    """Write one Result into the gradebook, autograded/ and feedback/; returns the Outcome
    the resume state records of it."""
    if result.grades:
        _record_grades(course, a, result.student, result.grades)
    for kind, files in (("autograded", result.autograded), ("feedback", result.feedback)):
        folder = Path(course) / kind / result.student / a
        if files:
            shutil.rmtree(folder, ignore_errors=True)
            for rel, data in files.items():
                (folder / rel).parent.mkdir(parents=True, exist_ok=True)
                (folder / rel).write_bytes(data)
    return Outcome(sha256=None if result.reason else result.sha256, notes=result.notes,
                   reason=result.reason, seconds=result.seconds)


class Progress:
    """One line: students done, failures so far, time left."""

    def __init__(self, total, log):
        self.total, self.done, self.failed, self.log = total, 0, 0, log
        self.start = time.monotonic()
        self.tty = sys.stderr.isatty()

    def step(self, student, reason, seconds):
        self.done += 1
        self.failed += bool(reason)
        spent = time.monotonic() - self.start
        left = spent / self.done * (self.total - self.done)
        bar = "#" * round(20 * self.done / self.total)
        line = (f"[{bar:<20}] {self.done}/{self.total} graded, {self.failed} failed, "
                f"about {left:.0f} s left")
        if self.tty:
            print("\r" + line, end="" if self.done < self.total else "\n", file=sys.stderr,
                  flush=True)
        self.log(f"[{self.done}/{self.total}] {student}: {reason or 'graded'} ({seconds} s)")


def _run_local(tasks, jobs):
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx,
                             initializer=worker.init_worker) as pool:
        futures = [pool.submit(worker.grade, t) for t in tasks]
        try:
            for fut in as_completed(futures):
                yield fut.result()
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise


def _run_dask(tasks, scheduler):
    from dask.distributed import Client
    from dask.distributed import as_completed as dask_completed

    with Client(scheduler, timeout="30s") as client:
        futures = client.map(worker.grade, tasks, pure=False, retries=1)
        for fut in dask_completed(futures):
            yield fut.result()


def _require_sandbox():
    why = sandbox.check_available()
    if why:
        raise GradingRefused(f"Refusing to grade: the sandbox cannot run here: {why} "
                             "Grading untrusted code without it is unsafe; pass --unsafe "
                             "only for work you trust.")


def _receive(course, a, log):
    """Collect an LMS download, record the assignment and its due date in the gradebook;
    returns the LMS members skipped (one line each)."""
    pattern = coursedir.config(course).FileNameCollectorPlugin.named_regexp
    _, skipped = submission.collect(course, a, pattern, log=log)
    if not _released(course, a):
        coursedir.generate_release(course, a)  # records the assignment's cells
    late.set_duedate(course, a)
    return skipped


def students_of(course, a):
    """Every student with a submission of `a` in submitted/, sorted."""
    return sorted(p.parent.name for p in (Path(course) / "submitted").glob(f"*/{a}")
                  if p.is_dir())


def plan(course, a, students, state, tmp, force=False, timeout=None, unsafe=False,
         local=True):
    """A Task for each of `students` whose submission of `a` changed since it was graded (each
    one, with force). `tmp`: the folder of the class's scratch files (and of the tasks' own,
    if `local`)."""
    source = {p.name: p.read_bytes() for p in sorted((course / "source" / a).iterdir())
              if p.is_file()}
    source_hash = sha256(late.fingerprint(course, a),
                         *(n.encode() + b"\0" + d for n, d in source.items()))
    gradebook, release = _template(course, a, tmp)
    config = (course / "nbgrader_config.py").read_bytes()
    tasks = []
    for student in students:
        raw, meta, link = submission.submitted(course, a, student)
        sha = sha256(source_hash.encode(), raw, *meta.values())
        if not force and unchanged(state, student, sha):
            continue
        raw, notes = submission.notes(course, a, student, raw, link, source)
        tasks.append(Task(assignment=a, student=student, notebook=raw, metadata=meta,
                          source=source, config=config, gradebook=gradebook, release=release,
                          timeout=timeout, unsafe=unsafe, notes=tuple(notes), sha256=sha,
                          tmpdir=tmp if local else None))
    return tasks


def run(tasks, jobs, scheduler=None):
    """The Result of every Task, as each is ready: on `jobs` worker processes, or on the Dask
    cluster at `scheduler`."""
    return _run_dask(tasks, scheduler) if scheduler else _run_local(tasks, jobs)


def publish(course, a, students, state, failed, skipped, graded_now, unsafe, log):
    """Say what was graded and every problem met, and write the class report."""
    n_graded = sum(1 for s in students if s not in failed)
    log(f"graded {n_graded} of {len(students)} submissions of {a} ({graded_now} this run, "
        f"{len(students) - graded_now} unchanged); grades in {course / 'grades.csv'}, feedback "
        f"in {course / 'feedback'}")
    for line in skipped:
        log(f"SKIPPED {line}")
    for student in students:
        for note in state[student].notes if student in state else ():
            log(f"NOTE {student}: {note}")
    for student, reason in failed.items():
        log(f"NOT GRADED {student}: {reason}")
    if unsafe:
        log("WARNING: graded with --unsafe: student code ran without the sandbox.")
    report.write(course, a, state, unsafe=unsafe)
    log(f"class report: {course / 'report' / a / 'index.html'}")


def grade_class(course, a, jobs=None, force=False, scheduler=None, timeout=None,
                unsafe=False, log=print, done=None):
    """Grade every submission of `a`; returns {student: reason} for those not graded.
    `done(student, reason)` is called as each result is merged (the grading service)."""
    course = Path(course).resolve()
    jobs = max(1, int(jobs or os.cpu_count() or 1))
    if not unsafe:
        _require_sandbox()
    skipped = _receive(course, a, log)
    students, state, failed = students_of(course, a), load_state(course, a), {}
    with tempfile.TemporaryDirectory(prefix="bp-class-") as tmp:
        tasks = plan(course, a, students, state, tmp, force, timeout, unsafe, not scheduler)
        if len(students) > len(tasks):
            log(f"{len(students) - len(tasks)} submission(s) unchanged since they were graded: "
                "skipped (--force regrades them)")
        progress = Progress(len(tasks), log) if tasks else None
        try:
            for result in run(tasks, jobs, scheduler):
                state[result.student] = merge(course, a, result)
                if result.reason:
                    failed[result.student] = result.reason
                # said before it is recorded: a run killed in between says it, and the next
                # run grades it again, so no merge goes unsaid
                progress.step(result.student, result.reason, result.seconds)
                save_state(course, a, state)
                if done:
                    done(result.student, result.reason)
        except KeyboardInterrupt:
            log("interrupted: every submission graded so far is saved; run the same command "
                "again to grade the rest.")
            raise
        finally:
            report.write_grades_csv(course)
    publish(course, a, students, state, failed, skipped, len(tasks), unsafe, log)
    return failed
