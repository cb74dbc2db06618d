"""A student's notebook away from the course folder, and the zips it comes in.

- "Colab": a fresh venv with only torch, numpy, matplotlib, ipykernel and nbclient, the
  release notebook alone in an empty folder with the solution filled in (from source/), and
  the site's zips served on 127.0.0.1: the setup cell downloads and checks the helper files
  and every visible check passes; with no server, or with a changed file, it says so in one sentence;
- every zip (`python -m grader bundle`) holds exactly the helper files its notebook imports,
  each with the sha256 written into the notebook's setup cell, and nothing grader-only;
- the site's Colab and hub links come from the configured repository.
"""
import hashlib
import json
import os
import re
import subprocess
import sys
import zipfile

import nbformat
import pytest
from browserkit import serve
from classroom import student_work
from conftest import ASSIGNMENTS, grading, notebook
from venvkit import fresh_venv

from grader import bundle

# --- the zips ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def downloads(tmp_path_factory):
    """The site's downloads/ folder, as `make site` writes it."""
    dest = tmp_path_factory.mktemp("site") / "downloads"
    bundle.bundle(dest)
    return dest


def _sha256_in_setup_cell(a):
    """{file: sha256} and the site's URL, as written into release/<a>'s setup cell."""
    nb = nbformat.read(notebook("release", a), as_version=4)
    (setup,) = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup"]
    site = re.search(r'os\.environ\.get\("BACKPROP_SITE_URL", "([^"]+)"\)', setup.source)
    return dict(re.findall(r'"([\w.]+)": "([0-9a-f]{64})"', setup.source)), site.group(1)


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_zip_holds_exactly_what_the_notebook_imports(a, downloads, tmp_path):
    release = grading.ROOT / "release" / a
    with zipfile.ZipFile(downloads / f"{a}.zip") as z:
        names = z.namelist()
        z.extractall(tmp_path)
    assert names[0] == f"{a}.ipynb" and len(set(names)) == len(names)
    shipped = set(names[1:])
    texts = set(bundle.linked(release, release / f"{a}.ipynb"))
    assert texts == {p.name for p in release.glob("*.md")}, f"{a}: the zip's texts are {texts}"
    assert not shipped & set(grading.GRADER_ONLY), f"{a}.zip holds a grader-only file"
    for name in names:  # the release's own files, nothing of source/ or solutions/
        data = (tmp_path / name).read_bytes()
        assert data == (release / name).read_bytes(), f"{a}.zip: {name} is not release/{a}/{name}"
        for marker in (b"BEGIN SOLUTION", b"HIDDEN TESTS", b"import referee"):
            assert marker not in data, f"{a}.zip: {name} holds '{marker.decode()}'"
    # run every import of the notebook's code cells (the setup cell whole) in the unpacked
    # folder: the modules loaded from it are exactly the zip's .py files
    nb = nbformat.read(tmp_path / f"{a}.ipynb", as_version=4)
    code = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            if cell.metadata.get("nbgrader", {}).get("grade_id") == "setup":
                code.append(cell.source)
            else:
                code += [ln for ln in cell.source.splitlines() if re.match(r"(import|from) ", ln)]
    code.append("import json, sys, os\nprint(json.dumps(sorted(os.path.basename(f) for f in "
                "(getattr(m, '__file__', None) for m in list(sys.modules.values())) if f and "
                "os.path.isfile(f) and os.path.dirname(os.path.abspath(f)) == os.getcwd())))")
    run = subprocess.run([sys.executable, "-E", "-s", "-c", "\n".join(code)], check=False,
                         cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "MPLBACKEND": "Agg"})
    assert run.returncode == 0, run.stderr
    assert set(json.loads(run.stdout.splitlines()[-1])) == shipped - texts
    digests, site = _sha256_in_setup_cell(a)
    assert digests == {n: hashlib.sha256((tmp_path / n).read_bytes()).hexdigest()
                       for n in shipped}, \
        f"release/{a}'s setup cell has other sha256 than its files: run `make release`"
    assert site == bundle.settings()["site_url"], f"run `make release` ({a}'s site URL)"


def test_zips_are_reproducible(downloads, tmp_path):
    again = bundle.bundle(tmp_path)
    for path in again:
        assert path.read_bytes() == (downloads / path.name).read_bytes()


def test_colab_and_hub_links_come_from_the_configured_repository(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        'c.BackpropCourse.repository_url = "https://github.com/someone/backprop-by-hand"\n'
        'c.BackpropCourse.hub_url = "https://hub.example.edu/"\n')
    assert bundle.links("ps1_perceptron", root=tmp_path) == {
        "zip": "downloads/ps1_perceptron.zip",
        "colab": "https://colab.research.google.com/github/someone/backprop-by-hand/blob/main/"
                 "release/ps1_perceptron/ps1_perceptron.ipynb",
        "hub": "https://hub.example.edu/hub/user-redirect/git-pull?repo=https%3A%2F%2Fgithub.com"
               "%2Fsomeone%2Fbackprop-by-hand&branch=main&urlpath=lab%2Ftree%2Fbackprop-by-hand"
               "%2Frelease%2Fps1_perceptron%2Fps1_perceptron.ipynb"}


