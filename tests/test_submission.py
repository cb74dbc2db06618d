"""What comes in (grader/submission.py), alone and fast: collecting an LMS download, reading a
submission safely, its notes, and making a submitted notebook gradable. No kernel, no
sandbox, no gradebook."""
import copy
import os
import zipfile

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader import submission

A = "ps0_tiny"
PATTERN = r".*/(?P<student_id>[A-Za-z0-9]+)_(?P<file_id>[^/]+\.ipynb)$"  # nbgrader_config.py's


def _cell(source, grade_id, **flags):
    cell = new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade_id": grade_id, "grade": False, "solution": False,
                                 "locked": False, "schema_version": 3, **flags}
    return cell


def _new_source():
    return new_notebook(cells=[
        new_markdown_cell("# A tiny assignment"),
        _cell("def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
              "f", solution=True),
        _cell("assert f(1) == 2", "test_f", grade=True, locked=True, points=1),
    ])


SOURCE = _new_source()
RELEASE = copy.deepcopy(SOURCE)
RELEASE.cells[1].source = "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
BEFORE = copy.deepcopy((SOURCE, RELEASE))


def _source():
    return copy.deepcopy(SOURCE)


def _release():
    return copy.deepcopy(RELEASE)


def _normalize(nb_or_bytes):
    raw = nb_or_bytes if isinstance(nb_or_bytes, bytes) else nbformat.writes(nb_or_bytes).encode()
    got = submission.normalize(raw, SOURCE, RELEASE, A)
    assert (SOURCE, RELEASE) == BEFORE, "normalize changed the source or release notebook"
    return got


def test_normalize_keeps_the_students_code_and_the_courses_tests():
    """A well-behaved submission: the student's solution kept, no note."""
    nb = _release()
    nb.cells[1].source = "def f(x):\n    return x + x"
    got, notes = _normalize(nb)
    assert notes == []
    assert got.cells[1].source == "def f(x):\n    return x + x"
    assert got.cells[1].metadata["nbgrader"] == _source().cells[1].metadata["nbgrader"]
    assert got.cells[2].source == "assert f(1) == 2"


def test_normalize_restores_a_changed_test_and_says_so():
    nb = _release()
    nb.cells[2].source = "pass  # the test is gone"
    nb.cells[2].metadata["nbgrader"]["points"] = 100
    got, notes = _normalize(nb)
    assert got.cells[2].source == "assert f(1) == 2"
    assert got.cells[2].metadata["nbgrader"]["points"] == 1
    assert notes == [("These cells were changed and have been restored from the assignment: "
                      "test_f.")]


def test_normalize_puts_back_a_deleted_test_and_says_so():
    nb = _release()
    del nb.cells[2]
    got, notes = _normalize(nb)
    assert [c.metadata.get("nbgrader", {}).get("grade_id") for c in got.cells] == \
        [None, "f", "test_f"]
    assert notes == [("These cells were missing and have been put back from the assignment: "
                      "test_f.")]


def test_normalize_grades_a_repeated_id_as_the_students_own_cell():
    nb = _release()
    nb.cells.append(_cell("print('mine')", "test_f", grade=True, locked=True, points=5))
    got, notes = _normalize(nb)
    assert "nbgrader" not in got.cells[3].metadata
    assert notes == [("These cells carried an unknown or repeated nbgrader id and were graded "
                      "as your own cells: test_f.")]


def test_normalize_defuses_nbgraders_markers_in_the_students_cells():
    nb = _release()
    nb.cells.append(new_code_cell("### BEGIN HIDDEN TESTS\nx = 1\n### END HIDDEN TESTS"))
    got, notes = _normalize(nb)
    assert "BEGIN-HIDDEN TESTS" in got.cells[3].source
    assert "BEGIN HIDDEN TESTS" not in got.cells[3].source
    assert len(notes) == 1 and "defused" in notes[0]


@pytest.mark.parametrize("raw, why", [(b"", "the file is empty"),
                                      (b"\xff\xfe not text", "'utf-8' codec can't decode byte 0xff"),
                                      (b"{\"cells\": 3}", "")])
def test_a_file_that_is_not_a_notebook_is_graded_as_the_release(raw, why):
    got, notes = _normalize(raw)
    assert got == _release()
    assert len(notes) == 1 and notes[0].startswith("The submitted file is not a readable "
                                                   f"notebook ({why}")
    assert notes[0].endswith("open it in Jupyter, save it, and submit again.")


def _archive(course):
    folder = course / "downloaded" / A / "archive"
    folder.mkdir(parents=True)
    return folder


