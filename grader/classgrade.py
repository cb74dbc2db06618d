"""Grade a whole class: in parallel, resumable, incremental, locally or on a Dask cluster.

    grade_class(course, assignment, jobs=2)

1. An LMS download in downloaded/<a>/archive is collected into submitted/ (bad members
   skipped, each named).
2. Every submission whose content (and the assignment's) is unchanged since it was last
   graded is skipped, unless force=True.
3. The rest become tasks (grader.worker.grade), run by `jobs` worker processes that keep
   nbgrader imported, or by a Dask cluster (scheduler="tcp://host:8786").
4. The instructor's process merges each result into the one gradebook as it arrives, with
   its autograded notebook and its feedback, and records it in autograded/.bp-<a>.json:
   an interruption loses nothing already merged, and the next run resumes.
5. grades.csv (every student that has a grade, and any problem met) and the class report.
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
from grader.state import load_state, save_state, sha256
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


def _merge(course, a, result):
    """Write one result into the gradebook, autograded/ and feedback/."""
    import warnings

    from nbgrader.api import MissingEntry
    from sqlalchemy.exc import SAWarning

    student, grades = result.student, result.grades
    if grades:
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's add_submission is noisy
        stamp = grades.timestamp
        stamp = datetime.datetime.fromisoformat(stamp) if stamp else None
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
    for kind, files in (("autograded", result.autograded), ("feedback", result.feedback)):
        folder = Path(course) / kind / student / a
        if files:
            shutil.rmtree(folder, ignore_errors=True)
            for rel, data in files.items():
                (folder / rel).parent.mkdir(parents=True, exist_ok=True)
                (folder / rel).write_bytes(data)


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


def grade_class(course, a, jobs=None, force=False, scheduler=None, timeout=None,
                unsafe=False, log=print, done=None):
    """Grade every submission of `a`; returns {student: reason} for those not graded.
    `done(student, reason)` is called as each result is merged (the grading service)."""
    course = Path(course).resolve()
    jobs = max(1, int(jobs or os.cpu_count() or 1))
    if not unsafe:
        why = sandbox.check_available()
        if why:
            raise SystemExit(f"Refusing to grade: the sandbox cannot run here: {why} "
                             "Grading untrusted code without it is unsafe; pass --unsafe "
                             "only for work you trust.")
    cfg = coursedir.config(course)
    pattern = cfg.FileNameCollectorPlugin.named_regexp
    _, skipped_members = submission.collect(course, a, pattern, log=log)
    if not _released(course, a):
        coursedir.generate_release(course, a)  # records the assignment's cells
    late.set_duedate(course, a)
    students = sorted(p.parent.name for p in (course / "submitted").glob(f"*/{a}")
                      if p.is_dir())
    state = load_state(course, a)
    failed = {}
    source = {p.name: p.read_bytes() for p in sorted((course / "source" / a).iterdir())
              if p.is_file()}
    source_hash = sha256(late.fingerprint(course, a),
                          *(n.encode() + b"\0" + d for n, d in source.items()))
    with tempfile.TemporaryDirectory(prefix="bp-class-") as tmp:
        gradebook, release = _template(course, a, tmp)
        tasks = []
        for student in students:
            folder = course / "submitted" / student / a
            nb_path = folder / f"{a}.ipynb"
            top = course / "submitted"
            raw, link = submission.read_regular(nb_path, top)
            # what nbgrader's collect writes next to the notebook; releasing feedback needs it
            meta = {n: data for n in submission.METADATA
                    for data, why in [submission.read_regular(folder / n, top)]
                    if data and not why}
            sha = sha256(source_hash.encode(), raw, *meta.values())
            if not force and state.get(student) is not None \
                    and state[student].sha256 == sha and not state[student].reason:
                continue
            notes = [link] if link else []
            if not link and not nb_path.exists():
                others = sorted(p.name for p in folder.glob("*.ipynb"))
                notes.append(f"No {a}.ipynb was submitted"
                             + (f" (found {', '.join(others)})" if others else "")
                             + "; it was graded as an empty submission.")
                if len(others) == 1:
                    raw, link = submission.read_regular(folder / others[0], top)
                    notes[-1] = link or (f"The notebook was submitted as {others[0]} instead "
                                         f"of {a}.ipynb; it was graded under the right name.")
            ignored = submission.ignored_files(folder, f"{a}.ipynb", source)
            if ignored:
                notes.append("Only the notebook is graded; these files next to it were "
                             "ignored (the course's own helpers were used): "
                             + ", ".join(ignored) + ".")
            tasks.append(Task(assignment=a, student=student, notebook=raw, metadata=meta,
                              source=source, config=(course / "nbgrader_config.py")
                              .read_bytes(), gradebook=gradebook, release=release,
                              timeout=timeout, unsafe=unsafe, notes=tuple(notes),
                              sha256=sha, tmpdir=None if scheduler else tmp))
        unchanged = len(students) - len(tasks)
        if unchanged:
            log(f"{unchanged} submission(s) unchanged since they were graded: skipped "
                "(--force regrades them)")
        progress = Progress(len(tasks), log) if tasks else None
        results = _run_dask(tasks, scheduler) if scheduler else _run_local(tasks, jobs)
        try:
            for result in results:
                _merge(course, a, result)
                student = result.student
                if result.reason:
                    failed[student] = result.reason
                state[student] = Outcome(sha256=result.sha256 if not result.reason else None,
                                         notes=result.notes, reason=result.reason,
                                         seconds=result.seconds)
                save_state(course, a, state)
                progress.step(student, result.reason, result.seconds)
                if done:
                    done(student, result.reason)
        except KeyboardInterrupt:
            log("interrupted: every submission graded so far is saved; run the same command "
                "again to grade the rest.")
            raise
        finally:
            write_grades_csv(course)
    n_graded = sum(1 for s in students if s not in failed)
    log(f"graded {n_graded} of {len(students)} submissions of {a} ({len(tasks)} this run, "
        f"{unchanged} unchanged); grades in {course / 'grades.csv'}, feedback in "
        f"{course / 'feedback'}")
    for line in skipped_members:
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
    return failed


COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name",
           "email", "raw_score", "late_submission_penalty", "score", "max_score", "problem"]


def write_grades_csv(course):
    """grades.csv: nbgrader's export columns plus `problem`, for every student with a grade."""
    import csv

    course = Path(course)
    if not (course / "gradebook.db").exists():
        return
    rows = []
    with coursedir.gradebook(course) as gb:
        for assignment in gb.assignments:
            state = load_state(course, assignment.name)
            for sub in assignment.submissions:
                info = state.get(sub.student.id, Outcome())
                problem = " ".join(([info.reason] if info.reason else []) + list(info.notes))
                penalty = sub.late_submission_penalty or 0.0
                rows.append([assignment.name, assignment.duedate, sub.timestamp, sub.student.id,
                             sub.student.last_name, sub.student.first_name, sub.student.email,
                             sub.score, penalty, max(0.0, sub.score - penalty), sub.max_score,
                             problem])
    tmp = course / "grades.csv.tmp"
    with tmp.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        writer.writerows(["" if v is None else v for v in row] for row in rows)
    os.replace(tmp, course / "grades.csv")


def scores(course, a, student):
    """{grade_id: (score, max_score)} of one graded submission, from the gradebook."""
    with coursedir.gradebook(course) as gb:
        sub = gb.find_submission(a, student)
        return {g.name: (g.score, g.max_score) for nb in sub.notebooks for g in nb.grades}
