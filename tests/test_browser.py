"""What a student and an instructor do in JupyterLab, in a real browser (Chromium).

One scratch copy of the course, one JupyterLab server (with the course's server
extension) and one Chromium for the module. Every console error, page error,
failed request and HTTP error answer fails the test it happens in. Screenshots
go to test-artifacts/ (git-ignored).
"""
import itertools
import json
import platform
import threading
import time

import pytest
from browserkit import TOKEN, Browser, Lab, copy_course, need_chromium, screenshot

A = "ps1_perceptron"
NOTEBOOK = f"release/{A}/{A}.ipynb"
SIGMOID = '''def sigmoid(z):
    """sigma(z) = 1 / (1 + exp(-z)), elementwise."""
    return 1 / (1 + torch.exp(-z))


def sigmoid_prime(z):
    """The derivative of sigmoid at z, elementwise."""
    s = sigmoid(z)
    return s * (1 - s)
'''
WAIT = 120_000  # ms: a cold kernel importing torch on a busy 2-core machine


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    need_chromium()
    tmp = tmp_path_factory.mktemp("browser")
    course = copy_course(tmp / "course")
    exchange = tmp / "exchange"
    with (course / "nbgrader_config.py").open("a") as cfg:
        cfg.write(f"\n# scratch course of tests/test_browser.py\nc.Exchange.root = {str(exchange)!r}\n")
    return course, exchange, tmp


@pytest.fixture(scope="module")
def lab(course):
    from grader import course as grading

    server = Lab(course[0], course[2] / "state", wait=False)
    try:
        result = grading.api(course[0]).release_assignment(A)  # while the server starts
        assert result["success"], result.get("error")
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(lab):
    b = Browser()
    yield b
    b.close()


@pytest.fixture(autouse=True)
def no_browser_problems(browser):
    browser.take_problems()
    yield
    problems = browser.take_problems()
    assert not problems, "the browser reported problems:\n" + "\n".join(problems)


WORKSPACES = itertools.count()


def fresh_workspace():
    """A new JupyterLab workspace name: no tabs left open by an earlier test."""
    return f"test{next(WORKSPACES)}"


def open_in_lab(browser, lab, path):
    page = browser.page()
    page.goto(f"{lab.url}/lab/workspaces/{fresh_workspace()}/tree/{path}?token={TOKEN}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=WAIT)
    return page


def wait_idle(page):
    """Until the kernel has started and runs nothing (the status bar says so)."""
    page.locator(".jp-StatusBar-Widget", has_text="| Idle").first.wait_for(timeout=WAIT)
    page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=WAIT)


def code_cell(page, source):
    """The code cell whose source (not its output) contains `source`."""
    editor = page.locator(".jp-InputArea-editor", has_text=source)
    return page.locator(".jp-CodeCell").filter(has=editor)


def menu(page, top, command):
    """Open menu `top` of the menu bar and click the item that runs `command`."""
    page.locator(".lm-MenuBar-itemLabel", has_text=top).first.click()
    page.locator(f'.lm-Menu-item[data-command="{command}"]').first.click()


class StatusProbe(threading.Thread):
    """Times GET /api/status over and over until stopped."""

    def __init__(self, lab):
        super().__init__(daemon=True)
        self.lab, self.times, self.stop = lab, [], threading.Event()

    def run(self):
        while not self.stop.is_set():
            start = time.monotonic()
            self.lab.get("/api/status", timeout=120)
            self.times.append(time.monotonic() - start)
            time.sleep(0.1)


