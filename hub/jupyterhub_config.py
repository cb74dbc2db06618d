"""JupyterHub for the course: `make hub` (as root, after `python hub/setup.py`).

One Unix user per person, each with their own single-user JupyterLab (LocalProcessSpawner,
started as that user in their private home), nbgrader's exchange shared between them,
and Formgrader in the instructor's server only. Log in with the Unix password (PAM).

Settings from the environment (defaults for `make hub`):
  BP_HUB_PORT=8000  BP_HUB_API_PORT=8081  BP_HUB_PROXY_API_PORT=8001  (all on 127.0.0.1)
  BP_HUB_STATE=<repo>/.hub        the hub's database and secrets
  BP_HUB_HOMES=/home              each user's server serves BP_HUB_HOMES/<user>
  BP_EXCHANGE=/srv/nbgrader/exchange
  BP_HUB_STUDENTS="bp-student1 bp-student2 bp-student3"
  BP_HUB_ADMIN_TOKEN              optional: an API token with admin rights (service bp-admin)
  BP_HUB_STAGE                    optional: where hub/setup.py staged what the users' servers
                                  read (for a course in a folder other users cannot enter)
  BP_GRADING=1                    0: no grading service (grade by hand, `make hub-grade`)
  BP_GRADING_LIMIT=600  BP_GRADING_BEFORE_DUE=tests  BP_GRADING_JOBS=<cores>
                                  the grading service's options (`python -m grader serve`)

The grading service (grader/service.py) is a managed service of the hub: JupyterHub starts it
with the hub, as root like the hub (the sandbox needs root), restarts it if it exits, and
stops it when the hub stops. It grades what students submit and releases their feedback.
"""
import os
import sys
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner

REPO = Path(__file__).resolve().parent.parent
# What the users' servers read: the course's own hub/ and .venv (in which the hub runs), or
# their copy that hub/setup.py staged in $BP_HUB_STAGE.
STAGE = Path(os.environ["BP_HUB_STAGE"]) if os.environ.get("BP_HUB_STAGE") else None
HERE = (STAGE or REPO) / "hub"
VENV = STAGE / ".venv" if STAGE else Path(sys.prefix)
# The users' Python: .venv's own, or, when only root can reach .venv's interpreter (pyenv
# under /root) or .venv is staged, the system Python reading .venv's packages that
# hub/setup.py built.
BRIDGE = VENV / "hub-python"
USER_BIN = BRIDGE / "bin" if (BRIDGE / "bin" / "python").exists() else VENV / "bin"
STATE = Path(os.environ.get("BP_HUB_STATE", REPO / ".hub"))
HOMES = Path(os.environ.get("BP_HUB_HOMES", "/home"))
EXCHANGE = os.environ.get("BP_EXCHANGE", "/srv/nbgrader/exchange")
INSTRUCTOR = "bp-instructor"
STUDENTS = os.environ.get("BP_HUB_STUDENTS", "bp-student1 bp-student2 bp-student3").split()
COURSE = HOMES / INSTRUCTOR / "backprop-by-hand"
CHP = REPO / ".venv" / "chp" / "node_modules" / ".bin" / "configurable-http-proxy"

c = get_config()  # noqa: F821 (JupyterHub provides get_config)

if not CHP.exists():
    sys.exit(f"hub/jupyterhub_config.py: the proxy {CHP} is missing; run `make hub-install` "
             "(it needs npm).")

STATE.mkdir(parents=True, exist_ok=True)
os.chmod(STATE, 0o700)
c.JupyterHub.bind_url = f"http://127.0.0.1:{os.environ.get('BP_HUB_PORT', '8000')}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{os.environ.get('BP_HUB_API_PORT', '8081')}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ.get('BP_HUB_PROXY_API_PORT', '8001')}"
c.ConfigurableHTTPProxy.command = [str(CHP)]
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")

# Who may log in (with their Unix password, PAM); nobody is a hub admin.
c.Authenticator.allowed_users = {INSTRUCTOR, *STUDENTS}
c.Authenticator.admin_users = set()

