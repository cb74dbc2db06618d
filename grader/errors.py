"""The grader's exceptions: a problem the user can fix, said in one sentence.

The command line (grader/__main__.py) prints the sentence and exits with status 1; the
library never ends the process itself.
"""


class GraderError(Exception):
    """A problem that stops a command; str(err) is one sentence naming it and what to do."""


class GradingRefused(GraderError):
    """Grading was refused before anything was graded (e.g. the sandbox cannot run here)."""