def test_student_runs_types_a_part_and_validates(browser, lab):
    page = open_in_lab(browser, lab, NOTEBOOK)
    wait_idle(page)
    page.wait_for_timeout(1000)  # the kernel's language info has arrived
    tab = page.locator(".lm-TabBar-tab", has_text=f"{A}.ipynb")
    stored = json.loads((lab.root / NOTEBOOK).read_text())["metadata"]["language_info"]["version"]
    if stored == platform.python_version():  # JupyterLab writes the kernel's version in
        assert "jp-mod-dirty" not in tab.get_attribute("class"), \
            "the release notebook opens marked as modified (its metadata differs from the kernel's)"
    else:
        print(f"\nnot checked: the release notebooks record Python {stored}, this is "
              f"{platform.python_version()}, so JupyterLab marks them modified")

    menu(page, "Run", "runmenu:run-all")
    test_cell = code_cell(page, "check.sigmoid(sigmoid)")
    test_cell.locator(".jp-OutputArea-output", has_text="not done yet").wait_for(timeout=WAIT)
    wait_idle(page)

    part = code_cell(page, "def sigmoid(z):")
    part.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(SIGMOID)
    page.keyboard.press("Shift+Enter")  # run the part, move to its test
    page.keyboard.press("Shift+Enter")  # run the test
    test_cell.locator(".jp-OutputArea-output", has_text="Part 1: sigmoid_prime matches"
                      ).wait_for(timeout=WAIT)
    wait_idle(page)
    screenshot(page, "student-part1-passes")

    probe = StatusProbe(lab)
    start = time.monotonic()
    with page.expect_response(lambda r: "assignments/validate" in r.url, timeout=WAIT * 2) as answer:
        page.locator(".jp-Toolbar-item", has_text="Validate").locator("button").click()
        probe.start()
    validation = time.monotonic() - start
    probe.stop.set()
    probe.join()
    assert answer.value.ok
    slowest = max(probe.times)
    print(f"\nValidate took {validation:.1f} s; {len(probe.times)} status requests meanwhile, "
          f"the slowest {slowest:.3f} s (ratio {slowest / validation:.3f})")
    assert len(probe.times) >= 3 and slowest < validation / 4, \
        "the server did not answer while Validate ran: Validate blocks the server"

    summary = page.locator("#validation-message")
    summary.wait_for(timeout=WAIT)
    text = summary.inner_text()
    screenshot(page, "student-validate-summary")
    assert "3 of 4 parts fail" in text and "The following cell failed" not in text, text
    fails, passes = text.split("Passing:")
    for failing in ("Part 2", "Part 3", "Part 4"):
        assert failing in fails, f"{failing} is not in the Validate summary:\n{text}"
    assert "Part 1" not in fails and "Part 1" in passes, f"Part 1 passes:\n{text}"
    assert "not done yet" in text
    listing = page.locator("#validation-message .bp-parts")
    assert listing.evaluate("e => getComputedStyle(e).overflowY") == "auto"
    box = listing.bounding_box()
    assert box["y"] + box["height"] <= page.viewport_size["height"], "the list leaves the screen"
    assert "check.forward(forward)" not in text and "def " not in text, \
        f"the Validate summary shows whole cell sources:\n{text}"
    page.keyboard.press("Escape")
    page.close()


def test_assignment_list_fetch_and_submit(browser, lab, course):
    exchange = course[1]
    page = browser.page()
    page.goto(f"{lab.url}/lab/workspaces/{fresh_workspace()}?token={TOKEN}")
    page.wait_for_selector(".lm-MenuBar-itemLabel", timeout=WAIT)
    menu(page, "Nbgrader", "nbgrader:open-assignment-list")
    released = page.locator("#released_assignments_list")
    released.get_by_text(A).first.wait_for(timeout=WAIT)
    released.locator("button", has_text="Fetch").click()
    fetched = page.locator("#fetched_assignments_list")
    fetched.get_by_text(A).first.wait_for(timeout=WAIT)
    fetched.locator("button", has_text="Submit").click()
    submitted = page.locator("#submitted_assignments_list")
    submitted.get_by_text(A).first.wait_for(timeout=WAIT)
    screenshot(page, "student-assignment-list")
    inbound = list((exchange / "backprop-by-hand" / "inbound").iterdir())
    assert len(inbound) == 1 and A in inbound[0].name, inbound
    assert (inbound[0] / f"{A}.ipynb").exists()
    page.close()


def test_formgrader_lists_assignments_and_submissions(browser, lab, course):
    page = browser.page()
    page.goto(f"{lab.url}/formgrader?token={TOKEN}")
    for a in ("ps1_perceptron", "ps2_multi_output_perceptron", "ps3_chain_rule",
              "ps4_mlp_backprop"):
        page.locator("#main-table").get_by_text(a, exact=True).wait_for(timeout=WAIT)
    page.locator("#main-table tr", has_text=A).first.locator("td.collect a").click()
    page.locator(".modal-dialog", has_text="collected").wait_for(timeout=WAIT)
    screenshot(page, "instructor-formgrader-collected")
    page.reload()
    submissions = page.locator("#main-table tr", has_text=A).first.locator("td.num-submissions")
    assert submissions.inner_text().strip() == "1"
    page.goto(f"{lab.url}/formgrader/manage_submissions/{A}")
    page.locator("#main-table").get_by_text("root", exact=False).first.wait_for(timeout=WAIT)
    screenshot(page, "instructor-formgrader-submissions")
    assert (course[0] / "submitted").exists()
    page.close()


def test_lecture_shows_maths_and_figures(browser, lab):
    page = open_in_lab(browser, lab, "notebooks/01_perceptron.ipynb")
    page.locator(".jp-RenderedMarkdown mjx-container").first.wait_for(timeout=WAIT)
    page.wait_for_timeout(1000)
    text = " ".join(page.locator(".jp-RenderedMarkdown").all_inner_texts())
    assert "$$" not in text and "\\frac" not in text, "raw TeX is visible in the lecture"
    page.locator(".jp-RenderedImage img").first.wait_for(timeout=WAIT)
    sizes = page.locator(".jp-RenderedImage img").evaluate_all(
        "els => els.map(e => e.complete && e.naturalWidth)")
    with open(lab.root / "notebooks" / "01_perceptron.ipynb") as f:
        expected = sum("image/png" in o.get("data", {}) for c in json.load(f)["cells"]
                       for o in c.get("outputs", []))
    assert len(sizes) >= expected and all(sizes), f"figures not shown: {sizes}"
    screenshot(page, "lecture-01-perceptron")
    page.close()

