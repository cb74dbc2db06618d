"""What the stages of class grading hand each other: plain, frozen, picklable data.

    classgrade (plan) --Task--> worker.grade (in a process or on Dask) --Result--> classgrade
    (merge: the gradebook, autograded/, feedback/; the Outcome of each student in the resume
    state, grader/state.py)

and, inside the worker, the KernelSpec that the sandbox's kernel managers start a kernel
with. Every field is documented here, once.
"""
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Task:
    """One submission to grade, self-contained: it can run in a process of this machine or on
    another machine with the same environment (grader/worker.py).

    assignment: the assignment's name, e.g. "ps1_perceptron".
    student: the student's id (their folder in submitted/).
    notebook: the submitted notebook's bytes (b"" when none could be read).
    metadata: {name: bytes} of what nbgrader's collect writes next to the notebook
        (submission.METADATA: timestamp.txt, submission_secret.txt), where present.
    source: {name: bytes} of every file of source/<assignment>/ (the notebook and helpers).
    config: the course's nbgrader_config.py, as bytes.
    gradebook: the bytes of a gradebook.db that knows only this assignment (and its due date).
    release: the release notebook's bytes.
    timeout: seconds per cell, or None for the course's configured timeout.
    unsafe: True to run the kernel without the sandbox (--unsafe: trusted work only).
    notes: the sentences already said about the submission (submission.notes).
    sha256: the content hash of the submission and the assignment (state.sha256), recorded
        once it is graded so that an unchanged submission is not graded again.
    tmpdir: the folder the worker's scratch course goes in (None: the system's; a Dask
        worker on another machine has no folder of ours).
    """

    assignment: str
    student: str
    notebook: bytes
    source: dict
    config: bytes
    gradebook: bytes
    release: bytes
    sha256: str
    metadata: dict = field(default_factory=dict)
    timeout: int | None = None
    unsafe: bool = False
    notes: tuple = ()
    tmpdir: str | None = None


@dataclass(frozen=True)
class NotebookGrades:
    """What the gradebook holds of one graded notebook of a submission.

    late_submission_penalty: the points taken off for lateness (None: on time).
    grades: {grade cell id: {attribute: value}} of nbgrader's Grade attributes auto_score,
        manual_score, extra_credit and needs_manual_grade.
    max_scores: {grade cell id: points}.
    comments: {cell id: nbgrader's auto_comment (None: no comment)}.
    """

    late_submission_penalty: float | None
    grades: dict
    max_scores: dict
    comments: dict


@dataclass(frozen=True)
class Grades:
    """A graded submission, as read from the worker's scratch gradebook.

    timestamp: the submission's time (ISO format), or None when it has none.
    notebooks: {notebook name: NotebookGrades}.
    """

    timestamp: str | None
    notebooks: dict


@dataclass(frozen=True)
class Result:
    """What worker.grade returns for one Task: never an exception, always a Result.

    student, assignment, sha256: those of the Task.
    ok: True when autograding and feedback both succeeded.
    reason: None when graded, else one sentence saying why the submission was not graded.
    notes: the Task's notes and those added while grading (submission.normalize).
    grades: the Grades, once autograding succeeded (else None).
    autograded: {path relative to autograded/<student>/<a>/: bytes}.
    feedback: {path relative to feedback/<student>/<a>/: bytes} (the sanitized HTML).
    seconds: the time spent grading it.
    phases: {"prepare" | "autograde" | "feedback": seconds since the start} as reached.
    log: nbgrader's log of a failed step (its last 6000 characters), else None.
    """

    student: str
    assignment: str
    sha256: str | None = None
    ok: bool = False
    reason: str | None = None
    notes: tuple = ()
    grades: Grades | None = None
    autograded: dict = field(default_factory=dict)
    feedback: dict = field(default_factory=dict)
    seconds: float | None = None
    phases: dict = field(default_factory=dict)
    log: str | None = None


@dataclass(frozen=True)
class KernelSpec:
    """How the sandbox starts one grading kernel (grader/sandbox.py's kernel managers).

    channels: the folder of the kernel's Unix sockets and connection file (a short path).
    helpers: {name: path} of the assignment's shipped helper files, mounted read-only in the
        kernel's working folder.
    slot: the worker's sandbox slot (the kernel runs as uid sandbox.BASE_UID + slot).
    notebook: the submitted notebook's path, mounted read-only beside the helpers (or None).
    folder: the scratch course's source/<assignment>/ (check.py, referee.py: the verdicts).
    scratch: a folder for the fork server's start (removed with the task), or None.
    env: {variable: value} added to the kernel's clean environment.
    """

    channels: str
    helpers: dict = field(default_factory=dict)
    slot: int = 0
    notebook: str | None = None
    folder: Path | None = None
    scratch: str | None = None
    env: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What the resume state (autograded/.bp-<a>.json, grader/state.py) records of a student's
    last graded submission.

    sha256: the content hash it was graded with (None when it was not graded: it is graded
        again on the next run).
    notes: the sentences said about it (submission.notes, submission.normalize).
    reason: None when graded, else why not.
    seconds: the time its grading took.
    """

    sha256: str | None = None
    notes: tuple = ()
    reason: str | None = None
    seconds: float | None = None
