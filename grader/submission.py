"""What comes in: LMS archives collected safely, and submitted notebooks made gradable.

A submission is graded with the course's own test cells whatever the student did to
them; a problem that changes how it was graded is said in one sentence (a "note") that
reaches the console summary, grades.csv and the student's feedback.
"""
import copy
import json
import os
import re
import stat
import zipfile
from pathlib import Path, PurePosixPath

import nbformat

MARKERS = re.compile(r"(BEGIN|END) (HIDDEN TESTS|SOLUTION|MARK SCHEME)")
MAX_MEMBER_BYTES = 50 << 20
METADATA = ("timestamp.txt", "submission_secret.txt")  # nbgrader's, kept with a submission


def _id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _flags(meta):
    return tuple(meta.get(k) for k in ("grade", "solution", "locked", "points", "task"))


def _is_test(meta):
    return bool(meta.get("grade") and not meta.get("solution")) or bool(meta.get("locked"))


def normalize(raw, source_nb, release_nb, assignment):
    """(notebook, notes): a gradable notebook made from the submitted bytes `raw`.

    Test and read-only cells are restored from the source (their type, code and metadata),
    solution cells keep the student's code with the source's metadata, cells whose nbgrader
    id is unknown or repeated become the student's own cells, and a student's text that
    contains nbgrader's markers is defused. A file that is not a notebook is graded as the
    untouched release notebook (it scores what nothing done scores).
    """
    notes = []
    try:
        if not raw.strip():
            raise ValueError("the file is empty")
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
        if not isinstance(nb.get("cells"), list):
            raise ValueError("it has no cells")  # noqa: TRY004 (reported, not raised)
    except (ValueError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError,
            AttributeError, nbformat.reader.NotJSONError) as err:
        why = str(err).splitlines()[0][:160] if str(err) else type(err).__name__
        notes.append(f"The submitted file is not a readable notebook ({why}); it was graded "
                     "as an empty submission: open it in Jupyter, save it, and submit again.")
        return copy.deepcopy(release_nb), notes
    source = {_id(c): c for c in source_nb.cells if _id(c)}
    released = {_id(c): c.source for c in release_nb.cells if _id(c)}
    seen, restored, stripped, found = set(), [], [], 0
    for i, cell in enumerate(nb.cells):
        gid = _id(cell)
        if gid in source and gid not in seen:
            seen.add(gid)
            found += 1
            orig = source[gid]
            meta = orig.metadata["nbgrader"]
            if _is_test(meta):
                if cell.get("source") not in (orig.source, released.get(gid)) \
                        or cell.cell_type != orig.cell_type \
                        or _flags(cell.metadata.get("nbgrader", {})) != _flags(meta):
                    restored.append(gid)
                new = copy.deepcopy(orig)
                new.pop("outputs", None)
                if new.cell_type == "code":
                    new.outputs, new.execution_count = [], None
                nb.cells[i] = new
            else:
                new = copy.deepcopy(orig)
                new.source = cell.get("source", "")
                if new.cell_type == "code":
                    new.outputs, new.execution_count = [], None
                if cell.cell_type != orig.cell_type:
                    restored.append(gid)
                nb.cells[i] = new
        elif "nbgrader" in cell.get("metadata", {}):
            if gid:
                stripped.append(gid)
            del cell.metadata["nbgrader"]
    added = _put_back_missing(nb, source_nb, release_nb)
    for cell in nb.cells:
        if "nbgrader" not in cell.metadata and MARKERS.search(cell.get("source", "")):
            cell.source = MARKERS.sub(lambda m: f"{m.group(1)}-{m.group(2)}", cell.source)
            if "defused" not in "".join(notes):
                notes.append("A cell of yours contains one of nbgrader's markers (such as "
                             "'BEGIN HIDDEN TESTS'); it was defused and graded as your code.")
    if source and found < len(source) / 2:
        notes.append(f"This does not look like the notebook of {assignment}: none of its "
                     "cells were found. Its test cells were put back and it was graded as it "
                     "stands; check that you submitted the right file.")
    elif restored:
        notes.append("These cells were changed and have been restored from the assignment: "
                     + ", ".join(sorted(set(restored))) + ".")
    if added and found >= len(source) / 2:
        notes.append("These cells were missing and have been put back from the assignment: "
                     + ", ".join(added) + ".")
    if stripped:
        notes.append("These cells carried an unknown or repeated nbgrader id and were graded "
                     "as your own cells: " + ", ".join(sorted(set(stripped))) + ".")
    nb.metadata.pop("widgets", None)
    return nb, notes


def _put_back_missing(nb, source_nb, release_nb):
    """Insert every nbgrader cell of the source that the notebook lacks, in source order:
    a missing solution cell comes back as released (nothing done), a test as in the source."""
    released = {_id(c): c for c in release_nb.cells if _id(c)}
    where = {_id(c): i for i, c in enumerate(nb.cells) if _id(c)}
    added, at = [], -1
    for orig in source_nb.cells:
        gid = _id(orig)
        if not gid:
            continue
        if gid in where:
            at = where[gid]
            continue
        meta = orig.metadata["nbgrader"]
        new = copy.deepcopy(orig if _is_test(meta) or gid not in released else released[gid])
        if new.cell_type == "code":
            new.outputs, new.execution_count = [], None
        at += 1
        nb.cells.insert(at, new)
        where = {_id(c): i for i, c in enumerate(nb.cells) if _id(c)}
        added.append(gid)
    return added


