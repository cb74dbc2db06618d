"""The class report (grader/report.py) on a small class made in the gradebook by hand (no
grading): grade cells in the notebook's order with their parts, a row per student (score,
parts failed, named mistakes, a link to the feedback), "none" for an empty section, whole
numbers on the histogram's axes, and one self-contained page that loads in Chromium."""
import re
from html import unescape

import nbformat
import pytest
from browserkit import Browser, need_chromium, screenshot
from conftest import notebook

from grader import course as grading
from grader import report
from grader.parts import grade_cells

A = "ps1_perceptron"
MISTAKE = "the sigmoid derivative O*(1-O) is missing"


def _text(page):
    return unescape(re.sub(r"<[^>]+>", " ", page))


@pytest.fixture(scope="module")
def class_report(course_factory):
    """Three students: ada full marks, bob fails part 3 with a named mistake, cy has no
    feedback page and failed the hidden test of part 1."""
    course = course_factory(A)
    failing = {"ada": set(), "bob": {"test_gradients", "test_gradients_hidden"},
               "cy": {"test_sigmoid_hidden"}}
    with grading.gradebook(course) as gb:
        for student, failed in failing.items():
            gb.update_or_create_student(student)
            sub = gb.add_submission(A, student)
            for nb in sub.notebooks:
                for g in nb.grades:
                    g.auto_score = 0 if g.name in failed else g.max_score
            gb.db.commit()
    for student, failed in failing.items():
        nb = nbformat.read(notebook("release", A), as_version=4)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") in failed and student == "bob":
                cell.outputs = [nbformat.v4.new_output(
                    "error", ename="AssertionError", traceback=[],
                    evalue=f"gradients: dE/dW differs from autograd. Most likely: {MISTAKE}.")]
        folder = course / "autograded" / student / A
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{A}.ipynb")
    for student in ("ada", "bob"):
        (course / "feedback" / student / A).mkdir(parents=True)
        (course / "feedback" / student / A / f"{A}.html").write_text(f"<p>feedback of {student}</p>")
    out = report.write(course, A)
    return course, out, (out / "index.html").read_text()


def test_grade_cells_in_notebook_order_with_their_parts(class_report):
    _, out, page = class_report
    cells = grade_cells(notebook("source", A))
    section = page.split("<h2>Grade cells</h2>")[1].split("<h2>")[0]
    assert re.findall(r"<td>(test_\w+)</td>", section) == [c.grade_id for c in cells]
    for c in cells:
        assert c.part in _text(section)
    rows = (out / "cells.csv").read_text().splitlines()[1:]
    assert [r.split(",")[0] for r in rows] == [c.grade_id for c in cells]


def test_a_row_per_student(class_report):
    course, out, page = class_report
    section = page.split("<h2>Students</h2>")[1].split("<h2>")[0]
    rows = {re.search(r"<td>(\w+)</td>", r).group(1): r for r in section.split("<tr>")[2:]}
    assert sorted(rows) == ["ada", "bob", "cy"]
    assert "10 / 10" in rows["ada"] and _text(rows["ada"]).count("none") == 2  # parts, mistakes
    assert "6 / 10" in rows["bob"] and "Part 3: the gradients" in rows["bob"]
    assert f"gradients: {MISTAKE}" in unescape(rows["bob"])
    assert "9 / 10" in rows["cy"] and "Part 1: σ and σ′" in rows["cy"]
    assert "href" not in rows["cy"] and "none" in _text(rows["cy"]).split("Part 1")[1]
    for student in ("ada", "bob"):
        href = re.search(r"href='([^']+)'", rows[student]).group(1)
        assert (out / href).resolve() == course / "feedback" / student / A / f"{A}.html"


def test_empty_sections_say_none(class_report):
    page = class_report[2]
    for section in ("Problems met while grading", "Similar submissions"):
        text = page.split(f"<h2>{section}</h2>")[1].split("<h2>")[0]
        assert _text(text).split()[-1:] == ["none"], section


def test_histogram_counts_whole_students():
    fig = report.histogram({"a": 3, "b": 4, "c": 4, "d": 10}, 10, A)
    ax = fig.axes[0]
    assert all(float(t).is_integer() for t in ax.get_yticks())
    assert all(float(t).is_integer() for t in ax.get_xticks())


def test_one_self_contained_page_in_the_browser(class_report):
    need_chromium()
    _, out, page = class_report
    assert not re.findall(r"src=['\"](?!data:)", page), "the page loads a file"
    assert "<table>" in page.split("<h2>Named mistakes</h2>")[1].split("<h2>")[0]
    browser = Browser()
    try:
        view = browser.page()
        view.goto((out / "index.html").as_uri())
        sizes = view.locator("img").evaluate_all("els => els.map(e => e.complete && e.naturalWidth)")
        assert sizes and all(sizes), sizes
        screenshot(view, "class-report")
        view.locator("a", has_text=f"{A}.html").first.click()
        view.wait_for_load_state()
        assert "feedback of ada" in view.content()
        assert not browser.take_problems()
    finally:
        browser.close()
