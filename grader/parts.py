"""The grade cells of an assignment, in notebook order, with the part each belongs to.

A part is the `## Part N: ...` heading above its cells; the class report and the course
site both name grade cells this way. Only cell metadata and markdown headings are read,
never a cell's code (a source notebook's code holds the solutions).
"""
import re
from dataclasses import dataclass

import nbformat

HEADING = re.compile(r"^##\s+(.*?)\s*#*\s*$", re.MULTILINE)
POINTS = re.compile(r"\s*\(\d+(\.\d+)?\s+points?\)\s*$")  # "(2 points)" ending a heading


@dataclass(frozen=True)
class GradeCell:
    grade_id: str
    points: float
    part: str  # the heading above it, without "(N points)"; "" before any heading
    hidden: bool  # holds the hidden tests (only run when the work is graded)


def grade_cells(notebook_path):
    """[GradeCell] of one notebook, in order."""
    nb = nbformat.read(notebook_path, as_version=4)
    part, found = "", []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            headings = HEADING.findall(cell.source)
            if headings:
                part = POINTS.sub("", headings[-1])
            continue
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            found.append(GradeCell(meta["grade_id"], float(meta.get("points", 0)), part,
                                   "BEGIN HIDDEN TESTS" in cell.source))
    return found
