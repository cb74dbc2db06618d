"""`make lab` serves JupyterLab on the course, with nbgrader's extensions."""
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_labextension_is_listed():
    out = subprocess.run([BIN / "jupyter", "labextension", "list"], capture_output=True,
                         text=True, check=True)
    assert re.search(r"@jupyter/nbgrader .*enabled", out.stdout + out.stderr)


def test_make_lab_serves_the_course(tmp_path):
    port = _free_port()
    log = (tmp_path / "lab.log").open("w+")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path)}
    lab = subprocess.Popen(["make", "lab", f"PORT={port}"], cwd=ROOT, stdout=log,
                           stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        url = None
        for _ in range(120):
            log.seek(0)
            found = re.search(rf"http://127\.0\.0\.1:{port}/lab\?token=\w+", log.read())
            if found:
                url = found.group(0)
                break
            time.sleep(0.5)
        assert url, "make lab printed no URL"
        token = url.split("token=")[1]
        page = urllib.request.urlopen(url, timeout=30).read().decode()
        assert "JupyterLab" in page
        api = f"http://127.0.0.1:{port}/api/contents/release?token={token}"
        listing = urllib.request.urlopen(api, timeout=30).read().decode()
        assert "ps1_perceptron" in listing, "the server does not serve the course folder"
        grader = f"http://127.0.0.1:{port}/formgrader?token={token}"
        assert urllib.request.urlopen(grader, timeout=30).status == 200
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        lab.wait(timeout=30)
