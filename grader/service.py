"""Feedback on submit: grade what students submit through nbgrader's exchange, and release
the feedback, without the instructor.

    python -m grader serve [--every 5] [--limit 600] [--course DIR]    (make serve-grading)

Every `every` seconds the service looks at the exchange's inbound folder
(<exchange>/<course id>/inbound/<student>+<assignment>+<timestamp>+<random>/, what
`nbgrader submit` writes). Each new submission is either
- accepted: copied into submitted/<student>/<assignment>/ (the notebook, timestamp.txt and
  submission_secret.txt, as nbgrader's collect would), graded by `make grade`'s code
  (classgrade.grade_class: the sandbox, the gradebook, the late policy, the report), and its
  feedback released where the student's `nbgrader fetch_feedback` (the Assignment List's
  "Fetch Feedback") finds it; or
- refused, when the student's previous graded submission of that assignment is less than
  `limit` seconds older (by the submissions' own timestamps): its "feedback" is one sentence
  saying when to submit again.

Before the assignment's due date (grader/late.py) the instructor chooses what a student sees
(`before_due`): "tests", each part's visible test with its message and, for the hidden tests,
only whether they pass; "nothing", only that the submission was graded; or "everything".
Once the due date has passed, the full feedback replaces it (for each student's latest graded
submission) and every later submission gets everything.

autograded/.bp-service.json records every submission handled and each student's last graded
one, written after each release: a restart handles exactly the submissions not yet recorded,
and grade_class's content hashes skip any already graded, so nothing is graded twice or lost.
A round holds the course's grading lock (course.grading_lock) while it writes submitted/ and
grades, so `make grade` (on the hub `make hub-grade`) run by hand waits for it, and it for them.

On the hub (`make hub`) JupyterHub starts it as a managed service, as root (the sandbox needs
root) in the instructor's course: what it writes there is given back to the course folder's
owner after each round, and the feedback folder of the exchange belongs to the instructor.
"""
import datetime
import json
import os
import re
import shutil
import time
from html import escape
from pathlib import Path

import nbformat

from grader import course as coursedir
from grader import late
from grader.errors import GraderError

BEFORE_DUE = ("tests", "nothing", "everything")

INBOUND = re.compile(r"^(?P<student>[^+]+)\+(?P<assignment>[^+]+)\+(?P<timestamp>[^+]+)"
                     r"(?:\+[^+]*)?$")
STATE = ".bp-service.json"


def exchange_course(course):
    """<exchange root>/<course id> of the course's configuration."""
    cfg = coursedir.config(course)
    return Path(cfg.Exchange.root) / cfg.CourseDirectory.course_id


def _state_path(course):
    return Path(course) / "autograded" / STATE


def load_state(course):
    try:
        return json.loads(_state_path(course).read_text())
    except (OSError, ValueError):
        return {"handled": {}, "last": {}, "latest": {}, "limited": {}}


def _save(course, state):
    path = _state_path(course)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
    os.replace(tmp, path)


def _publish(exchange, folder, a, html):
    """Put `html` where fetch_feedback looks for the feedback of the submission in `folder`."""
    from nbgrader.utils import notebook_hash

    secret = (folder / "submission_secret.txt").read_text()
    outbound = exchange / "feedback"
    if not outbound.is_dir():
        outbound.mkdir(parents=True, exist_ok=True)
        # as nbgrader's release_feedback makes it: a student reaches their page by its name
        # (a hash of their submission's secret) and cannot list the others'
        os.chmod(outbound, 0o711)
        if os.geteuid() == 0:  # on the hub: the instructor's, whose Formgrader writes here too
            owner = exchange.stat()
            os.chown(outbound, owner.st_uid, owner.st_gid)
    dest = outbound / f"{notebook_hash(secret=secret, notebook_id=a)}.html"
    tmp = dest.with_name(dest.stem + "-tmp.html")
    tmp.write_text(html) if isinstance(html, str) else tmp.write_bytes(html)
    os.chmod(tmp, 0o644)
    os.replace(tmp, dest)


def page(a, text):
    """A feedback page of one sentence (no script, nothing but text)."""
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'\">"
            f"<title>{escape(a)}: not graded</title></head><body><p>{escape(text)}</p>"
            "</body></html>\n")


def refusal(a, submitted, last, limit):
    """What a refused submission's page says: when to submit again."""
    from datetime import timedelta

    again = last + timedelta(seconds=limit)
    minutes = f"{limit / 60:g} minute{'s' * (limit != 60)}"
    return (f"Your submission of {a} at {submitted:%Y-%m-%d %H:%M:%S} UTC was received but not "
            f"graded: one submission is graded every {minutes}, and your submission at "
            f"{last:%Y-%m-%d %H:%M:%S} UTC was. Submit again after {again:%Y-%m-%d %H:%M:%S} "
            "UTC to have your latest work graded.")


