"""The course's Jupyter server extension: nbgrader's Validate, without freezing the server.

nbgrader 0.9.6 runs the whole notebook inside its `/assignments/validate` request
handler, on the server's only event loop, so every other request (saving, the
file browser, other students on a hub) waits until validation ends. This
extension serves the same URL with a handler that runs the validation in a
separate process (`python -m course_server.validate_worker`) and awaits it, and
answers with a short summary of what failed: the part and the message, not
the whole source of the test cell.

Enable it with (as `make lab` does):

    PYTHONPATH=<course> jupyter lab --ServerApp.jpserver_extensions='{"course_server": true}'
"""
import asyncio
import json
import os
import sys
from pathlib import Path

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

WORKER = "course_server.validate_worker"


def _jupyter_server_extension_points():
    return [{"module": "course_server"}]


class AsyncValidateHandler(JupyterHandler):
    """POST /assignments/validate (path=...): validate in a child process."""

    @web.authenticated
    async def post(self):
        try:
            path = self.get_argument("path")
        except web.MissingArgumentError:
            path = (self.get_json_body() or {}).get("path", "")
        root = Path(self.settings["root_dir"]).resolve()
        target = (root / path).resolve()
        if not target.is_relative_to(root):
            raise web.HTTPError(403, "Access denied: path outside allowed directory")
        env = {**os.environ,
               "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parent.parent),
                                                           os.environ.get("PYTHONPATH")]))}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", WORKER, str(target), env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        try:
            result = json.loads(out.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            self.log.error("validation of %s failed:\n%s", target, err.decode())
            result = {"success": False,
                      "value": "The validation process stopped without an answer "
                               "(see the server's log); run the notebook with "
                               "Kernel > Restart Kernel and Run All Cells to see the error."}
        self.finish(json.dumps(result))


def _load_jupyter_server_extension(serverapp):
    webapp = serverapp.web_app
    webapp.settings.setdefault("root_dir", serverapp.root_dir)
    route = url_path_join(webapp.settings["base_url"], r"/assignments/validate")
    webapp.add_handlers(".*$", [(route, AsyncValidateHandler)])
    # add_handlers puts the new rule just before the catch-all one; move it to the
    # front so it wins over nbgrader's handler for the same URL, whatever the order
    # in which the extensions were loaded.
    rules = webapp.default_router.rules
    rules.insert(0, rules.pop(-2))
    serverapp.log.info("course_server: Validate runs in a separate process")
