"""Helpers for the browser tests: Debian's Chromium driven by Playwright, a scratch
JupyterLab server, a folder served on 127.0.0.1, and a record of console errors and failed
requests."""
import contextlib
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ARTIFACTS = ROOT / "test-artifacts"  # git-ignored: screenshots
CHROMIUM = os.environ.get("BP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
TOKEN = "backprop-by-hand-test-token"


def need_chromium():
    """Skip (on a laptop) or fail (under CI=true) when Chromium is missing."""
    if Path(CHROMIUM).exists():
        return
    msg = (f"the browser tests need Chromium at {CHROMIUM}; install it with "
           "`sudo apt-get install chromium` (Debian/Ubuntu) or point BP_CHROMIUM at one")
    from conftest import required

    required(msg + " (.ci/run installs it under CI=true)", "run the browser tests")


@contextlib.contextmanager
def serve(folder):
    """`folder` served on 127.0.0.1 while in the block (a static site): its URL."""
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=folder))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """One Chromium for a test module; every page records its console errors and
    failed requests in self.problems."""

    def __init__(self):
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        self.browser = self._pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        self.context = self.browser.new_context(viewport={"width": 1280, "height": 900})
        self.problems = []
        self.ignored = []  # (predicate on the message) for known, harmless noise

    def page(self):
        page = self.context.new_page()
        page.on("console", lambda m: m.type == "error" and self._problem(
            f"console error on {page.url}: {m.text}"))
        page.on("pageerror", lambda e: self._problem(f"page error on {page.url}: {e}"))
        page.on("requestfailed", lambda r: self._problem(
            f"request failed: {r.method} {r.url} ({r.failure})"))
        page.on("response", lambda r: r.status >= 400 and self._problem(
            f"HTTP {r.status}: {r.request.method} {r.url}"))
        return page

    def _problem(self, text):
        if not any(ignore(text) for ignore in self.ignored):
            self.problems.append(text)

    def take_problems(self):
        found, self.problems = self.problems, []
        return found

    def close(self):
        self.context.close()
        self.browser.close()
        self._pw.stop()


def screenshot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


class Lab:
    """`jupyter lab` on a free port, serving `root`, with the course's server
    extension; its runtime, settings and workspace files stay under `state`."""

    def __init__(self, root, state, extensions="course_server=True", wait=True):
        self.root, self.port = Path(root), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        state = Path(state)
        env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
               "JUPYTER_CONFIG_DIR": str(state / "config"), "PYTHONPATH": str(ROOT),
               "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        cmd = [str(BIN / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1",
               f"--port={self.port}", f"--ServerApp.token={TOKEN}",
               f"--ServerApp.root_dir={root}",
               f"--ServerApp.jpserver_extensions={extensions}",
               f"--LabApp.workspaces_dir={state / 'workspaces'}",
               f"--LabApp.user_settings_dir={state / 'settings'}",
               "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        self.log_path = state / "lab.log"
        news = state / "settings" / "@jupyterlab" / "apputils-extension"
        news.mkdir(parents=True, exist_ok=True)  # no "get notified about news?" toast
        (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
        notebook = state / "settings" / "@jupyterlab" / "notebook-extension"
        notebook.mkdir(parents=True, exist_ok=True)  # every cell in the page, not only those in view
        (notebook / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
        self.proc = subprocess.Popen(cmd, cwd=root, stdout=self.log_path.open("w"),
                                     stderr=subprocess.STDOUT, env=env, start_new_session=True)
        if wait:
            self.wait_ready()

    def wait_ready(self):
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                self.get("/api/status")
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("JupyterLab did not start:\n" + self.log_path.read_text()[-3000:])

    def get(self, path, timeout=30):
        sep = "&" if "?" in path else "?"
        with urllib.request.urlopen(f"{self.url}{path}{sep}token={TOKEN}", timeout=timeout) as r:
            return r.read().decode()

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def copy_course(dest, parts=("source", "release", "notebooks")):
    """A scratch copy of the course (never the repository itself)."""
    dest = Path(dest)
    for part in parts:
        shutil.copytree(ROOT / part, dest / part, symlinks=False,
                        ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    shutil.copy(ROOT / "nbgrader_config.py", dest)
    return dest