def test_collect_takes_good_members_and_names_every_bad_one(tmp_path, monkeypatch):
    """collect returns (got, skipped) as its docstring says: the collected notebooks by
    student, and one line per member skipped, naming it and why."""
    monkeypatch.setattr(submission, "MAX_MEMBER_BYTES", 1 << 20)
    archive = _archive(tmp_path)
    (archive / "alice_hw.ipynb").write_bytes(b"alice's notebook")
    (archive / "notes.txt").write_text("not a submission")
    (archive / "nameless.ipynb").write_bytes(b"whose?")
    with zipfile.ZipFile(archive / "lms.zip", "w") as z:
        z.writestr("sub/bob_hw.ipynb", b"bob's notebook")
        z.writestr("../eve_hw.ipynb", b"out of the folder")
        z.writestr("/abs_hw.ipynb", b"absolute")
        z.writestr("carol_readme.txt", b"text")
        z.writestr("big_hw.ipynb", b"x" * ((1 << 20) + 1))
        z.writestr("folder/", b"")
    (archive / "broken.zip").write_bytes(b"not a zip")
    said = []
    got, skipped = submission.collect(tmp_path, A, PATTERN, log=said.append)
    dest = tmp_path / "submitted"
    assert got == {"alice": dest / "alice" / A / f"{A}.ipynb",
                   "bob": dest / "bob" / A / f"{A}.ipynb"}
    assert got["alice"].read_bytes() == b"alice's notebook"
    assert got["bob"].read_bytes() == b"bob's notebook"
    assert sorted(p.name for p in dest.iterdir()) == ["alice", "bob"]
    assert skipped == [
        "broken.zip: not a readable zip (File is not a zip file)",
        "lms.zip:../eve_hw.ipynb: unsafe path, not extracted",
        "lms.zip:/abs_hw.ipynb: unsafe path, not extracted",
        "lms.zip:carol_readme.txt: not a notebook (.ipynb)",
        "lms.zip:big_hw.ipynb: larger than 1 MiB",
        "nameless.ipynb: not named <student>_<anything>.ipynb",
        "notes.txt: not a notebook (.ipynb) or a zip"]
    assert said == [f"collect {A}: skipped {line}" for line in skipped] + [
        f"collect {A}: 2 submission(s) from {archive}"]


def test_collect_without_a_download_collects_nothing(tmp_path):
    said = []
    assert submission.collect(tmp_path, A, PATTERN, log=said.append) == ({}, [])
    assert said == []
    assert not (tmp_path / "submitted").exists()


def _folder(course, student="alice"):
    folder = course / "submitted" / student / A
    folder.mkdir(parents=True)
    return folder


def test_submitted_reads_the_notebook_and_nbgraders_files(tmp_path):
    folder = _folder(tmp_path)
    (folder / f"{A}.ipynb").write_bytes(b"{}")
    (folder / "timestamp.txt").write_text("2026-10-05 12:00:00")
    assert submission.submitted(tmp_path, A, "alice") == (
        b"{}", {"timestamp.txt": b"2026-10-05 12:00:00"}, None)


def test_a_symlink_is_never_followed(tmp_path):
    secret = tmp_path / "secret.ipynb"
    secret.write_bytes(b"the instructor's solutions")
    folder = _folder(tmp_path)
    (folder / f"{A}.ipynb").symlink_to(secret)
    (folder / "timestamp.txt").symlink_to(secret)
    raw, meta, said = submission.submitted(tmp_path, A, "alice")
    assert (raw, meta) == (b"", {})
    assert said == (f"alice/{A}/{A}.ipynb is a symbolic link, which is never followed; it was "
                    "graded as an empty submission: submit the notebook itself.")


def test_a_symlinked_submission_folder_is_never_followed(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / f"{A}.ipynb").write_bytes(b"{}")
    (tmp_path / "submitted" / "mallory").mkdir(parents=True)
    (tmp_path / "submitted" / "mallory" / A).symlink_to(elsewhere)
    raw, _, said = submission.submitted(tmp_path, A, "mallory")
    assert raw == b"" and said.startswith(f"mallory/{A} is a symbolic link")


def test_a_hard_link_or_a_fifo_is_never_read(tmp_path):
    secret = tmp_path / "secret"
    secret.write_bytes(b"elsewhere")
    folder = _folder(tmp_path)
    os.link(secret, folder / f"{A}.ipynb")
    raw, _, said = submission.submitted(tmp_path, A, "alice")
    assert raw == b"" and "is a hard link to a file elsewhere" in said
    os.unlink(folder / f"{A}.ipynb")
    os.mkfifo(folder / f"{A}.ipynb")
    raw, _, said = submission.submitted(tmp_path, A, "alice")
    assert raw == b"" and said == (f"{A}.ipynb is not a regular file; it was graded as an "
                                   "empty submission: submit the notebook itself.")


def test_notes_grade_a_notebook_under_another_name_and_say_what_was_ignored(tmp_path):
    folder = _folder(tmp_path)
    (folder / "Copy1.ipynb").write_bytes(b"{}")
    (folder / "check.py").write_text("def check(): return True")
    (folder / "timestamp.txt").write_text("2026-10-05 12:00:00")
    raw, said = submission.notes(tmp_path, A, "alice", b"", None, {"check.py": b""})
    assert raw == b"{}"
    assert said == [(f"The notebook was submitted as Copy1.ipynb instead of {A}.ipynb; it was "
                     "graded under the right name."),
                    ("Only the notebook is graded; these files next to it were ignored (the "
                     "course's own helpers were used): check.py.")]


def test_notes_of_a_missing_notebook(tmp_path):
    folder = _folder(tmp_path)
    (folder / "a.ipynb").write_bytes(b"1")
    (folder / "b.ipynb").write_bytes(b"2")
    assert submission.notes(tmp_path, A, "alice", b"", None, {}) == (
        b"", [(f"No {A}.ipynb was submitted (found a.ipynb, b.ipynb); it was graded as an "
               "empty submission.")])
    (folder / f"{A}.ipynb").write_bytes(b"mine")
    assert submission.notes(tmp_path, A, "alice", b"mine", None, {}) == (b"mine", [])
