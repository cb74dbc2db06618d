"""The command line (grader/__main__.py): each command accepts only its own options, and a
problem the user can fix is one sentence with exit status 1. Fast: nothing is graded."""
import pytest

from grader import __main__ as cli


@pytest.mark.parametrize("argv, wrong", [
    (["release", "--jobs", "2"], "--jobs"),
    (["solutions", "--course", "."], "--course"),
    (["report", "ps1_perceptron", "--force"], "--force"),
    (["export", "ps1_perceptron", "--to", "canvas", "--unsafe"], "--unsafe"),
    (["grade", "ps1_perceptron", "--roster", "r.csv"], "--roster"),
    (["serve", "--scheduler", "tcp://h:8786"], "--scheduler"),
    (["bundle", "out", "--timeout", "3"], "--timeout"),
])
def test_a_command_refuses_another_commands_option(argv, wrong, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert f"python -m grader {argv[0]}: error: unrecognized arguments: {wrong}" in err
    assert f"usage: python -m grader {argv[0]}" in err


@pytest.mark.parametrize("argv", [
    ["grade", "ps1_perceptron", "--jobs", "2", "--force", "--unsafe", "--timeout", "9",
     "--scheduler", "tcp://h:8786", "--course", "c"],
    ["serve", "--every", "0.5", "--limit", "60", "--before-due", "nothing", "--jobs", "2",
     "--timeout", "9", "--unsafe", "--course", "c"],
    ["export", "ps1_perceptron", "ps2_multi_output_perceptron", "--to", "moodle", "--roster",
     "r.csv", "--out", "o.csv", "--course", "c"],
    ["report", "ps1_perceptron", "--course", "c"],
    ["release", "ps1_perceptron"], ["solutions"], ["bundle", "out"],
])
def test_every_command_takes_its_own_options(argv):
    p, _ = cli.parser()
    opts, extra = p.parse_known_args(argv)
    assert extra == [] and opts.command == argv[0]


def test_a_problem_is_one_sentence_and_status_1(tmp_path, capsys):
    assert cli.main(["export", "ps1_perceptron", "--to", "canvas",
                     "--course", str(tmp_path)]) == 1
    assert capsys.readouterr().err == \
        f"No gradebook.db in {tmp_path}: grade first (make grade A=...).\n"


def test_a_report_of_an_ungraded_assignment_is_one_sentence(tmp_path, capsys):
    """Does `report` on an assignment the gradebook does not know say so, with no
    traceback and no report folder?"""
    from grader import course

    root = course.new_course(tmp_path / "c", ["ps1_perceptron"])
    assert cli.main(["report", "ps1_perceptron", "--course", str(root)]) == 1
    assert capsys.readouterr().err == (
        f"ps1_perceptron has not been graded in {root}: grade it first "
        "(make grade A=ps1_perceptron), then ask for its report.\n")
    assert not (root / "report").exists()
