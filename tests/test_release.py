"""release/ and solutions/ are exactly what nbgrader makes of source/, and leak nothing."""
import json
import sqlite3
import subprocess

import nbformat
import pytest
from conftest import ASSIGNMENTS, HIDDEN_REGION, SOLUTION_REGION, grading, notebook
from conftest import region_lines as _region_lines


def _files(folder):
    return {p.relative_to(folder): p for p in folder.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


def _sources(kind, a):
    """All cell sources of a notebook, one string (not the escaped JSON)."""
    nb = nbformat.read(notebook(kind, a), as_version=4)
    return "\n".join(cell.source for cell in nb.cells)


def _lines(text):
    return {ln.strip() for ln in text.splitlines()}


def _without_outputs(path):
    """The notebook without what running it writes: outputs, counts, the kernel's language."""
    nb = json.loads(path.read_text())
    nb["metadata"].pop("language_info", None)
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    return nb


def test_every_assignment_is_configured():
    cfg = grading.config(grading.ROOT)
    expected = ["ps1_perceptron", "ps2_multi_output_perceptron", "ps3_chain_rule",
                "ps4_mlp_backprop", "ps5_himmelblau"]
    assert expected == ASSIGNMENTS
    for a in expected:
        assert a in (grading.ROOT / "nbgrader_config.py").read_text()
    assert cfg.CourseDirectory.solution_directory == "solutions"
    assert cfg.Execute.timeout > 0
    for a in ASSIGNMENTS:
        assert notebook("source", a).exists(), f"source/{a}/{a}.ipynb is missing"


def test_new_gradebooks_record_the_schema_version_alembic_reports(tmp_path):
    """The grader tells nbgrader its gradebook schema version without a subprocess: is it
    the version `alembic heads` reports, and is it what a new gradebook records?"""
    from nbgrader.dbutil import write_alembic_ini

    ini = tmp_path / "alembic.ini"
    write_alembic_ini(str(ini), f"sqlite:///{tmp_path / 'unused.db'}")
    heads = subprocess.run([str(grading.BIN / "alembic"), "-c", str(ini), "heads"], cwd=tmp_path,
                           capture_output=True, text=True, check=True).stdout.split()
    assert heads[0] == grading.alembic_head()
    course = grading.new_course(tmp_path / "course", ASSIGNMENTS[:1])
    grading.generate_release(course, ASSIGNMENTS[0])
    with sqlite3.connect(course / "gradebook.db") as db:
        recorded = db.execute("SELECT version_num FROM alembic_version").fetchall()
    assert recorded == [(heads[0],)]


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_release_is_regenerated_byte_for_byte(a, tmp_path):
    course = grading.new_course(tmp_path, [a])
    fresh, committed = grading.generate_release(course, a), grading.ROOT / "release" / a
    fresh_files, committed_files = _files(fresh), _files(committed)
    assert sorted(fresh_files) == sorted(committed_files), "run `make release` and commit"
    for rel, path in fresh_files.items():
        assert path.read_bytes() == committed_files[rel].read_bytes(), \
            f"release/{a}/{rel} differs from what nbgrader generates: run `make release`"


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_solutions_are_regenerated(a, tmp_path):
    """Same files, same cells and sources; outputs are compared by nbval instead (it runs
    solutions/ anyway), so the regenerated notebooks are not executed here."""
    course = grading.new_course(tmp_path, [a])
    fresh = grading.generate_solutions(course, a, execute=False)
    committed = grading.ROOT / "solutions" / a
    fresh_files, committed_files = _files(fresh), _files(committed)
    assert sorted(fresh_files) == sorted(committed_files), "run `make solutions` and commit"
    for rel, path in fresh_files.items():
        if path.suffix == ".ipynb":
            assert _without_outputs(path) == _without_outputs(committed_files[rel]), \
                f"solutions/{a}/{rel} is out of date: run `make solutions`"
        else:
            assert path.read_bytes() == committed_files[rel].read_bytes()


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_release_leaks_no_solution_no_hidden_test_no_output(a):
    text = _sources("release", a)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS"):
        assert marker not in text, f"release/{a} contains '{marker}'"
    leaked = [ln for ln in _region_lines(a, SOLUTION_REGION) | _region_lines(a, HIDDEN_REGION)
              if ln in _lines(text)]
    assert not leaked, f"release/{a} contains solution or hidden-test code: {leaked[:3]}"
    nb = nbformat.read(notebook("release", a), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, \
                f"release/{a} cell {cell.id} has outputs"


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_solutions_leak_no_hidden_test(a):
    assert "HIDDEN TESTS" not in notebook("solutions", a).read_text()
    text = _sources("solutions", a)
    leaked = [ln for ln in _region_lines(a, HIDDEN_REGION) if ln in _lines(text)]
    assert not leaked, f"solutions/{a} contains hidden-test code: {leaked[:3]}"
    # ... but it does contain the solutions, executed
    assert _region_lines(a, SOLUTION_REGION) <= _lines(text)
    nb = nbformat.read(notebook("solutions", a), as_version=4)
    assert any(cell.get("outputs") for cell in nb.cells if cell.cell_type == "code")
