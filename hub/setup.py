"""Prepare this machine for `make hub` (run as root; every step is idempotent).

    python hub/setup.py [--passwords]

- one Unix user per person: bp-instructor and the students ($BP_HUB_STUDENTS, default
  bp-student1 bp-student2 bp-student3), each with a private home (mode 700);
- with --passwords, a random Unix password for each user that has none from this script yet,
  kept in $BP_HUB_STATE/passwords (mode 600, root only) for the hub's login page (PAM);
- nbgrader's shared exchange $BP_EXCHANGE (default /srv/nbgrader/exchange), mode 1777 as
  nbgrader requires (nbgrader itself sets the modes of inbound/, outbound/ and feedback/);
- the instructor's course folder <home of bp-instructor>/backprop-by-hand (owner
  bp-instructor, group root, mode 2750, in a home of mode 750 with group root):
  the course's nbgrader_config.py, source/ and release/, copied once from this repository.

The homes that the hub serves are $BP_HUB_HOMES/<user> (default: /home/<user>).

With $BP_HUB_STAGE set (a folder every user can enter), what the users' servers read from the
course (.venv's packages and Jupyter files, hub/ and nbgrader_config.py) is staged there, hard
linked where it can be (else copied), for a course in a folder other users cannot enter (a
clone in /root); hub/jupyterhub_config.py reads the same variable.
"""
import os
import pwd
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
INSTRUCTOR = "bp-instructor"
STUDENTS = os.environ.get("BP_HUB_STUDENTS", "bp-student1 bp-student2 bp-student3").split()
HOMES = Path(os.environ.get("BP_HUB_HOMES", "/home"))
EXCHANGE = Path(os.environ.get("BP_EXCHANGE", "/srv/nbgrader/exchange"))
STATE = Path(os.environ.get("BP_HUB_STATE", REPO / ".hub"))
STAGE = Path(os.environ["BP_HUB_STAGE"]) if os.environ.get("BP_HUB_STAGE") else None
COURSE_ID = "backprop-by-hand"


def fail(sentence):
    print(f"hub/setup.py: {sentence}", file=sys.stderr)
    sys.exit(1)


def home(user):
    return HOMES / user


def course_dir():
    return home(INSTRUCTOR) / COURSE_ID


def ensure_user(user):
    try:
        pwd.getpwnam(user)
    except KeyError:
        if not shutil.which("useradd"):
            fail("useradd is missing; install the Debian package 'passwd' (apt-get install passwd).")
        subprocess.run(["useradd", "--create-home", "--user-group", "--shell", "/bin/bash", user],
                       check=True)
    pw = pwd.getpwnam(user)
    for folder in {Path(pw.pw_dir), home(user)}:
        folder.mkdir(parents=True, exist_ok=True)
        if user == INSTRUCTOR:  # group root: see ensure_course()
            os.chown(folder, pw.pw_uid, 0)
            os.chmod(folder, 0o750)
        else:
            os.chown(folder, pw.pw_uid, pw.pw_gid)
            os.chmod(folder, 0o700)  # nobody else reads a student's work


def ensure_passwords(users):
    STATE.mkdir(parents=True, exist_ok=True)
    os.chmod(STATE, 0o700)
    path = STATE / "passwords"
    known = dict(line.split(":", 1) for line in path.read_text().split() if ":" in line) \
        if path.exists() else {}
    new = {u: secrets.token_urlsafe(9) for u in users if u not in known}
    if new:
        subprocess.run(["chpasswd"], input="".join(f"{u}:{p}\n" for u, p in new.items()),
                       text=True, check=True)
        known.update(new)
        path.write_text("".join(f"{u}:{p}\n" for u, p in known.items()))
    os.chmod(path, 0o600)
    return known


def ensure_exchange():
    EXCHANGE.mkdir(parents=True, exist_ok=True)
    os.chmod(EXCHANGE, 0o1777)
    # every user must be able to reach the exchange through its parent folders
    for parent in EXCHANGE.parents:
        if parent.stat().st_mode & 0o001 == 0:
            fail(f"{parent} is not searchable by other users, so students cannot reach the "
                 f"exchange {EXCHANGE}; chmod o+x {parent} or set BP_EXCHANGE elsewhere.")


