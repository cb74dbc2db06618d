"""The grader's own nbgrader preprocessors (grader/worker.py), each alone on a tiny notebook."""
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from grader.task import KernelSpec
from grader.worker import Deduplicate, SandboxExecute


def _grade_cell(source, grade_id):
    cell = new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade_id": grade_id, "grade": True, "solution": False,
                                 "locked": True, "points": 1, "schema_version": 3}
    return cell


def test_deduplicate_drops_the_nbgrader_key_of_a_repeated_cell():
    """nbgrader's DeduplicateIds leaves `"nbgrader": {}` on the first copy of a repeated id
    (which crashes OverwriteCells); Deduplicate removes the key, and keeps the last copy."""
    nb = new_notebook(cells=[_grade_cell("assert True", "t"), _grade_cell("assert 1", "t"),
                             _grade_cell("assert 2", "u"), new_code_cell("x = 1")])
    nb, _ = Deduplicate().preprocess(nb, {})
    assert "nbgrader" not in nb.cells[0].metadata
    assert [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells] == \
        [None, "t", "u", None]
    assert [c.source for c in nb.cells] == ["assert True", "assert 1", "assert 2", "x = 1"]


@pytest.fixture
def execute(tmp_path):
    """SandboxExecute configured as the worker configures it, with the unsafe kernel (no
    sandbox: a plain local kernel with rlimits)."""
    from traitlets.config import Config

    channels = tmp_path / "ch"
    channels.mkdir()
    cfg = Config()
    cfg.SandboxExecute.spec = KernelSpec(channels=str(channels), env={"BP_PROBE": "here"})
    cfg.SandboxExecute.unsafe = True
    cfg.SandboxExecute.max_output_chars = 100
    cfg.Execute.timeout = 60
    return SandboxExecute(config=cfg, kernel_name="python3")


def test_sandbox_execute_caps_output_and_survives_a_dead_kernel(execute):
    """A cell that kills the kernel is skipped (an error output says so) and the notebook is
    run again without it; an output over the cap is cut; the spec's environment is set."""
    nb = new_notebook(cells=[
        new_code_cell("import os\nprint(os.environ['BP_PROBE'])"),
        new_code_cell("print('x' * 1000)"),
        new_code_cell("os._exit(1)"),
        new_code_cell("print('after')")])
    ran, _ = execute._run(nb, {}, None)
    outputs = [c.outputs for c in ran.cells]
    assert outputs[0][0].text == "here\n"
    assert outputs[1][0].text == "x" * 100 + "\n... output cut at 100 characters ...\n"
    assert outputs[2][0].ename == "KernelDied" and "DeadKernelError" in outputs[2][0].evalue
    assert outputs[3][0].text == "after\n"
    assert execute.kernel_manager_class.spec == execute.spec  # the kernels get the spec
