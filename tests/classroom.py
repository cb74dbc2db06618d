"""Helpers of the class tests (test_lab.py, test_hub.py): students' notebooks and HTTP calls."""
import copy
import json
import re
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
COURSE_ID = "backprop-by-hand"
MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n", re.MULTILINE)
# The named mistake of the class tests: the sign of the output delta flipped.
SIGN_FLIP = ("(O - t)", "(t - O)")


def student_work(a="ps1_perceptron", mistake=False):
    """The release notebook of `a` with the source's solution code typed into it.

    With `mistake`, `gradients` computes (t - O) instead of (O - t): its feedback must say
    that the sign is flipped.
    """
    source = nbformat.read(ROOT / "source" / a / f"{a}.ipynb", as_version=4)
    answers = {c.metadata.nbgrader.grade_id: MARKERS.sub("", c.source) for c in source.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    nb = nbformat.read(ROOT / "release" / a / f"{a}.ipynb", as_version=4)
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in answers:
            cell.source = answers[grade_id]
            if mistake and grade_id == "gradients":
                assert SIGN_FLIP[0] in cell.source
                cell.source = cell.source.replace(*SIGN_FLIP)
    return nb


def scratch_course(dest, assignments=("ps1_perceptron",)):
    """A copy of the course (config, source/, release/) at `dest`, to serve or release from."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "nbgrader_config.py", dest)
    for a in assignments:
        for kind in ("source", "release"):
            shutil.copytree(ROOT / kind / a, dest / kind / a, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    return dest


class Http:
    """JSON over HTTP with a Jupyter or JupyterHub token (and the _xsrf-free token header)."""

    def __init__(self, base, token):
        self.base, self.token = base.rstrip("/"), token

    def call(self, method, path, body=None, form=None, timeout=120, ok=(200, 201, 202, 204)):
        data, headers = None, {"Authorization": f"token {self.token}"}
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif method in ("POST", "PUT"):
            data = b""
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, text = resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            status, text = err.code, err.read().decode(errors="replace")
        assert status in ok, f"{method} {self.base + path} answered {status}: {text[:2000]}"
        return json.loads(text) if text.strip().startswith(("{", "[")) else text

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, **kw):
        return self.call("POST", path, **kw)

    def nbgrader(self, path, form):
        """An nbgrader server-extension action; returns its "value", failing on success=False."""
        out = self.post(path, form=form)
        assert out.get("success", True), f"{path} {form} failed: {out.get('value')}"
        return out.get("value", out)

    def put_notebook(self, path, nb):
        self.call("PUT", f"/api/contents/{path}",
                  body={"type": "notebook", "format": "json", "content": json.loads(nbformat.writes(nb))})


def wait_for(what, check, timeout=60, every=0.3):
    """Call `check` until it returns a true value; fail with `what` after `timeout` s."""
    end = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except (OSError, AssertionError, urllib.error.URLError):
            value = None
        if value:
            return value
        assert time.monotonic() < end, f"{what} (waited {timeout} s)"
        time.sleep(every)
