"""The course folder and nbgrader: configuration, the API, release and solutions."""
import contextlib
import functools
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ASSIGNMENTS = sorted(p.name for p in (ROOT / "source").iterdir() if p.is_dir())
IGNORED = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints")
GRADER_ONLY = ("referee.py",)  # in source/<assignment>/, never released nor mounted

os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"  # nbgrader runs alembic


def config(course, **overrides):
    """The course's nbgrader_config.py, rooted at `course`, plus overrides {"Section.key": v}."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    cfg.CourseDirectory.root = str(course)
    if "plugin_class" not in cfg.AssignLatePenalties:  # the course's late policy
        cfg.AssignLatePenalties.plugin_class = "grader.late.LatePolicy"
    extra = Config()
    for key, value in overrides.items():
        section, name = key.split(".")
        extra[section][name] = value
    cfg.merge(extra)
    return cfg


def api(course, **overrides):
    from nbgrader.apps import NbGraderAPI

    _quick_new_gradebooks()
    return NbGraderAPI(config=config(course, **overrides))


def gradebook(course):
    """The course's gradebook.db (nbgrader's Gradebook: use it in a `with` block)."""
    from nbgrader.api import Gradebook

    _quick_new_gradebooks()
    return Gradebook(f"sqlite:///{Path(course) / 'gradebook.db'}")


LOCK = ".bp-grading.lock"  # in autograded/: see grading_lock()


@contextlib.contextmanager
def grading_lock(course, log=print):
    """Hold the course's grading lock (autograded/.bp-grading.lock) for a block: the grading
    service and `make grade` (`make hub-grade`) take it around everything they write, so
    they never write the gradebook or submitted/ at once; the other one waits. The kernel
    releases it when its process ends, however it ends."""
    import fcntl

    path = Path(course) / "autograded" / LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as held:
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"another grading run of this course is under way (it holds {path}); "
                "waiting for it to finish")
            fcntl.flock(held, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)


@functools.cache
def alembic_head():
    """The newest revision of nbgrader's gradebook schema, read from its migration files."""
    import nbgrader

    revisions = {}
    for path in (Path(nbgrader.__file__).parent / "alembic" / "versions").glob("*.py"):
        found = dict(re.findall(r"^(revision|down_revision) = '?(\w+)'?$", path.read_text(),
                                re.MULTILINE))
        revisions[found["revision"]] = found["down_revision"]
    heads = set(revisions) - set(revisions.values())
    if len(heads) != 1:
        raise RuntimeError(f"nbgrader's migrations have {len(heads)} heads: {sorted(heads)}")
    return heads.pop()


def _quick_new_gradebooks():
    """nbgrader runs `alembic heads` in a new process for each gradebook it creates (5 s on
    2 cores: every grading run and every new course paid it); give it the same answer."""
    import nbgrader.api

    nbgrader.api.get_alembic_version = alembic_head


def new_course(dest, assignments=ASSIGNMENTS, root=ROOT):
    """A course folder at `dest` with the config and a copy of source/ (links resolved)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(root) / "nbgrader_config.py", dest)
    for a in assignments:
        shutil.copytree(Path(root) / "source" / a, dest / "source" / a, dirs_exist_ok=True,
                        ignore=IGNORED)
    return dest


def check(result, what):
    if not result["success"]:
        raise RuntimeError(f"{what} failed:\n{result.get('error', '')}\n{result.get('log', '')}")


def generate_release(course, a):
    check(api(course).generate_assignment(a, force=True), f"generate_assignment {a}")
    return Path(course) / "release" / a


def generate_solutions(course, a, execute=True):
    """solutions/<a>, executed unless `execute` is False (then without outputs)."""
    from nbgrader.apps.api import capture_log
    from nbgrader.converters import GenerateSolution
    from nbgrader.preprocessors import Execute

    generate_release(course, a)  # generate_solution needs the assignment in the gradebook
    nbg = api(course)  # the API has no generate_solution; run the converter the same way
    nbg.coursedir.assignment_id = a
    app = GenerateSolution(coursedir=nbg.coursedir, parent=nbg)
    app.force = True
    if not execute:
        app.preprocessors = [p for p in app.preprocessors if p is not Execute]
    # hidden tests are removed before solutions run; any left would say they are skipped
    saved = os.environ.get("BACKPROP_HIDDEN_TESTS")
    os.environ["BACKPROP_HIDDEN_TESTS"] = "skip"
    try:
        check(capture_log(app), f"generate_solution {a}")
    finally:
        if saved is None:
            os.environ.pop("BACKPROP_HIDDEN_TESTS")
        else:
            os.environ["BACKPROP_HIDDEN_TESTS"] = saved
    return Path(course) / "solutions" / a


def publish(kind, assignments):
    """Regenerate release/ or solutions/ in a scratch course and copy it into the repo,
    after writing the helper files' sha256 into source/'s setup cells (grader/bundle.py)."""
    from grader import bundle

    make = generate_release if kind == "release" else generate_solutions
    for a in assignments:  # the setup cell's sha256 of the helper files, and the site's URL
        if bundle.stamp(a):
            print(f"source/{a}: the setup cell now has the helper files' sha256 and the site's URL")
    with tempfile.TemporaryDirectory(prefix="bp-publish-") as tmp:
        course = new_course(tmp, assignments)
        for a in assignments:
            built = make(course, a)
            shutil.rmtree(ROOT / kind / a, ignore_errors=True)
            shutil.copytree(built, ROOT / kind / a, ignore=IGNORED)
            print(f"{kind}/{a}: regenerated")

