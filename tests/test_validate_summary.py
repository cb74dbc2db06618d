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


def test_summary_counts_the_parts_and_lists_every_one():
    """Four parts, two failing (one in both its cells): the count, every failing part with
    its message in notebook order, and the parts that pass."""
    cells, failed = [], []
    for n, name in enumerate(["sigma", "forward", "gradients", "train"], start=1):
        cells.append(new_markdown_cell(f"## Part {n}: {name} (2 points)"))
        for suffix in ("", "_hidden"):
            grade = {"grade": True, "grade_id": f"test_{name}{suffix}", "points": 1,
                     "solution": False, "locked": True, "schema_version": 3}
            cell = new_code_cell(f"check.{name}({name})", metadata={"nbgrader": grade})
            if name in ("forward", "train"):
                cell.outputs = [new_output("error", ename="AssertionError",
                                           evalue=f"{name}: <wrong> {suffix or 'visible'}",
                                           traceback=[])]
                failed.append(cell)
            cells.append(cell)
    nb = new_notebook(cells=cells)
    answer = validate_worker.summary(nb, failed, _Validator())
    [entry] = answer["failed"]
    assert entry["source"] == "2 of 4 parts fail"
    parts = answer["parts"]
    assert [p["part"] for p in parts["failed"]] == ["Part 2: forward", "Part 4: train"]
    assert parts["failed"][0]["tests"] == ["test_forward", "test_forward_hidden"]
    assert parts["failed"][0]["message"] == \
        "AssertionError: forward: <wrong> visible\nAssertionError: forward: <wrong> _hidden"
    assert parts["passed"] == ["Part 1: sigma", "Part 3: gradients"]
    html = entry["error"]
    assert html.index("Part 2: forward") < html.index("Part 4: train") < html.index("Passing:")
    assert "&lt;wrong&gt;" in html and "<wrong>" not in html  # messages are escaped
    assert "check.forward" not in html
    one = validate_worker.summary(nb, failed[:1], _Validator())
    assert one["failed"][0]["source"] == "1 of 4 parts fails"
