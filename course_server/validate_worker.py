"""Validate one notebook the way nbgrader's Validate button does; print JSON.

    python -m course_server.validate_worker PATH

Run by the course's server extension (course_server) in a child process, in the
server's working folder, so nbgrader finds the same nbgrader_config.py. The answer
has the shape nbgrader's Validate dialog reads ({"success": ..., "value": ...}), but
a failed test is described by its part ("Part 2: the forward pass, test_forward")
and its message, not by the whole source of the test cell.
"""
import html
import json
import os
import sys
import traceback

from nbconvert.filters import strip_ansi


def load_config():
    from jupyter_core.paths import jupyter_config_path
    from nbgrader.apps import NbGrader

    paths = jupyter_config_path()
    paths.insert(0, os.getcwd())
    app = NbGrader()
    app.config_file_paths.append(paths)
    app.load_config_file()
    return app.config


def part_names(nb):
    """{id(cell): "the heading of the part it is in, its grade id"} for every cell."""
    names, heading = {}, ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    heading = line.lstrip("#").strip()
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        names[id(cell)] = ", ".join(filter(None, [heading, grade_id])) or "a cell"
    return names


def message(validator, cell):
    """What went wrong in one failed cell, in a few lines."""
    lines = []
    for out in cell.get("outputs", []):
        if out.output_type == "error" and out.ename == "NotImplementedError":
            lines.append("Not written yet: replace `raise NotImplementedError()` with your code.")
        elif out.output_type == "error":
            lines.append(f"{out.ename}: {strip_ansi(out.evalue)}".strip())
        elif out.output_type == "stream" and out.name == "stderr":
            text = strip_ansi(out.text).strip().splitlines()
            lines.append("wrote to stderr: " + " / ".join(text[-3:]))
    return "\n".join(lines) or validator._extract_error(cell)


def validate(path):
    from nbformat import current_nbformat
    from nbformat import read as read_nb
    from nbgrader import utils
    from nbgrader.validator import Validator

    validator = Validator(config=load_config())
    folder, name = os.path.split(path)
    with utils.chdir(folder):
        nb = read_nb(name, as_version=current_nbformat)
    names = part_names(nb)
    type_changed = validator._get_type_changed_cells(nb)
    if type_changed:
        return {"type_changed": [{"source": names[id(c)], "old_type": c.cell_type,
                                  "new_type": c.metadata.nbgrader.cell_type}
                                 for c in type_changed]}
    with utils.chdir(folder):
        nb = validator._preprocess(nb)
    names = part_names(nb)  # the preprocessors may have copied the cells
    changed = validator._get_changed_cells(nb)
    if not validator.ignore_checksums and changed:
        return {"changed": [{"source": names[id(c)] + "\n" + c.source.strip()}
                            for c in changed]}
    failed = validator._get_failed_cells(nb)
    if failed:
        return {"failed": [{"source": names[id(c)],
                            "error": html.escape(message(validator, c)),
                            "raw_error": message(validator, c)} for c in failed]}
    return {}


def main(path):
    try:
        answer = {"success": True, "value": validate(path)}
    except Exception:  # noqa: BLE001 (any failure is shown in the Validate dialog)
        answer = {"success": False, "value": traceback.format_exc()}
    print("\n" + json.dumps(answer))  # the last line of the output is the answer


if __name__ == "__main__":
    main(sys.argv[1])
