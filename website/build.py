"""Build the course site: Sphinx with sphinx-book-theme and myst-nb.

    python website/build.py [OUT]        (what `make site` runs; OUT defaults to _build/site)

The pages are the executed lectures in notebooks/ as they are stored (myst-nb does not run
them again: `make test` executes and checks them), notebooks/source_notes.md, and one page
per assignment written here from release/ (its description and files) and source/ (the
points of its grade cells: metadata only, never a cell's code). Solutions are never read.
Everything is put together in a scratch folder (conf.py and _static/ from website/, a local
copy of MathJax from the jupyter-server-mathjax package) and built there by Sphinx, offline.
The lectures, their order and the assignment of each are the table in website/lectures.py.
"""
import html
import re
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from grader.parts import grade_cells
from website.lectures import LECTURES

HERE = Path(__file__).resolve().parent
TITLE = "Backprop by hand"
IGNORED = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints")


def lectures():
    """[(notebooks/<name>.ipynb, its assignment or None)], in the order of website/lectures.py."""
    return [(ROOT / "notebooks" / f"{name}.ipynb", a) for name, a in LECTURES]


def title_of(nb):
    """The text of a notebook's first `# ` heading."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return ""


def downloads(a, folder):
    """The download hook: put the files a student downloads for assignment `a` into `folder`
    (next to its page) and return [(file name, what it is)], the notebook first.

    Today these are the files of release/<a>/. When `python -m grader bundle DEST` (one zip
    per assignment) exists, run it here and return the one zip instead: nothing else in the
    site changes."""
    folder.mkdir(parents=True)
    files = []
    for path in sorted((ROOT / "release" / a).iterdir(), key=lambda p: (p.suffix != ".ipynb", p.name)):
        if path.is_file() and not path.name.startswith("."):
            shutil.copy(path, folder / path.name)
            what = ("the notebook: open it in JupyterLab" if path.suffix == ".ipynb" else
                    "the tests" if path.name == "check.py" else "a module the tests use")
            files.append((path.name, what))
    return files


def all_in_one(a):
    """Inline HTML links to assignment `a` in one piece, from its page: its zip (written
    into downloads/ by `make site`), and "Open in Colab" and "Open on the hub" where
    nbgrader_config.py sets their places (grader/bundle.py)."""
    sys.path.insert(0, str(ROOT))
    from grader.bundle import links

    names = {"zip": f"{a}.zip", "colab": "Open in Colab", "hub": "Open on the hub"}
    return " · ".join(
        f'<a href="{html.escape(("../" + url) if kind == "zip" else url)}">{names[kind]}</a>'
        for kind, url in links(a).items())


def site_links(text, up=""):
    """`notebooks/X` (a page of the site) written as a link to that page."""
    def link(m):
        name = m.group(1)
        return f"[`{name}`]({up}{name})" if (ROOT / "notebooks" / name).exists() else m.group(0)
    return re.sub(r"(?<!\[)`notebooks/([\w.]+)`", link, text)


def assignment_page(a, lectures, folder):
    """The markdown of assignment a's page; its downloads go into folder/a/."""
    nb = nbformat.read(ROOT / "release" / a / f"{a}.ipynb", as_version=4)
    intro = nb.cells[0].source.splitlines()
    title = intro[0].lstrip("# ").strip()
    # the hand-written points table gives way to the one read from the grade cells
    description = "\n".join(line for line in intro[1:] if not line.lstrip().startswith("|"))
    description = re.sub(r"\n{3,}", "\n\n", site_links(description, "../")).strip()
    # a link to a file next to the notebook that is also a page of the site (source_notes.md)
    description = re.sub(r"\]\(([\w.]+\.(?:md|ipynb))\)", lambda m: f"](../{m.group(1)})"
                         if (ROOT / "notebooks" / m.group(1)).exists() else m.group(0),
                         description)
    parts = {}
    for cell in grade_cells(ROOT / "source" / a / f"{a}.ipynb"):
        row = parts.setdefault(cell.part or "(no part)", {"tests": [], True: 0.0, False: 0.0})
        row["tests"].append(f"`{cell.grade_id}`")
        row[cell.hidden] += cell.points
    visible = sum(r[False] for r in parts.values())
    hidden = sum(r[True] for r in parts.values())
    table = ["| part | test cells | points (visible + hidden tests) |", "| --- | --- | --- |"]
    table += [f"| {part} | {', '.join(r['tests'])} | {r[False]:g} + {r[True]:g} |"
              for part, r in parts.items()]
    table.append(f"| **total** | | **{visible + hidden:g}** ({visible:g} + {hidden:g}) |")
    files = downloads(a, folder / a)
    listing = "\n".join(f"- {{download}}`{name} <{a}/{name}>`: {what}" for name, what in files)
    listing += "\n\nAll in one: " + all_in_one(a)
    links = [f"[{title_of(nbformat.read(path, as_version=4))}](../{path.name})" for path in lectures]
    lesson = (f"It goes with the lecture{'s' if len(links) > 1 else ''} "
              f"{', '.join(links[:-1])}{' and ' if len(links) > 1 else ''}{links[-1]}.\n\n"
              if links else "")
    return f"""# {title}

{description}

## Parts and points

Each part has a test cell you run yourself (visible) and one that runs only when your work
is graded (hidden).

{chr(10).join(table)}

## Download

{lesson}Download every file below into one folder, open the notebook in JupyterLab (or
Colab, or a hub) and keep the `.py` files next to it: its test cells import them.

{listing}
"""


