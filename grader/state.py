"""The resume state of class grading, and the content hashes it is kept by.

autograded/.bp-<a>.json holds {student: Outcome} (grader/task.py): written after each merged
result, so an interruption loses nothing already merged and the next run resumes; a
submission whose content hash (the submission's bytes, the assignment's and the grader's
version) is the one recorded, and that was graded, is not graded again.
"""
import dataclasses
import hashlib
import json
import os
from pathlib import Path

from grader.task import Outcome

VERSION = "grader-2"  # part of every content hash: a new grader regrades everything


def state_path(course, a):
    return Path(course) / "autograded" / f".bp-{a}.json"


def _outcome(entry):
    known = {f.name for f in dataclasses.fields(Outcome)}
    entry = {k: v for k, v in entry.items() if k in known}
    return Outcome(**{**entry, "notes": tuple(entry.get("notes") or ())})


def load_state(course, a):
    """{student: Outcome} of the assignment's last grading ({} when there is none)."""
    try:
        return {s: _outcome(e) for s, e in json.loads(state_path(course, a).read_text()).items()}
    except (OSError, ValueError, AttributeError, TypeError):
        return {}


def save_state(course, a, state):
    """Write {student: Outcome} atomically."""
    path = state_path(course, a)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    data = {s: dataclasses.asdict(o) for s, o in state.items()}
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


def sha256(*parts):
    """The content hash of `parts` (bytes), with the grader's VERSION."""
    h = hashlib.sha256(VERSION.encode())
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


def unchanged(state, student, sha):
    """Whether the student's submission was graded, with this content hash, last time."""
    outcome = state.get(student)
    return outcome is not None and outcome.sha256 == sha and not outcome.reason