def _give_back(course):
    """Run as root in a course that a user owns (the hub's instructor), what the service
    wrote there becomes that user's (the group stays), so that their Formgrader can go on
    writing the gradebook, submitted/ and feedback/."""
    owner = Path(course).stat().st_uid
    if os.geteuid() != 0 or owner == 0:
        return
    for folder, dirs, files in os.walk(course):
        for name in [folder, *(os.path.join(folder, f) for f in dirs + files)]:
            try:
                if os.lstat(name).st_uid == 0:
                    os.lchown(name, owner, -1)
            except FileNotFoundError:  # a journal of the gradebook, gone meanwhile
                pass


def _now():
    """Now, as nbgrader's dates are: UTC without a time zone."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def _messages(path):
    """{grade_id: the error message} of the failing grade cells of an autograded notebook."""
    try:
        nb = nbformat.read(path, as_version=4)
    except (OSError, ValueError):
        return {}
    return {c.metadata["nbgrader"].get("grade_id"): f"{o.get('ename')}: {o.get('evalue')}"
            for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")
            for o in c.get("outputs", []) if o.get("output_type") == "error"}


def before_due_page(course, a, student, due, show):
    """What a student sees of a graded submission before the due date (see the docstring)."""
    from grader.export import part_of

    head = (f"Your submission of {a} was graded. Until the due date ({due:%Y-%m-%d %H:%M} "
            "UTC) ")
    if show == "nothing":
        return page(a, head + "no result is shown; the full feedback comes after it.")
    with coursedir.gradebook(course) as gb:
        sub = gb.find_submission(a, student)
        cells = [(g.name, g.score or 0.0, g.max_score) for nb in sub.notebooks
                 for g in nb.grades]
    said = _messages(Path(course) / "autograded" / student / a / f"{a}.ipynb")
    parts = {}
    for name, score, top in cells:
        row = parts.setdefault(part_of(name), {"visible": [], "hidden": []})
        ok = score >= top
        if name.endswith("_hidden"):
            row["hidden"].append("pass" if ok else "fail")
        else:
            row["visible"].append("passed" if ok else said.get(name, "failed"))
    rows = "".join(f"<tr><td>{escape(p)}</td><td>{escape('; '.join(r['visible']) or '-')}</td>"
                   f"<td>{escape(', '.join(r['hidden']) or '-')}</td></tr>"
                   for p, r in parts.items())
    html = page(a, head + "you see your visible tests with their messages and whether the "
                "hidden tests pass; the full feedback comes after it.")
    return html.replace("</body>", "<table><tr><th>part</th><th>visible test</th>"
                        f"<th>hidden tests</th></tr>{rows}</table></body>")


def _full_after_due(course, exchange, state, log):
    """Once an assignment's due date has passed, the full feedback replaces the limited one
    of each student's latest graded submission."""
    now = _now()
    for name, (student, a) in list(state["limited"].items()):
        due = late.duedate(course, a)
        if due is not None and now < due:
            continue
        folder = exchange / "inbound" / name
        html = Path(course) / "feedback" / student / a / f"{a}.html"
        if state["latest"].get(f"{student}+{a}") == name and html.is_file() and folder.is_dir():
            _publish(exchange, folder, a, html.read_bytes())
            log(f"{name}: the due date has passed; full feedback released")
        del state["limited"][name]
        _save(course, state)


def _new_submissions(course, exchange, state, log):
    """[(timestamp, student, assignment, inbound folder)] not handled yet, oldest first; a
    submission of an assignment the course does not have is recorded and skipped."""
    from nbgrader.utils import parse_utc

    inbound = exchange / "inbound"
    assignments = {p.name for p in (course / "source").iterdir() if p.is_dir()}
    found = []
    for folder in (inbound.iterdir() if inbound.is_dir() else ()):
        m = INBOUND.match(folder.name)
        if not m or folder.name in state["handled"] or not folder.is_dir():
            continue
        if not _complete(folder):
            continue  # nbgrader's submit is still writing it: the next round takes it
        a = m["assignment"]
        if a not in assignments:
            state["handled"][folder.name] = "unknown assignment"
            _save(course, state)
            log(f"{folder.name}: no assignment {a} in source/; skipped")
            continue
        found.append((parse_utc(m["timestamp"]), m["student"], a, folder))
    return sorted(found)


def _complete(folder):
    """Whether nbgrader's submit has finished writing an inbound folder: it copies the
    files, then writes timestamp.txt, then submission_secret.txt, last."""
    try:
        return (folder / "submission_secret.txt").stat().st_size > 0
    except OSError:
        return False