def lecture_copy(path, dest, a):
    """The lecture as stored, with a line under its introduction linking its assignment."""
    nb = nbformat.read(path, as_version=4)
    if a:
        title = title_of(nbformat.read(ROOT / "release" / a / f"{a}.ipynb", as_version=4))
        cell = nbformat.v4.new_markdown_cell(
            f"```{{note}}\nThe assignment of this lecture: [{title}](assignments/{a}.md).\n```")
        cell.id = "course-site-assignment"
        nb.cells.insert(1, cell)
    nbformat.write(nb, dest)


def index_page(books):
    rows = "\n".join(
        f"| [{title}]({path.name}) | " + (f"[{a}](assignments/{a}.md)" if a else "—") + " |"
        for path, title, a in books)
    lessons = "\n".join(path.stem for path, _, _ in books)
    tasks = "\n".join(f"assignments/{a}" for a in dict.fromkeys(a for _, _, a in books if a))
    return f"""# {TITLE}

Backpropagation from the perceptron to the multi-layer perceptron: every formula derived,
then checked against `torch.autograd`. The lectures are executed Jupyter notebooks (the code
that draws a figure is folded under it: click to open it); each problem set is a notebook to
fill in, with tests you run yourself.

| lecture | problem set |
| --- | --- |
{rows}

What the course takes from its source slides and notes is quoted in
[the source notes](source_notes.md).

```{{toctree}}
:caption: Lectures
:maxdepth: 1
:hidden:

{lessons}
```

```{{toctree}}
:caption: Problem sets
:maxdepth: 1
:hidden:

{tasks}
```

```{{toctree}}
:caption: Reference
:maxdepth: 1
:hidden:

source_notes
```
"""


def stage(src):
    """Put the site's sources together in src."""
    import jupyter_server_mathjax

    shutil.copy(HERE / "conf.py", src / "conf.py")
    shutil.copytree(HERE / "_static", src / "_static", ignore=IGNORED)
    shutil.copytree(Path(jupyter_server_mathjax.__file__).parent / "static",
                    src / "_static" / "mathjax", ignore=IGNORED)
    shutil.copy(ROOT / "notebooks" / "source_notes.md", src / "source_notes.md")
    (src / "assignments").mkdir()
    books = []
    for path, a in lectures():
        lecture_copy(path, src / path.name, a)
        books.append((path, title_of(nbformat.read(path, as_version=4)), a))
    for a in dict.fromkeys(a for _, _, a in books if a):
        (src / "assignments" / f"{a}.md").write_text(
            assignment_page(a, [path for path, _, b in books if b == a], src / "assignments"),
            encoding="utf-8")
    (src / "index.md").write_text(index_page(books), encoding="utf-8")


def build(out, quiet=True):
    """Build the site into out (emptied first); returns out."""
    from sphinx.cmd.build import build_main

    out = Path(out).resolve()
    shutil.rmtree(out, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="course-site-") as scratch:
        src = Path(scratch) / "src"
        src.mkdir()
        stage(src)
        args = ["-b", "html", "-W", "--keep-going", "-d", str(Path(scratch) / "doctrees"),
                *(["-q"] if quiet else []), str(src), str(out)]
        if build_main(args) != 0:
            raise SystemExit("The course site did not build: Sphinx's messages above say "
                             "which page and line to fix.")
    (out / ".buildinfo").unlink(missing_ok=True)
    return out


if __name__ == "__main__":
    built = build(sys.argv[1] if len(sys.argv) > 1 else ROOT / "_build" / "site")
    print(f"Site built in {built}: open {built / 'index.html'} in a browser.")
