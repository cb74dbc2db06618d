"""Due dates and the late policy (nbgrader_config.py sets both; the grader's configuration
gives nbgrader's AssignLatePenalties this plugin unless nbgrader_config.py names another).

    c.LatePolicy.duedates = {"ps1_perceptron": "2026-10-05 23:59:00 UTC"}
    c.LatePolicy.percent_per_day = 10   # of the score, per started day late
    c.LatePolicy.max_days = 3           # later than this: the score is 0

`make grade` writes each due date into the gradebook (nbgrader's assignment `duedate`), so
nbgrader compares it with the submission's timestamp (timestamp.txt, written by nbgrader's
submit and collect) and asks the policy for the penalty. The feedback says it at the top, and
every export (grader/export.py) shows it.
"""
import math

from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Dict, Float, Integer, Unicode

from grader.errors import GraderError

DAY = 86400


class LatePolicy(LateSubmissionPlugin):
    """`percent_per_day` % of the score off per started day late, for at most `max_days`
    days; later, the whole score."""

    duedates = Dict(value_trait=Unicode(), default_value={},
                    help="{assignment: due date}, e.g. '2026-10-05 23:59:00 UTC' (a date, a "
                    "time and a time zone)").tag(config=True)
    percent_per_day = Float(10.0, help="% of the score taken off per started day late"
                            ).tag(config=True)
    max_days = Integer(3, help="days late after which the score is 0").tag(config=True)

    def penalty(self, score, seconds_late):
        """The points taken off `score` for a submission `seconds_late` after the due date."""
        if not seconds_late or seconds_late <= 0 or not score:
            return 0.0
        days = math.ceil(seconds_late / DAY)
        if days > self.max_days:
            return float(score)
        return float(score) * min(1.0, days * self.percent_per_day / 100)

    def late_submission_penalty(self, student_id, score, total_seconds_late):
        return self.penalty(score, total_seconds_late)


def policy(course):
    """The course's LatePolicy, configured by its nbgrader_config.py."""
    from grader import course as coursedir

    return LatePolicy(config=coursedir.config(course))


def duedate(course, a):
    """The due date of `a` in the course's configuration (a naive UTC datetime), or None."""
    from nbgrader.utils import parse_utc

    text = policy(course).duedates.get(a)
    if not text:
        return None
    try:
        return parse_utc(text)
    except (ValueError, OverflowError) as err:
        raise GraderError(f"The due date of {a} in nbgrader_config.py ({text!r}) is not a "
                          "date; write it like '2026-10-05 23:59:00 UTC'.") from err


def set_duedate(course, a):
    """Write the configured due date of `a` into the course's gradebook (nbgrader's own
    `duedate`); an assignment without one in the configuration keeps the gradebook's."""
    from grader import course as coursedir

    due = duedate(course, a)
    if due is not None:
        with coursedir.gradebook(course) as gb:
            gb.update_or_create_assignment(a, duedate=due)
    return due


def fingerprint(course, a):
    """What a grade depends on besides the notebooks: the due date and the policy."""
    p = policy(course)
    return f"{duedate(course, a)}|{p.percent_per_day}|{p.max_days}".encode()


def _duration(seconds):
    days, rest = divmod(math.ceil(seconds), DAY)
    hours, rest = divmod(rest, 3600)
    minutes = math.ceil(rest / 60) if not days and not hours else rest // 60
    parts = [f"{days} day{'s' * (days != 1)}" if days else "",
             f"{hours} h" if hours else "", f"{minutes} min" if minutes and not days else ""]
    return " ".join(p for p in parts if p) or "less than a minute"


def describe(seconds_late, penalty, due=None):
    """One sentence: how late, and what it cost."""
    when = f" (due {due:%Y-%m-%d %H:%M} UTC)" if due else ""
    if seconds_late <= 0:
        return ""
    days = math.ceil(seconds_late / DAY)
    cost = (f"{penalty:g} point{'s' * (penalty != 1)} taken off by the late policy"
            if penalty else "no points taken off")
    return (f"Submitted {_duration(seconds_late)} after the due date{when}: {days} started "
            f"day{'s' * (days != 1)} late, {cost}.")


def notes(course, a, student):
    """The late sentence for the top of a student's feedback ([] if on time or no due date)."""
    from nbgrader.api import MissingEntry

    from grader import course as coursedir

    with coursedir.gradebook(course) as gb:
        try:
            sub = gb.find_submission(a, student)
        except MissingEntry:
            return []
        line = describe(sub.total_seconds_late, sub.late_submission_penalty or 0.0,
                        sub.duedate)
    return [line] if line else []
