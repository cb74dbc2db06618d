"""The instructor's command line: `python -m grader COMMAND ...` (the Makefile calls it).

    release [A ...]       regenerate release/ from source/
    solutions [A ...]     regenerate solutions/ (executed, no hidden tests)
    grade A [--jobs N] [--force] [--scheduler tcp://host:8786] [--unsafe] [--course DIR]
                          autograde every submission of A in the sandbox, in parallel;
                          feedback, grades.csv and report/A/
    report A [--course DIR]   rebuild report/A/ from the gradebook
    bundle DEST           DEST/<assignment>.zip: each release notebook and its helper files
    export A [A ...] --to canvas|moodle|parts [--roster FILE] [--out FILE] [--course DIR]
                          grades for an LMS (see grader/export.py), in exports/
    serve [--every S] [--limit S] [--before-due tests|nothing|everything] [--course DIR]
                          grade what students submit, and release the feedback, as it comes
                          (see grader/service.py); Ctrl-C stops it
"""
import argparse
import sys

from grader import bundle, classgrade, course, export, report, service


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m grader", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["release", "solutions", "grade", "report", "bundle",
                                        "export", "serve"])
    p.add_argument("assignments", nargs="*")
    p.add_argument("--course", default=str(course.ROOT), help="the course folder")
    p.add_argument("--jobs", type=int, default=None, help="students graded at once "
                   "(default: the number of cores)")
    p.add_argument("--force", action="store_true", help="regrade unchanged submissions too")
    p.add_argument("--scheduler", default=None, help="a Dask scheduler (tcp://host:8786) "
                   "to grade on instead of this machine")
    p.add_argument("--timeout", type=int, default=None, help="seconds per cell")
    p.add_argument("--unsafe", action="store_true", help="grade without the sandbox "
                   "(only for work you trust; said in the report)")
    p.add_argument("--to", choices=export.FORMATS, default=None, help="export: the format")
    p.add_argument("--roster", default=None, help="export: the roster CSV (default: "
                   "roster.csv of the course, if it exists)")
    p.add_argument("--out", default=None, help="export: the file to write (default: "
                   "exports/<format>-<assignments>.csv)")
    p.add_argument("--every", type=float, default=5.0, help="serve: seconds between looks "
                   "at the exchange")
    p.add_argument("--limit", type=int, default=600, help="serve: seconds between two graded "
                   "submissions of a student and assignment")
    p.add_argument("--before-due", choices=service.BEFORE_DUE, default="tests",
                   help="serve: what a student sees before the due date")
    opts = p.parse_args(argv)
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
        print(report.write(opts.course, a, classgrade.load_state(opts.course, a)))
        return 0
    with course.grading_lock(opts.course):  # the grading service may be grading this course
        failed = classgrade.grade_class(opts.course, a, jobs=opts.jobs, force=opts.force,
                                        scheduler=opts.scheduler, timeout=opts.timeout,
                                        unsafe=opts.unsafe)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
