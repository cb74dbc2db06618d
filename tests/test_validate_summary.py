"""The Validate summary (course_server.validate_worker) names the part and the message of
a failed test, never its source. No kernel runs here: the browser test runs the real thing."""
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from course_server import validate_worker


class _Validator:
    def _extract_error(self, cell):
        return "You did not provide a response."


def _notebook():
    grade = {"grade": True, "grade_id": "test_forward", "points": 1, "solution": False,
             "locked": True, "schema_version": 3}
    test = new_code_cell("import check\nsecret_reference = 42\nassert False",
                         metadata={"nbgrader": grade})
    test.outputs = [new_output("error", ename="AssertionError",
                               evalue="forward(x): \x1b[31mthe bias b is missing\x1b[0m",
                               traceback=["line 1", "secret_reference = 42"])]
    return new_notebook(cells=[new_markdown_cell("## Part 2: the forward pass (2 points)"), test])


def test_part_names_follow_the_headings():
    nb = _notebook()
    assert validate_worker.part_names(nb)[id(nb.cells[1])] == \
        "Part 2: the forward pass (2 points), test_forward"


def test_message_is_the_error_not_the_source():
    cell = _notebook().cells[1]
    text = validate_worker.message(_Validator(), cell)
    assert text == "AssertionError: forward(x): the bias b is missing"
    cell.outputs = [new_output("error", ename="NotImplementedError", evalue="", traceback=[])]
    assert "Not written yet" in validate_worker.message(_Validator(), cell)
    cell.outputs = [new_output("stream", name="stderr", text="UserWarning: careful\n")]
    assert validate_worker.message(_Validator(), cell) == "wrote to stderr: UserWarning: careful"
    cell.outputs = []
    assert validate_worker.message(_Validator(), cell) == "You did not provide a response."
