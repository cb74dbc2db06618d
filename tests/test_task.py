"""The hand-offs of class grading (grader/task.py) and the resume state (grader/state.py),
alone and fast: no kernel, no sandbox, no gradebook."""
import dataclasses
import json
import pickle
from pathlib import Path

import pytest

from grader import state
from grader.task import Grades, KernelSpec, NotebookGrades, Outcome, Result, Task

TASK = Task(assignment="ps1_perceptron", student="alice", notebook=b"{}",
            source={"ps1_perceptron.ipynb": b"{}", "check.py": b"x = 1\n"}, config=b"c = 1\n",
            gradebook=b"SQLite", release=b"{}", sha256="ab" * 32,
            metadata={"timestamp.txt": b"2026-10-05 12:00:00"}, timeout=30, unsafe=True,
            notes=("A note.",), tmpdir="/tmp/x")
RESULT = Result(student="alice", assignment="ps1_perceptron", sha256="ab" * 32, ok=True,
                notes=("A note.",),
                grades=Grades(timestamp="2026-10-05T12:00:00", notebooks={
                    "ps1_perceptron": NotebookGrades(
                        late_submission_penalty=None,
                        grades={"test_a": {"auto_score": 1.0, "manual_score": None,
                                           "extra_credit": None,
                                           "needs_manual_grade": False}},
                        max_scores={"test_a": 1.0}, comments={"a": None})}),
                autograded={"ps1_perceptron.ipynb": b"{}"},
                feedback={"ps1_perceptron.html": b"<html>"}, seconds=1.5,
                phases={"prepare": 0.1})
SPEC = KernelSpec(channels="/tmp/ch", helpers={"check.py": Path("/course/check.py")}, slot=3,
                  notebook="/course/n.ipynb", folder=Path("/course"), scratch="/tmp/s",
                  env={"BACKPROP_GRADING": "1"})


@pytest.mark.parametrize("value", [TASK, RESULT, SPEC, Outcome("ab", ("n",), None, 2.0)],
                         ids=lambda v: type(v).__name__)
def test_every_hand_off_pickles_unchanged_and_is_frozen(value):
    """What a worker process or a Dask worker receives and returns arrives whole."""
    again = pickle.loads(pickle.dumps(value))
    assert again == value and type(again) is type(value)
    field = dataclasses.fields(value)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, field, None)


def test_every_field_is_documented_once_in_its_docstring():
    for kind in (Task, Result, KernelSpec, Outcome, Grades, NotebookGrades):
        doc = kind.__doc__
        for f in dataclasses.fields(kind):
            assert doc.count(f"{f.name}:") + doc.count(f"{f.name},") >= 1, (kind, f.name)


def test_the_resume_state_round_trips_through_its_file(tmp_path):
    graded = {"alice": Outcome(sha256="ab", notes=("One.", "Two."), reason=None, seconds=3.5),
              "bob": Outcome(sha256=None, notes=(), reason="autograde failed: X", seconds=1.0)}
    state.save_state(tmp_path, "a1", graded)
    path = state.state_path(tmp_path, "a1")
    assert path == tmp_path / "autograded" / ".bp-a1.json"
    assert json.loads(path.read_text()) == {
        "alice": {"sha256": "ab", "notes": ["One.", "Two."], "reason": None, "seconds": 3.5},
        "bob": {"sha256": None, "notes": [], "reason": "autograde failed: X", "seconds": 1.0}}
    assert state.load_state(tmp_path, "a1") == graded
    assert not list(path.parent.glob("*.tmp"))


@pytest.mark.parametrize("text", [None, "", "not json", "[1, 2]", '{"alice": 3}'])
def test_a_missing_or_unreadable_state_is_empty(tmp_path, text):
    if text is not None:
        state.state_path(tmp_path, "a1").parent.mkdir(parents=True)
        state.state_path(tmp_path, "a1").write_text(text)
    assert state.load_state(tmp_path, "a1") == {}


def test_only_an_unchanged_graded_submission_is_skipped():
    graded = {"alice": Outcome(sha256="ab"), "bob": Outcome(sha256="cd", reason="failed")}
    assert state.unchanged(graded, "alice", "ab")
    assert not state.unchanged(graded, "alice", "ef")  # changed
    assert not state.unchanged(graded, "bob", "cd")  # not graded last time
    assert not state.unchanged(graded, "carol", "ab")  # never seen
    assert state.sha256(b"a", b"b") != state.sha256(b"ab")  # parts are not concatenated
    assert state.sha256(b"a") == state.sha256(b"a")