def read_regular(path, top):
    """(bytes, None) of the regular file `path`, or (b"", sentence) when it is not one: a
    symbolic link (in the path anywhere below `top`, the submissions folder), a hard link
    (a file with another name somewhere else), a folder, a device, a FIFO or a socket is
    never followed or read, whatever it points to."""
    path, top = Path(path), Path(top)
    here = top
    for part in path.relative_to(top).parts:
        here = here / part
        if here.is_symlink():
            return b"", (f"{here.relative_to(top)} is a symbolic link, which is never followed; "
                         "it was graded as an empty submission: submit the notebook itself.")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return b"", None
    except OSError as err:
        return b"", (f"{path.name} could not be read ({err.strerror}); it was graded as an "
                     "empty submission: submit the notebook itself.")
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            return b"", (f"{path.name} is not a regular file; it was graded as an empty "
                         "submission: submit the notebook itself.")
        if st.st_nlink != 1:
            return b"", (f"{path.name} is a hard link to a file elsewhere, which is never "
                         "read; it was graded as an empty submission: submit a copy of the "
                         "notebook itself.")
        return f.read(), None


def ignored_files(folder, notebook_name, shipped):
    """Names of files in a submission folder that are not graded (shadow modules and all)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir()
                  if p.name != notebook_name and not p.name.startswith(".")
                  and p.name not in METADATA
                  and (p.suffix in (".py", ".pth", ".so") or p.is_dir() or p.name in shipped))


def submitted(course, a, student):
    """(notebook bytes, {metadata name: bytes}, sentence or None) of a student's submission in
    submitted/<student>/<a>/: the notebook's bytes (b"" when there is none or it is not a
    regular file, which the sentence then says) and what nbgrader's collect writes next to it
    (METADATA; releasing feedback needs it)."""
    top = Path(course) / "submitted"
    folder = top / student / a
    raw, link = read_regular(folder / f"{a}.ipynb", top)
    meta = {n: data for n in METADATA
            for data, why in [read_regular(folder / n, top)] if data and not why}
    return raw, meta, link


def notes(course, a, student, raw, link, shipped):
    """(notebook bytes to grade, notes) of a submission whose notebook read as (`raw`, `link`)
    (see `submitted`): a notebook under another name, when it is the only one, is graded
    instead; the files next to it are ignored (`shipped`: the assignment's file names)."""
    top = Path(course) / "submitted"
    folder = top / student / a
    said = [link] if link else []
    if not link and not (folder / f"{a}.ipynb").exists():
        others = sorted(p.name for p in folder.glob("*.ipynb"))
        said.append(f"No {a}.ipynb was submitted"
                    + (f" (found {', '.join(others)})" if others else "")
                    + "; it was graded as an empty submission.")
        if len(others) == 1:
            raw, link = read_regular(folder / others[0], top)
            said[-1] = link or (f"The notebook was submitted as {others[0]} instead "
                                f"of {a}.ipynb; it was graded under the right name.")
    ignored = ignored_files(folder, f"{a}.ipynb", shipped)
    if ignored:
        said.append("Only the notebook is graded; these files next to it were "
                    "ignored (the course's own helpers were used): "
                    + ", ".join(ignored) + ".")
    return raw, said


def _student(name, pattern):
    m = re.match(pattern, "/" + name)
    return m.group("student_id") if m else None


def collect(course, assignment, pattern, log=print):
    """Copy an LMS download (downloaded/<a>/archive: notebooks and zips) into submitted/.

    Every member that is unsafe (an absolute or `..` path), not a notebook, too large, or
    not named <student>_<name>.ipynb is skipped with a message naming it; the rest is
    collected. Returns (got, skipped): got is {student: path of the collected notebook},
    skipped one line per member skipped ("<member>: why").
    """
    archive = Path(course) / "downloaded" / assignment / "archive"
    got, skipped = {}, []

    def take(name, data):
        student = _student(PurePosixPath(name).name, pattern)
        if not student:
            skipped.append(f"{name}: not named <student>_<anything>.ipynb")
            return
        dest = Path(course) / "submitted" / student / assignment
        dest.mkdir(parents=True, exist_ok=True)
        (dest / f"{assignment}.ipynb").write_bytes(data)
        got[student] = dest / f"{assignment}.ipynb"

    for item in sorted(archive.rglob("*")) if archive.is_dir() else []:
        if item.is_dir():
            continue
        if item.suffix == ".zip":
            try:
                with zipfile.ZipFile(item) as z:
                    for info in z.infolist():
                        name = info.filename
                        where = f"{item.name}:{name}"
                        if info.is_dir():
                            continue
                        parts = PurePosixPath(name).parts
                        if name.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
                            skipped.append(f"{where}: unsafe path, not extracted")
                        elif not name.endswith(".ipynb"):
                            skipped.append(f"{where}: not a notebook (.ipynb)")
                        elif info.file_size > MAX_MEMBER_BYTES:
                            skipped.append(f"{where}: larger than {MAX_MEMBER_BYTES >> 20} MiB")
                        else:
                            take(name, z.read(info))
            except (zipfile.BadZipFile, OSError) as err:
                skipped.append(f"{item.name}: not a readable zip ({err})")
        elif item.suffix == ".ipynb":
            take(item.name, item.read_bytes())
        else:
            skipped.append(f"{item.name}: not a notebook (.ipynb) or a zip")
    for line in skipped:
        log(f"collect {assignment}: skipped {line}")
    if got:
        log(f"collect {assignment}: {len(got)} submission(s) from {archive}")
    return got, skipped