def _accept(course, exchange, state, found, limit, log):
    """({student+assignment: (timestamp, student, assignment, folder)} to grade this round,
    [refused folder names]): one per student and assignment a round (the next round takes
    the others); one within `limit` seconds of the last graded is refused, with a page."""
    from nbgrader.utils import parse_utc

    accepted, refused, last = {}, [], dict(state["last"])  # last: graded, or accepted now
    for stamp, student, a, folder in found:
        key = f"{student}+{a}"
        before = parse_utc(last[key]) if key in last else None
        if before is not None and (stamp - before).total_seconds() < limit:
            _publish(exchange, folder, a, page(a, refusal(a, stamp, before, limit)))
            state["handled"][folder.name] = "refused"
            refused.append(folder.name)
            _save(course, state)
            log(f"{folder.name}: refused (the submission of {before:%H:%M:%S} UTC was graded; "
                f"one every {limit} s)")
            continue
        if key in accepted:
            continue
        last[key] = str(stamp)
        accepted[key] = (stamp, student, a, folder)
    return accepted, refused


def _copy_in(course, accepted):
    """Each accepted submission's files into submitted/<student>/<assignment>/, as nbgrader's
    collect would (regular files only)."""
    for _, student, a, folder in accepted.values():
        dest = course / "submitted" / student / a
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        for f in folder.iterdir():
            if f.is_file() and not f.is_symlink():
                shutil.copyfile(f, dest / f.name)


def run_once(course, limit=600, jobs=None, timeout=None, unsafe=False, before_due="tests",
             log=print):
    """Handle every new submission once; returns {"graded": [...], "refused": [...]}."""
    from grader import classgrade

    if before_due not in BEFORE_DUE:
        raise GraderError(f"before_due is {before_due!r}; choose one of "
                          f"{', '.join(BEFORE_DUE)}.")
    course = Path(course).resolve()
    exchange = exchange_course(course)
    state = {**load_state(course)}
    for key in ("latest", "limited"):
        state.setdefault(key, {})
    _full_after_due(course, exchange, state, log)
    accepted, refused = _accept(course, exchange, state,
                                _new_submissions(course, exchange, state, log), limit, log)
    graded = []

    def release(key, reason=None):
        """Publish one accepted submission's feedback and record it (once)."""
        if key not in accepted or accepted[key][3].name in graded:
            return
        stamp, student, a, folder = accepted[key]
        html = course / "feedback" / student / a / f"{a}.html"
        due = late.duedate(course, a)
        if reason or not html.is_file():
            _publish(exchange, folder, a, page(a, (
                f"Your submission of {a} at {stamp:%Y-%m-%d %H:%M:%S} UTC could not be graded "
                f"automatically ({reason or 'no feedback was made'}); your instructor has "
                "been told.")))
        elif before_due != "everything" and due is not None and _now() < due:
            _publish(exchange, folder, a, before_due_page(course, a, student, due, before_due))
            state["limited"][folder.name] = [student, a]
        else:
            _publish(exchange, folder, a, html.read_bytes())
        state["handled"][folder.name] = "graded"
        state["last"][key] = str(stamp)
        state["latest"][key] = folder.name
        graded.append(folder.name)
        _save(course, state)

    if not accepted:
        return {"graded": graded, "refused": refused}
    # `make grade` (`make hub-grade`) waits while this round writes, and the other way round
    with coursedir.grading_lock(course, log=log):
        _copy_in(course, accepted)
        _give_back(course)  # the instructor's Collect may write submitted/ meanwhile
        try:
            for a in sorted({a for _, _, a, _ in accepted.values()}):
                # each feedback is released as soon as its grade is merged; the rest (already
                # graded before a restart) once the class is done
                failed = classgrade.grade_class(
                    course, a, jobs=jobs, timeout=timeout, unsafe=unsafe, log=log,
                    done=lambda student, reason, a=a: release(f"{student}+{a}", reason))
                for key, (_, student, b, _) in list(accepted.items()):
                    if b == a:
                        release(key, failed.get(student))
        finally:
            _give_back(course)
    return {"graded": graded, "refused": refused}


def serve(course, every=5.0, limit=600, jobs=None, timeout=None, unsafe=False,
          before_due="tests", log=print):
    """run_once every `every` seconds, until interrupted."""
    log(f"grading service on {exchange_course(course)}: every {every:g} s, one graded "
        f"submission per student and assignment every {limit} s, before the due date "
        f"{before_due!r} shown (Ctrl-C stops it)")
    while True:
        run_once(course, limit, jobs, timeout, unsafe, before_due, log)
        time.sleep(every)