def ensure_course():
    course = course_dir()
    if not (course / "nbgrader_config.py").exists():
        course.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / "nbgrader_config.py", course)
        for kind in ("source", "release"):
            shutil.copytree(REPO / kind, course / kind, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    # The instructor owns the course and its group is root (grading runs as root and mounts
    # into each student's sandbox only what the kernel needs); students have no access.
    pw = pwd.getpwnam(INSTRUCTOR)
    for folder, _, files in os.walk(course):
        os.chown(folder, pw.pw_uid, 0)
        os.chmod(folder, (os.stat(folder).st_mode & 0o7770) | 0o2000)
        for name in files:
            os.chown(os.path.join(folder, name), pw.pw_uid, 0)
    os.chmod(course, 0o2750)


VENV = REPO / ".venv"
PACKAGES = ("jupyterhub", "nbgrader", "torch")  # what the users' Python must import
SITE = Path("lib") / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
# what the users' servers read, relative to the course (see stage())
STAGED = (".venv" / SITE, Path(".venv/share/jupyter"), Path(".venv/etc/jupyter"), Path("hub"),
          Path("nbgrader_config.py"))


def _runs(user, python, packages=PACKAGES):
    check = (f"import importlib.util as u; assert all(u.find_spec(m) for m in {packages!r}), "
             "'the course packages are missing'")
    return subprocess.run(["runuser", "-u", user, "--", str(python), "-c", check],
                          capture_output=True, text=True, check=False, cwd="/")


def _link(src, dest):
    try:
        os.link(src, dest)
    except OSError:  # another file system
        shutil.copy2(src, dest)


def stage(dest, root=REPO):
    """Put what the users' servers read (STAGED) in dest, hard linked where it can be (a
    hard link keeps its file's modes; the folders get their source's), made afresh."""
    dest = Path(dest)
    shutil.rmtree(dest / ".venv", ignore_errors=True)
    dest.mkdir(parents=True, exist_ok=True)
    os.chmod(dest, 0o755)
    for rel in STAGED:
        src, to = Path(root) / rel, dest / rel
        to.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        if src.is_dir():
            shutil.rmtree(to, ignore_errors=True)
            shutil.copytree(src, to, symlinks=True, copy_function=_link,
                            ignore=shutil.ignore_patterns("__pycache__"))
        elif src.is_file():
            to.unlink(missing_ok=True)
            _link(src, to)
    return dest


def user_python(user, venv=VENV, packages=PACKAGES):
    """A Python that the users can run, with the course's packages (venv's site-packages).

    .venv's interpreter may live where other users cannot go (pyenv under /root), or the
    venv may be a staged copy without one. Then a small venv of the system's Python of the
    same version (<venv>/hub-python) reads venv's site-packages; hub/jupyterhub_config.py
    points the users' servers at it.
    """
    main = venv / "bin" / "python"
    bridge = venv / "hub-python"
    if main.exists() and _runs(user, main, packages).returncode == 0:
        shutil.rmtree(bridge, ignore_errors=True)
        return main
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system = shutil.which(version, path="/usr/local/bin:/usr/bin:/bin")
    if not system:
        fail(f"the users cannot run {main} (it lives in a folder only root can read) and "
             f"there is no system {version}; install it (apt-get install {version}-venv) "
             "or build .venv from a Python every user can read.")
    python = bridge / "bin" / "python"
    if not python.exists():
        subprocess.run([system, "-m", "venv", "--without-pip", str(bridge)], check=True)
    (bridge / SITE / "course.pth").write_text(
        f"import site; site.addsitedir({str(venv / SITE)!r})\n")
    alembic = bridge / "bin" / "alembic"  # nbgrader's gradebook runs `alembic`
    alembic.write_text(f"#!{python}\nimport sys\nfrom alembic.config import main\n"
                       "sys.exit(main())\n")
    alembic.chmod(0o755)
    run = _runs(user, python, packages)
    if run.returncode != 0:
        fail(f"user {user} cannot run the course's Python ({run.stderr.strip()[-300:]}); "
             "put the course in a folder every user can read (for example /srv, mode 755), "
             "or set BP_HUB_STAGE to such a folder for a copy of what the users read.")
    return python


def main(argv):
    if os.geteuid() != 0:
        fail("the hub must be set up and run as root (it creates Unix users and starts each "
             "user's server as that user); run it with sudo.")
    users = [INSTRUCTOR, *STUDENTS]
    HOMES.mkdir(parents=True, exist_ok=True)
    for user in users:
        ensure_user(user)
    ensure_exchange()
    ensure_course()
    python = user_python(STUDENTS[0], stage(STAGE) / ".venv" if STAGE else VENV)
    if "--passwords" in argv:
        for user, password in ensure_passwords(users).items():
            if user in users:
                print(f"  {user:16} password {password}")
    print(f"hub/setup.py: users {', '.join(users)}; exchange {EXCHANGE}; "
          f"course {course_dir()}; users' Python {python}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
