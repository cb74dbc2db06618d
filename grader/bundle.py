"""One zip per assignment, and the setup cell's download of it where the files are missing.

    python -m grader bundle DEST     (what `make site` runs, into _build/site/downloads)

DEST/<assignment>.zip holds the release notebook and exactly the helper files it needs:
the modules its code cells import that lie in release/<assignment>/, then the modules those
import, and so on (never referee.py, source/ or solutions/), and the files of that folder
its text links to (source_notes.md).

On Colab, or on a hub that has only the notebook, the setup cell downloads that zip from the
course's site (`c.BackpropCourse.site_url` in nbgrader_config.py), checks each helper file
against the sha256 the release step wrote into the cell (`stamp`, called by
`python -m grader release`), and unpacks it next to the notebook. The environment variable
BACKPROP_SITE_URL, read only by that cell, points it at another copy of the site (the tests
serve one on 127.0.0.1).
"""
import ast
import hashlib
import json
import re
import urllib.parse
import zipfile
from pathlib import Path

import nbformat

from grader import course

ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # a fixed date: the same files make the same zip
SETTINGS = {"site_url": "",  # set in nbgrader_config.py
            "repository_url": "", "repository_branch": "main", "hub_url": ""}

# The start of every setup cell, written by the release step (stamp); {..} are filled in.
# `stamp` finds the block it wrote by its first line and its last (print) line: if you
# change either, delete the old block from source/'s setup cells before `make release`.
FETCH = '''\
# check.py and the modules it uses must lie next to this notebook; where they don't (Colab,
# a hub), they are downloaded from the course's site, each checked against its sha256.
import os

if not os.path.exists("check.py"):
    import hashlib
    import io
    import urllib.request
    import zipfile

    sha256 = {sha256}
    site = os.environ.get("BACKPROP_SITE_URL", "{site}")  # the course's site
    url = f"{{site}}/downloads/{zip}"
    try:
        with urllib.request.urlopen(url, timeout=30) as reply:
            zipped = zipfile.ZipFile(io.BytesIO(reply.read()))
        files = {{name: zipped.read(name) for name in sha256}}
        problem = next((f"{{name}} in {{url}} is not the file this notebook was released with: "
                        "download the assignment again (notebook and files) from the course's site."
                        for name, data in files.items()
                        if hashlib.sha256(data).hexdigest() != sha256[name]), None)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        problem = (f"Could not download {{url}}: download that zip yourself, unpack it and put its "
                   ".py files next to this notebook (on Colab: upload them in the Files panel).")
    if problem:
        class CourseFilesMissing(Exception):
            def _render_traceback_(self):  # IPython shows this sentence, no traceback
                return [str(self)]

        raise CourseFilesMissing(problem)
    for name, data in files.items():
        with open(name, "wb") as out:
            out.write(data)
    print(f"Downloaded {{', '.join(files)}} from {{url}} next to this notebook.")

'''
FETCH_BLOCK = re.compile(re.escape(FETCH.splitlines()[0]) + r".*?\n    print\(f\"Downloaded .*?\n\n",
                         re.DOTALL)


def settings(root=course.ROOT):
    """The course's public places, `c.BackpropCourse.*` in nbgrader_config.py."""
    cfg = course.config(root).get("BackpropCourse", {})
    return {key: str(cfg.get(key, default)).rstrip("/") for key, default in SETTINGS.items()}


def imports(source):
    """The top-level names of the modules a piece of Python (or a notebook cell) imports."""
    lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return set()
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def helpers(folder, notebook):
    """The helper files of `folder` that `notebook` needs: the modules its code cells import
    that lie in `folder`, then the modules those import, and so on. Sorted file names."""
    folder = Path(folder)
    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    todo = set()
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            source = cell["source"]
            todo |= imports(source if isinstance(source, str) else "".join(source))
    found = set()
    while todo:
        name = todo.pop()
        path = folder / f"{name}.py"
        if name in found or not path.is_file() or path.name in course.GRADER_ONLY:
            continue
        found.add(name)
        todo |= imports(path.read_text(encoding="utf-8"))
    return sorted(f"{name}.py" for name in found)