c.JupyterHub.services = []
if os.environ.get("BP_HUB_ADMIN_TOKEN"):  # for scripts and the class test
    c.JupyterHub.services.append(
        {"name": "bp-admin", "api_token": os.environ["BP_HUB_ADMIN_TOKEN"]})
    c.JupyterHub.load_roles = [{"name": "bp-admin", "services": ["bp-admin"], "scopes": [
        "admin:users", "admin:servers", "tokens", "list:users", "read:users"]}]

if os.environ.get("BP_GRADING", "1") != "0":
    # `python -m grader serve` as `make serve-grading` runs it, on the instructor's course;
    # the hub's own variables that say where per-user files go are passed on
    OPTIONS = {"--limit": "BP_GRADING_LIMIT", "--before-due": "BP_GRADING_BEFORE_DUE",
               "--jobs": "BP_GRADING_JOBS"}
    c.JupyterHub.services.append({
        "name": "grading",
        "command": [str(Path(sys.prefix) / "bin" / "python"), "-E", "-s", "-u", "-m", "grader",
                    "serve", "--course", str(COURSE),
                    *(x for opt, var in OPTIONS.items() if os.environ.get(var)
                      for x in (opt, os.environ[var]))],
        "cwd": str(REPO),
        "environment": {
            "BP_EXCHANGE": EXCHANGE, "OMP_NUM_THREADS": "1",
            **{k: v for k, v in os.environ.items() if k.startswith(("JUPYTER_", "XDG_"))
               or k in ("HOME", "TMPDIR", "IPYTHONDIR", "MPLCONFIGDIR")}},
        "display": False,
    })


class CourseSpawner(LocalProcessSpawner):
    """Start each user's server as that Unix user in BP_HUB_HOMES/<user>."""

    def user_env(self, env):
        env = super().user_env(env)
        env["HOME"] = str(HOMES / self.user.name)
        return env

    def make_preexec_fn(self, name):
        become_user = super().make_preexec_fn(name)
        home = str(HOMES / name)

        def preexec():
            become_user()
            os.chdir(home)  # nbgrader's Assignment List works relative to the process's folder

        return preexec


c.JupyterHub.spawner_class = CourseSpawner
c.Spawner.cmd = [str(USER_BIN / "python"), "-m", "jupyterhub.singleuser"]
c.Spawner.notebook_dir = str(HOMES / "{username}")
c.Spawner.default_url = "/lab"
c.Spawner.http_timeout = 60
c.Spawner.start_timeout = 120
c.Spawner.environment = {
    # nbgrader's gradebook runs the alembic executable: the venv's bin/ comes first
    "PATH": f"{USER_BIN}:/usr/local/bin:/usr/bin:/bin",
    # .venv's Jupyter data (JupyterLab, nbgrader's extensions, kernels) and its config
    # (nbgrader's server extensions enabled) also when the users' Python is the bridge
    "JUPYTER_PATH": str(VENV / "share" / "jupyter"),
    "JUPYTERLAB_DIR": str(VENV / "share" / "jupyter" / "lab"),
    "BP_EXCHANGE": EXCHANGE,
    "OMP_NUM_THREADS": "1",
}


VENV_CONFIG = str(VENV / "etc" / "jupyter")


def pre_spawn_hook(spawner):
    """The instructor gets Formgrader on their course; students get the Assignment List only."""
    env = {k: v for k, v in spawner.environment.items() if k != "BP_COURSE"}  # a copy
    if spawner.user.name == INSTRUCTOR:
        env["JUPYTER_CONFIG_PATH"] = os.pathsep.join([str(HERE), VENV_CONFIG])
        env["BP_COURSE"] = str(COURSE)
    else:
        env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(
            [str(HERE / "student"), str(HERE), VENV_CONFIG])
    spawner.environment = env


c.Spawner.pre_spawn_hook = pre_spawn_hook
