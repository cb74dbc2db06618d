"""Validate one notebook the way nbgrader's Validate button does; print JSON.

    python -m course_server.validate_worker PATH

Run by the course's server extension (course_server) in a child process, in the
server's working folder, so nbgrader finds the same nbgrader_config.py. The answer
has the shape nbgrader's Validate dialog reads ({"success": ..., "value": ...}), but
a failed test is described by its part ("Part 2: the forward pass, test_forward")
and its message, not by the whole source of the test cell.

When tests fail, nbgrader 0.9.6's dialog (pinned) shows each entry of "failed" as "The
following cell failed:", its source and its error (as HTML), in a box that does not scroll.
So the answer has one entry: the count ("3 of 4 parts fail") and, as its error, every failing
part with its message, then the parts that pass, with a style that lets the list scroll and
wrap at words. "parts" has the same as data: {"failed": [{part, tests, message}], "passed"}.
"""
import html
import json
import os
import re
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


def part_of_each_cell(nb):
    """{id(cell): the heading of the part it is in, without "(N points)"} for every cell."""
    parts, heading = {}, ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    heading = re.sub(r"\s*\(\d+(\.\d+)?\s+points?\)\s*$", "",
                                     line.lstrip("#").strip())
        parts[id(cell)] = heading
    return parts


# the dialog's own header ("The following cell failed:") is hidden, the count is its title,
# and the list scrolls inside the dialog and wraps at words
STYLE = """<style>
#validation-message > div:first-child { display: none; }
#validation-message pre { white-space: normal; font-family: var(--jp-ui-font-family); }
#validation-message > div:nth-child(2) pre { font-size: 1.15em; font-weight: 600;
  border: none; background: none; padding: 0; }
#validation-message .bp-parts { max-height: 55vh; overflow-y: auto; }
#validation-message .bp-parts li { margin-bottom: .6em; }
#validation-message .bp-parts .bp-message { white-space: pre-wrap; word-break: normal;
  overflow-wrap: anywhere; }
</style>"""


def summary(nb, failed, validator):
    """The Validate answer when tests fail: one entry for the dialog, and the parts as data."""
    part = part_of_each_cell(nb)
    order, tests, failing = [], {}, {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            name = part[id(cell)] or meta.get("grade_id", "a test cell")
            if name not in tests:
                order.append(name)
                tests[name] = []
            tests[name].append(meta.get("grade_id", ""))
    for cell in failed:
        name = part[id(cell)] or cell.metadata.get("nbgrader", {}).get("grade_id", "a test cell")
        if name not in tests:
            order.append(name)
            tests[name] = []
        failing.setdefault(name, []).append(message(validator, cell))
    bad = [n for n in order if n in failing]
    good = [n for n in order if n not in failing]
    count = (f"{len(bad)} of {len(order)} part{'s' if len(order) != 1 else ''} "
             f"{'fails' if len(bad) == 1 else 'fail'}")
    items = "".join(f"<li><b>{html.escape(n)}</b><div class='bp-message'>"
                    f"{html.escape(chr(10).join(failing[n]))}</div></li>" for n in bad)
    passes = ("Passing: " + "; ".join(html.escape(n) for n in good) + "." if good
              else "No part passes yet.")
    error = (f"{STYLE}<div class='bp-parts'><ol>{items}</ol><p>{passes}</p>"
             "<p>Fix the first failing part first: later parts may call it.</p></div>")
    raw = "\n".join(f"{n}: {' / '.join(failing[n])}" for n in bad)
    return {"failed": [{"source": count, "error": error, "raw_error": raw}],
            "parts": {"failed": [{"part": n, "tests": tests[n], "message": "\n".join(failing[n])}
                                 for n in bad],
                      "passed": good}}


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
        return summary(nb, failed, validator)
    return {}


def main(path):
    try:
        answer = {"success": True, "value": validate(path)}
    except Exception:  # noqa: BLE001 (any failure is shown in the Validate dialog)
        answer = {"success": False, "value": traceback.format_exc()}
    print("\n" + json.dumps(answer))  # the last line of the output is the answer


if __name__ == "__main__":
    main(sys.argv[1])
