"""Benchmark: plain nbgrader against the course's grader, on the same N submissions.

    python -E -s bench/grading.py --n 8 [--jobs 2] [--assignment ps4_mlp_backprop]

Builds N submissions of the assignment from the zoo (half correct, half untouched), grades
them with plain nbgrader (`nbgrader autograde`, `generate_feedback`, `export`, one student
after the other, no sandbox) and with the course's grader (`python -m grader grade`, in the
sandbox, --jobs at once; once more with every kernel started cold, BP_COLD_KERNELS=1),
checks that plain nbgrader fails closed (every grade cell 0: it cannot be trusted with the
notebook's own kernel) and that the course's grader gives every cell the score the zoo
expects, warm or cold, and prints the times, their ratios, and
each grader's time per submission against the floor: executing the same notebook alone (a
kernel, the notebook's cells, nothing else). One run, one
process: the ratios hold when the machine's speed drifts; absolute seconds do not.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import nbformat
import zoo
from nbclient import NotebookClient

from grader import course as coursedir
from grader import report
from grader.state import state_path

BIN = Path(sys.executable).parent


def build(course, a, n):
    bases = {"source": zoo.read(ROOT / "source" / a / f"{a}.ipynb"),
             "release": zoo.read(course / "release" / a / f"{a}.ipynb")}
    correct = next(k for k in zoo.ZOOS[a] if k.base == "source" and not k.steps)
    untouched = next(k for k in zoo.ZOOS[a] if k.base == "release" and not k.steps)
    students = []
    for i in range(n):
        kind = correct if i % 2 == 0 else untouched
        student = f"s{i:03d}"
        dest = course / "submitted" / student / a
        dest.mkdir(parents=True)
        nbformat.write(kind.build(bases[kind.base]), dest / f"{a}.ipynb")
        students.append(student)
    return students


def timed(cmd, cwd, **env):
    start = time.perf_counter()
    run = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False,
                         env={**os.environ, **env})
    if run.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed:\n{run.stderr[-2000:]}")
    return time.perf_counter() - start


def alone(course, a, students):
    """Seconds to execute each submitted notebook alone, as a student's kernel would."""
    seconds = []
    for student in students:
        nb = nbformat.read(course / "submitted" / student / a / f"{a}.ipynb", as_version=4)
        start = time.perf_counter()
        NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(course / "source" / a)}}).execute()
        seconds.append(time.perf_counter() - start)
    return seconds


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=8)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--assignment", default="ps4_mlp_backprop")
    opts = p.parse_args()
    a, n = opts.assignment, opts.n
    with tempfile.TemporaryDirectory(prefix="bp-bench-") as tmp:
        courses = {}
        for name in ("nbgrader", "grader", "cold"):
            course = coursedir.new_course(Path(tmp) / name, [a])
            coursedir.generate_release(course, a)
            students = build(course, a, n)
            courses[name] = course
        plain = courses["nbgrader"]
        t_plain = sum(timed([BIN / "nbgrader", *args], plain) for args in (
            ["autograde", a, "--force"], ["generate_feedback", a, "--force"],
            ["export", "--to", str(plain / "grades.csv")]))
        ours, cold = courses["grader"], courses["cold"]

        def grade(course, **env):
            return timed([sys.executable, "-E", "-s", "-m", "grader", "grade", a, "--course",
                          str(course), "--jobs", str(opts.jobs)], ROOT, **env)

        t_cold = grade(cold, BP_COLD_KERNELS="1")
        t_ours = grade(ours)
        warm_is_cold = all(report.scores(ours, a, s) == report.scores(cold, a, s)
                           for s in students)
        floor = alone(plain, a, students)
        kinds = {s: next(k for k in zoo.ZOOS[a] if k.base == ("source" if i % 2 == 0
                                                             else "release") and not k.steps)
                 for i, s in enumerate(students)}
        plain_zero = all(v == 0 for s in students
                         for v, _ in report.scores(plain, a, s).values())
        differ = {}
        for s in students:
            got = report.scores(ours, a, s)
            want = zoo.expected_scores(kinds[s], {g: m for g, (_, m) in got.items()})
            if {g: v for g, (v, _) in got.items()} != want:
                differ[s] = (got, want)
        same = not differ
        for s, (got, want) in differ.items():
            print(f"{s}: " + ", ".join(f"{g} {got[g][0]} (expected {want[g]})"
                                       for g in got if got[g][0] != want[g]))
        state = json.loads(state_path(ours, a).read_text())
        per_task = sum(state[s]["seconds"] for s in students) / n
    mean_floor = sum(floor) / n
    print(f"{a}, {n} submissions (half correct, half untouched), --jobs {opts.jobs}")
    print(f"  plain nbgrader (sequential, no sandbox): {t_plain:7.1f} s  "
          f"{t_plain / n:5.2f} s per submission")
    print(f"  python -m grader grade (sandboxed):       {t_ours:7.1f} s  "
          f"{t_ours / n:5.2f} s per submission")
    print(f"  the same, every kernel started cold:      {t_cold:7.1f} s  "
          f"{t_cold / n:5.2f} s per submission")
    print(f"  speed-up against plain nbgrader: {t_plain / t_ours:.2f}x "
          f"(kernels started cold: {t_plain / t_cold:.2f}x)")
    print(f"  notebook alone (the floor): {mean_floor:.2f} s per submission")
    print(f"  one submission in a worker (sandbox, autograde, feedback): {per_task:.2f} s = "
          f"{per_task / mean_floor:.2f}x the floor")
    print(f"  plain nbgrader per submission: {t_plain / n / mean_floor:.2f}x the floor")
    print(f"  plain nbgrader fails closed (every grade cell 0): {plain_zero}")
    print(f"  the grader gives every cell the expected score: {same}")
    print(f"  warm and cold kernels give identical per-cell scores on every cell: {warm_is_cold}")
    return 0 if same and warm_is_cold and plain_zero else 1


if __name__ == "__main__":
    sys.exit(main())
