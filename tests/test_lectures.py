"""The table of lectures (website/lectures.py) against what is on disk: every lecture notebook is
in it and every row is a notebook, every problem set has its lectures, the titles follow the
scheme "# 3a. Title", the README agrees, and every reference to a lecture ("lecture 3a",
"lecture 4b, section 2", `04d_cross_entropy.ipynb`) in the lectures, the source notes, the
problem sets, the README and docs/ names a lecture and a section that exist, and every markdown
link there to a file beside it resolves."""
import json
import re

import pytest
from conftest import ASSIGNMENTS

from grader.course import ROOT
from website.lectures import LECTURES, NAME, assignment_of, lectures_of, number

NOTEBOOKS = ROOT / "notebooks"
NUMBERS = {number(name): name for name, _ in LECTURES}
# "lecture 4b, section 2", "Lecture 4c (section 4)", "lecture 3a's section 1"
QUALIFIED = re.compile(r"\b[Ll]ectures? (\d+[a-z]?)(?:'s)?(?:,\s+|\s+\()(?:section|§)\s*(\d+)")
LECTURE = re.compile(r"\b[Ll]ectures? (\d+[a-z]?)\b")
SECTION = re.compile(r"\bsection (\d+)\b")
FILE = re.compile(r"\b(\d\d[a-z]?_\w+)\.ipynb\b")
LINK = re.compile(r"\]\((?![a-z]+:|#)([^)\s#]+)")


def text_of(path):
    """The markdown and code of a notebook, or a text file, as one string."""
    if path.suffix == ".ipynb":
        return "\n".join(c["source"] if isinstance(c["source"], str) else "".join(c["source"])
                         for c in json.loads(path.read_text(encoding="utf-8"))["cells"])
    return path.read_text(encoding="utf-8")


def sections(name):
    """The numbers of lecture `name`'s sections ("## 2. The hidden layer" -> 2)."""
    text = text_of(NOTEBOOKS / f"{name}.ipynb")
    return {int(n) for n in re.findall(r"^## (\d+)\.", text, re.MULTILINE)}


def title(name):
    for line in text_of(NOTEBOOKS / f"{name}.ipynb").splitlines():
        if line.startswith("# "):
            return line[2:]
    return ""


def lecture_files():
    return sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb") if not p.name.startswith("."))


def referring_files():
    """Every text that may name a lecture: the lectures, the source notes, the problem sets
    (source/), the README and docs/."""
    return ([NOTEBOOKS / f"{name}.ipynb" for name, _ in LECTURES] + [NOTEBOOKS / "source_notes.md"]
            + [ROOT / "source" / a / f"{a}.ipynb" for a in ASSIGNMENTS]
            + [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md")))


def test_the_table_lists_every_lecture_once_in_order():
    names = [name for name, _ in LECTURES]
    assert names == lecture_files(), "website/lectures.py and notebooks/*.ipynb disagree"
    assert all(NAME.fullmatch(name) for name in names), names


def test_every_problem_set_has_its_lectures():
    assert {a for _, a in LECTURES if a} == set(ASSIGNMENTS)
    for a in ASSIGNMENTS:
        assert lectures_of(a), f"no lecture goes with {a}"
        for name in lectures_of(a):
            assert assignment_of(name) == a
            # problem set N goes with the lectures numbered N
            assert re.fullmatch(rf"{a[2:a.index('_')]}[a-z]?", number(name)), (a, name)


@pytest.mark.parametrize("name", [name for name, _ in LECTURES])
def test_title_follows_the_scheme(name):
    assert re.fullmatch(rf"{number(name)}\. [A-Z].*", title(name)), title(name)


def test_the_readme_table_agrees():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = {m.group(2): m for m in re.finditer(
        r"^\| ([^|]+) \| `notebooks/([\w]+)\.ipynb` \| ([^|]+) \|$", readme, re.MULTILINE)}
    assert list(rows) == [name for name, _ in LECTURES], "README's table of lectures"
    for name, a in LECTURES:
        lesson, _, listed = rows[name].groups()
        assert lesson.startswith(f"{number(name)}. "), lesson
        assert listed.strip() == (f"`{a}`" if a else "—"), (name, listed)


@pytest.mark.parametrize("path", referring_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_reference_to_a_lecture_resolves(path):
    text = text_of(path)
    for n, section in QUALIFIED.findall(text):
        assert n in NUMBERS, f"{path.name} names lecture {n}, which does not exist"
        assert int(section) in sections(NUMBERS[n]), \
            f"{path.name} names lecture {n}, section {section}: {NUMBERS[n]} has no such section"
    for n in LECTURE.findall(text):
        assert n in NUMBERS, f"{path.name} names lecture {n}, which does not exist (numbers: {sorted(NUMBERS)})"
    for name in FILE.findall(text):
        assert name in dict(LECTURES), f"{path.name} names {name}.ipynb, which is not a lecture"
    for target in LINK.findall(text):  # a markdown link to a file beside it
        assert (path.parent / target).exists(), f"{path.name} links {target}, which does not exist"
    if path.parent == NOTEBOOKS and path.suffix == ".ipynb":  # "section 2" alone: its own
        own = sections(path.stem)
        for section in SECTION.findall(QUALIFIED.sub("", text)):
            assert int(section) in own, f"{path.name} names its section {section}, which it does not have"