# --- "Colab": a fresh venv, the notebook alone ------------------------------------------

@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    """The python of a fresh venv with only torch, numpy, matplotlib, ipykernel and
    nbclient."""
    python = fresh_venv(tmp_path_factory.mktemp("colab"),
                        ["torch", "numpy", "matplotlib", "ipykernel", "nbclient"])
    missing = subprocess.run([python, "-c", "import jupyterlab"], check=False,
                             capture_output=True)
    assert missing.returncode != 0, "the Colab-like venv has JupyterLab"
    return python


@pytest.fixture(scope="module")
def site(downloads):
    """The site (its downloads/) served on 127.0.0.1: its URL."""
    with serve(downloads.parent) as url:
        yield url


RUN = """import sys
import nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
try:
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": sys.argv[2]}}).execute()
finally:
    nbformat.write(nb, sys.argv[1])
"""


def _run_alone(python, nb, folder, site):
    """Run notebook `nb` alone in the empty `folder` with `python`'s kernel, the course's
    site at `site`: (return code, the executed notebook, nbclient's stderr)."""
    folder.mkdir()
    path = folder.parent / "run.ipynb"  # not in `folder`: the notebook's folder holds nothing
    nbformat.write(nb, path)
    jupyter = folder.parent / "jupyter"  # no user kernelspec or config of this machine
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "BACKPROP"))},
           "BACKPROP_SITE_URL": site, "JUPYTER_PATH": str(jupyter), "IPYTHONDIR": str(jupyter),
           "JUPYTER_CONFIG_DIR": str(jupyter), "JUPYTER_DATA_DIR": str(jupyter),
           "JUPYTER_RUNTIME_DIR": str(jupyter / "runtime"), "OMP_NUM_THREADS": "1"}
    run = subprocess.run([python, "-c", RUN, path, folder], check=False, capture_output=True,
                         text=True, env=env, timeout=900)
    return run.returncode, nbformat.read(path, as_version=4), run.stderr


def _setup_outputs(nb):
    return next(c.outputs for c in nb.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_colab_fetches_the_files_and_every_check_passes(a, colab, site, downloads, tmp_path):
    code, nb, stderr = _run_alone(colab, student_work(a), tmp_path / "content", site)
    assert code == 0, f"the solved notebook failed alone:\n{stderr[-3000:]}"
    names = zipfile.ZipFile(downloads / f"{a}.zip").namelist()[1:]
    said = "".join(o.get("text", "") for o in _setup_outputs(nb))
    assert said == (f"Downloaded {', '.join(names)} from {site}/downloads/{a}.zip "
                    "next to this notebook.\n")
    release = grading.ROOT / "release" / a
    assert sorted(p.name for p in (tmp_path / "content").iterdir()
                  if p.suffix in (".py", ".md")) == sorted(names)
    for name in names:
        assert (tmp_path / "content" / name).read_bytes() == (release / name).read_bytes()
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert graded and all(o.output_type != "error" for c in graded for o in c.outputs)


def _one_sentence(nb):
    (out,) = _setup_outputs(nb)
    assert out.output_type == "error" and len(out.traceback) == 1, out
    return out.traceback[0]


def test_colab_without_the_site_says_what_to_do(colab, tmp_path):
    a = ASSIGNMENTS[0]
    with serve(tmp_path) as stopped:
        pass  # the server is stopped: nothing answers at its URL
    code, nb, _ = _run_alone(colab, student_work(a), tmp_path / "content", stopped)
    assert code != 0
    assert _one_sentence(nb) == (
        f"Could not download {stopped}/downloads/{a}.zip: download that zip yourself, unpack "
        "it and put its .py files next to this notebook (on Colab: upload them in the Files "
        "panel).")
    assert list((tmp_path / "content").iterdir()) == []


def test_colab_refuses_a_changed_file(colab, tmp_path):
    a = ASSIGNMENTS[0]
    changed = tmp_path / "site" / "downloads"
    changed.mkdir(parents=True)
    with zipfile.ZipFile(bundle.write_zip(grading.ROOT / "release" / a, tmp_path / "good.zip")) \
            as good, zipfile.ZipFile(changed / f"{a}.zip", "w") as bad:
        for name in good.namelist():
            data = good.read(name)
            bad.writestr(name, data + b"\nprint('changed')\n" if name == "judge.py" else data)

    with serve(changed.parent) as url:
        code, nb, _ = _run_alone(colab, student_work(a), tmp_path / "content", url)
    assert code != 0
    assert _one_sentence(nb) == (
        f"judge.py in {url}/downloads/{a}.zip is not the file this notebook was released "
        "with: download the assignment again (notebook and files) from the course's site.")
    assert list((tmp_path / "content").iterdir()) == []
