"""The instructor's command line: `python -m grader COMMAND ...` (the Makefile calls it).

    release [A ...]       regenerate release/ from source/
    solutions [A ...]     regenerate solutions/ (executed, no hidden tests)
    grade A [--jobs N] [--force] [--scheduler tcp://host:8786] [--unsafe] [--timeout S]
            [--course DIR]
                          autograde every submission of A in the sandbox, in parallel;
                          feedback, grades.csv and report/A/
    report A [--course DIR]   rebuild report/A/ from the gradebook
    bundle DEST           DEST/<assignment>.zip: each release notebook and its helper files
    export A [A ...] --to canvas|moodle|parts [--roster FILE] [--out FILE] [--course DIR]
                          grades for an LMS (see grader/export.py), in exports/
    serve [--every S] [--limit S] [--before-due tests|nothing|everything] [--jobs N]
          [--timeout S] [--unsafe] [--course DIR]
                          grade what students submit, and release the feedback, as it comes
                          (see grader/service.py); Ctrl-C stops it

Each command accepts only its own options (`python -m grader COMMAND --help` lists them).
"""
import argparse
import sys

from grader import bundle, classgrade, course, export, report, service
from grader.errors import GraderError
from grader.state import load_state


def _course(p):
    p.add_argument("--course", default=str(course.ROOT), help="the course folder")


def _grading(p):
    """The options of the commands that grade (grade, serve)."""
    p.add_argument("--jobs", type=int, default=None, help="students graded at once "
                   "(default: the number of cores)")
    p.add_argument("--timeout", type=int, default=None, help="seconds per cell")
    p.add_argument("--unsafe", action="store_true", help="grade without the sandbox "
                   "(only for work you trust; said in the report)")


def parser():
    """The command line: one subparser per command, each with only its own options."""
    p = argparse.ArgumentParser(prog="python -m grader", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, what in (("release", "regenerate release/ from source/"),
                       ("solutions", "regenerate solutions/ (executed, no hidden tests)")):
        c = commands.add_parser(name, help=what)
        c.add_argument("assignments", nargs="*", metavar="A",
                       help="assignments (default: every one)")
    c = commands.add_parser("grade", help="autograde every submission of A in the sandbox")
    c.add_argument("assignments", nargs="*", metavar="A", help="the assignment")
    _course(c)
    _grading(c)
    c.add_argument("--force", action="store_true", help="regrade unchanged submissions too")
    c.add_argument("--scheduler", default=None, help="a Dask scheduler (tcp://host:8786) "
                   "to grade on instead of this machine")
    c = commands.add_parser("report", help="rebuild report/A/ from the gradebook")
    c.add_argument("assignments", nargs="*", metavar="A", help="the assignment")
    _course(c)
    c = commands.add_parser("bundle", help="DEST/<assignment>.zip for every assignment")
    c.add_argument("assignments", nargs="*", metavar="DEST", help="the folder of the zips")
    c = commands.add_parser("export", help="grades for an LMS, in exports/")
    c.add_argument("assignments", nargs="*", metavar="A", help="the assignments")
    _course(c)
    c.add_argument("--to", choices=export.FORMATS, default=None, help="the format")
    c.add_argument("--roster", default=None, help="the roster CSV (default: "
                   "roster.csv of the course, if it exists)")
    c.add_argument("--out", default=None, help="the file to write (default: "
                   "exports/<format>-<assignments>.csv)")
    c = commands.add_parser("serve", help="grade submissions from the exchange as they come")
    c.set_defaults(assignments=[])
    _course(c)
    _grading(c)
    c.add_argument("--every", type=float, default=5.0, help="seconds between looks "
                   "at the exchange")
    c.add_argument("--limit", type=int, default=600, help="seconds between two graded "
                   "submissions of a student and assignment")
    c.add_argument("--before-due", choices=service.BEFORE_DUE, default="tests",
                   help="what a student sees before the due date")
    return p, commands.choices


def main(argv=None):
    p, commands = parser()
    opts, extra = p.parse_known_args(argv)
    if extra:  # said by the command's own parser, with its usage
        commands[opts.command].error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return run(opts, commands[opts.command])
    except GraderError as err:
        print(err, file=sys.stderr)
        return 1


def run(opts, p):
    """Run the command `opts` says; `p` is its parser (for usage errors)."""
    unknown = [a for a in opts.assignments if a not in course.ASSIGNMENTS]
    if unknown and opts.command in ("release", "solutions"):
        p.error(f"no assignment {', '.join(unknown)} in source/; choose from "
                + ", ".join(course.ASSIGNMENTS))
    if opts.command in ("release", "solutions"):
        course.publish(opts.command, opts.assignments or course.ASSIGNMENTS)
        return 0
    if opts.command == "bundle":
        if len(opts.assignments) != 1:
            p.error("bundle takes one folder, e.g. `bundle _build/site/downloads`")
        bundle.bundle(opts.assignments[0])
        return 0
    if opts.command == "serve":
        try:
            service.serve(opts.course, every=opts.every, limit=opts.limit, jobs=opts.jobs,
                          timeout=opts.timeout, unsafe=opts.unsafe, before_due=opts.before_due)
        except KeyboardInterrupt:
            print("grading service stopped; every submission handled so far is recorded.")
        return 0
    if opts.command == "export":
        if not opts.assignments or not opts.to:
            p.error("export takes assignments and a format, e.g. `export ps1_perceptron "
                    "--to canvas`")
        export.export(opts.course, opts.assignments, opts.to, roster=opts.roster,
                      dest=opts.out)
        return 0
    if len(opts.assignments) != 1:
        p.error(f"{opts.command} takes one assignment, e.g. `{opts.command} ps1_perceptron`")
    (a,) = opts.assignments
    if opts.command == "report":
        print(report.write(opts.course, a, load_state(opts.course, a)))
        return 0
    with course.grading_lock(opts.course):  # the grading service may be grading this course
        failed = classgrade.grade_class(opts.course, a, jobs=opts.jobs, force=opts.force,
                                        scheduler=opts.scheduler, timeout=opts.timeout,
                                        unsafe=opts.unsafe)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