def linked(folder, notebook):
    """The files of `folder` that `notebook`'s markdown links to ([text](name)). Sorted."""
    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    names = set()
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            names |= set(re.findall(r"\]\(([\w.-]+)\)", source))
    return sorted(n for n in names if (Path(folder) / n).is_file() and n != Path(notebook).name)


def shipped(folder, notebook):
    """What the zip holds besides the notebook, and the setup cell downloads: its helpers,
    then the files its text links to."""
    return [*helpers(folder, notebook), *linked(folder, notebook)]


def write_zip(folder, dest):
    """dest: the release notebook of `folder` and its helpers, at the zip's top level."""
    folder, dest = Path(folder), Path(dest)
    notebook = folder / f"{folder.name}.ipynb"
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
        for name in [notebook.name, *shipped(folder, notebook)]:
            info = zipfile.ZipInfo(name, ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, (folder / name).read_bytes())
    return dest


def bundle(dest, release=course.ROOT / "release"):
    """DEST/<assignment>.zip for every assignment of release/."""
    dest = Path(dest)
    made = [write_zip(folder, dest / f"{folder.name}.zip")
            for folder in sorted(Path(release).iterdir()) if folder.is_dir()]
    for path in made:
        print(f"{path}: {', '.join(zipfile.ZipFile(path).namelist())}")
    return made


def setup_block(folder, site):
    """The fetching start of the setup cell of the assignment in `folder` (its source)."""
    folder = Path(folder)
    names = shipped(folder, folder / f"{folder.name}.ipynb")
    digests = {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in names}
    sha256 = "{\n" + "".join(f'        "{n}": "{d}",\n' for n, d in digests.items()) + "    }"
    return FETCH.format(sha256=sha256, site=site, zip=f"{folder.name}.zip")


def _setup_cell(nb):
    cells = [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {})
             .get("grade_id") == "setup"]
    if len(cells) != 1:
        raise RuntimeError("the notebook has no setup cell (grade_id 'setup')")
    return cells[0]


def stamp(a, root=course.ROOT):
    """Write the fetching block, with the helpers' sha256 and the site's URL, at the top of
    the setup cell of source/<a>/<a>.ipynb, and the same cell source into solutions/<a>
    (its outputs stay: the block prints nothing where the files are). True if it changed."""
    root = Path(root)
    block = setup_block(root / "source" / a, settings(root)["site_url"])
    changed = False
    for kind in ("source", "solutions"):
        path = root / kind / a / f"{a}.ipynb"
        if not path.exists():
            continue
        nb = nbformat.read(path, as_version=4)
        cell = _setup_cell(nb)
        rest = FETCH_BLOCK.sub("", cell.source, count=1)
        if block + rest != cell.source:
            cell.source = block + rest
            nbformat.write(nb, path)
            changed = True
    return changed


def stamped(a, root=course.ROOT):
    """Whether source/<a>'s setup cell carries the current files' sha256 and site URL."""
    root = Path(root)
    nb = nbformat.read(root / "source" / a / f"{a}.ipynb", as_version=4)
    block = setup_block(root / "source" / a, settings(root)["site_url"])
    return _setup_cell(nb).source.startswith(block)


def links(a, root=course.ROOT):
    """The places to open assignment `a` from the site: {"zip", "colab", "hub"} (a link is
    left out when its setting in nbgrader_config.py is empty)."""
    s = settings(root)
    found = {"zip": f"downloads/{a}.zip"}
    path = f"release/{a}/{a}.ipynb"
    repo = s["repository_url"]
    if repo.startswith("https://github.com/"):
        owner_name = repo.removeprefix("https://github.com/")
        found["colab"] = (f"https://colab.research.google.com/github/{owner_name}/blob/"
                          f"{s['repository_branch']}/{path}")
    if repo and s["hub_url"]:
        query = urllib.parse.urlencode({"repo": repo, "branch": s["repository_branch"],
                                        "urlpath": f"lab/tree/{repo.rsplit('/', 1)[-1]}/{path}"})
        found["hub"] = f"{s['hub_url']}/hub/user-redirect/git-pull?{query}"
    return found
