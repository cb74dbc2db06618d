"""The feedback page's post-processing (grader/feedback.py, `sanitize`): the index names each
test cell by its part, the first failing cell's message is said at the top, verdicts wrap at
words, the maths is typeset (MathML, no script), and nothing the page's policy blocks is
requested (no console error in Chromium): opened as a file, served by a Jupyter server, and in
JupyterLab's HTML viewer, where "view feedback" leads."""
import re
import urllib.parse
from pathlib import Path

import nbformat
from browserkit import TOKEN, Browser, Lab, need_chromium, screenshot

from grader import feedback

ROOT = Path(__file__).resolve().parent.parent
A = "ps1_perceptron"
# where nbgrader's fetch_feedback puts a student's feedback: <assignment>/feedback/<timestamp>/
FETCHED = f"{A}/feedback/2026-12-07 22:00:00.000000 UTC/{A}.html"

# the shape of nbgrader 0.9.6's feedback page (its template), cut down to two parts
PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>x</title>
<style>@font-face{font-family:'Glyphicons Halflings';src:url(../fonts/glyphicons-halflings-regular.eot);
src:url(../fonts/glyphicons-halflings-regular.woff2) format('woff2')}
.glyphicon{font-family:'Glyphicons Halflings'}</style>
<style>@font-face{font-family:Embedded;src:url(data:font/woff2;base64,AAAA) format('woff2')}</style>
</head><body><a name="top"></a><div class="panel-heading"><h4>ps1 (Score: 1.0 / 3.0)</h4>
<div id="toc"><ol>
<li><a href="#test_sigmoid">Test cell</a> (Score: 1.0 / 1.0)</li>
<li><a href="#test_forward">Test cell</a> (Score: 0.0 / 1.0)</li>
<li><a href="#test_forward_hidden">Test cell</a> (Score: 0.0 / 1.0)</li>
</ol></div></div>
<h2 id="p1">Part 1: σ &amp; σ′ (1 point)<a class="anchor-link" href="#p1">¶</a></h2>
<div class="cell"><a name="test_sigmoid"></a><span class="pull-right">Score: 1.0 / 1.0</span>
<div class="output_subarea output_stream"><pre>Part 1: sigmoid matches</pre></div></div>
<h2 id="p2">Part 2: the forward pass (2 points)</h2>
<div class="cell"><a name="test_forward"></a><span class="pull-right">Score: 0.0 / 1.0</span>
<div class="output_subarea output_text output_error"><pre>Failed: forward (B=1): wrong values.
Most likely: the bias b is missing.</pre></div></div>
<div class="cell"><a name="test_forward_hidden"></a><span class="pull-right">Score: 0.0 / 1.0</span>
<div class="output_subarea output_text output_error"><pre>Failed: hidden forward</pre></div></div>
</body></html>"""


def test_the_index_names_each_test_cell_by_its_part():
    page = feedback.sanitize(PAGE, "feedback")
    index = re.findall(r'<li><a href="#(\w+)">(.*?)</a>', page)
    assert index == [("test_sigmoid", "Part 1: σ &amp; σ′, test_sigmoid"),
                     ("test_forward", "Part 2: the forward pass, test_forward"),
                     ("test_forward_hidden", "Part 2: the forward pass, test_forward_hidden")]


def test_each_line_of_the_index_says_its_verdict_in_a_few_words():
    """Does each test cell's line in the index say "passes", or the named mistake, or the
    first sentence of its message, without the tolerance detail?"""
    page = feedback.sanitize(PAGE, "feedback")
    said = dict(re.findall(r'<li><a href="#(\w+)">.*?</a> \(Score: [\d.]+ / [\d.]+\): '
                           r'<span class="bp-status">(.*?)</span>', page))
    assert said == {"test_sigmoid": "passes", "test_forward": "the bias b is missing.",
                    "test_forward_hidden": "hidden forward"}
    long = PAGE.replace("Failed: hidden forward", "Failed: " + "word " * 40)
    line = re.search(r'href="#test_forward_hidden">.*?<span class="bp-status">(.*?)</span>',
                     feedback.sanitize(long, "feedback")).group(1)
    assert line.endswith("word \u2026") and len(line) <= 112


def test_the_first_failing_part_is_said_first():
    page = feedback.sanitize(PAGE, "feedback")
    first = re.search(r'<p class="bp-first">(.*?)</p>', page, re.DOTALL).group(1)
    assert "Part 2: the forward pass, test_forward:" in first
    assert "Most likely: the bias b is missing." in first and "hidden forward" not in first
    assert page.index('class="bp-first"') < page.index('<h2 id="p1"')
    passing = PAGE.replace("Score: 0.0 / 1.0", "Score: 1.0 / 1.0")
    assert "bp-first" not in feedback.sanitize(passing, "feedback").split("</style>")[-1]


def test_only_fonts_the_policy_allows_and_words_wrap():
    page = feedback.sanitize(PAGE, "feedback")
    assert "glyphicons" not in page and "url(data:font/woff2" in page
    assert re.search(r"\.output_error pre[^{]*\{[^}]*white-space:pre-wrap[^}]*word-break:normal", page)


def test_no_console_error_in_chromium(tmp_path):
    need_chromium()
    (tmp_path / "fonts").mkdir()
    path = tmp_path / "feedback" / "page.html"
    path.parent.mkdir()
    path.write_text(feedback.sanitize(PAGE.replace('class="panel-heading"',
                                                   'class="panel-heading glyphicon"'), "feedback"))
    browser = Browser()
    try:
        page = browser.page()
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        page.wait_for_timeout(300)
        assert "Fix first" in page.locator("body").inner_text()
        assert browser.take_problems() == []
    finally:
        browser.close()


MATHS = r"""<body><div class="text_cell_render rendered_html"><p>outputs $O = \sigma(z)$ with
$z = xW + b$ and a &lt; b as $a &lt; b$, for $5 and $10, $ not maths $</p>
<p>$$E = \tfrac12 \sum_{s=1}^{B} (O_s - t_s)^2$$</p>
<p>$\notacommand{x}$ and $$\href{javascript:alert(1)}{x} \text{&lt;script&gt;alert(2)&lt;/script&gt;}$$</p>
<pre>print("$O$")</pre> <code>$x$</code></div></body>"""


def test_the_maths_becomes_mathml():
    page = feedback.sanitize(MATHS, "feedback")
    body = page.split("<body>", 1)[1]
    assert body.count('<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline">') == 3
    assert body.count('display="block"') == 2
    assert "<mi>σ</mi>" in body and "<mo>&lt;</mo>" in body and "<munderover>" in body
    assert "$5 and $10, $ not maths $" in body  # prices stay text
    assert '<pre>print("$O$")</pre>' in body and "<code>$x$</code>" in body  # code as typed
    assert "$\\notacommand{x}$" in body  # TeX the converter does not know stays as written
    assert "javascript" not in body and "<script" not in body.lower() and "href=\"j" not in body
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in body  # \text{...} is text, escaped
    assert "script-src 'none'" in page  # still no script at all


def real_page(tmp_path, rel=FETCHED):
    """The feedback of a real notebook (ps1's release: its markdown rendered by nbconvert as
    nbgrader does), written at `tmp_path / rel`; its number of formulas."""
    from nbconvert import HTMLExporter

    nb = nbformat.read(ROOT / "release" / A / f"{A}.ipynb", as_version=4)
    html, _ = HTMLExporter(template_name="classic").from_notebook_node(nb)
    tex = sum(len(re.findall(r"\$\$.+?\$\$|\$[^$\s][^$]*?\$", c.source, re.DOTALL))
              for c in nb.cells if c.cell_type == "markdown")
    page = feedback.sanitize(html, f"{A}: feedback")
    path = tmp_path / rel
    path.parent.mkdir(parents=True)
    path.write_text(page, encoding="utf-8")
    assert tex > 5 and page.count("<math ") == tex
    return path, tex


TYPESET = """() => {
    const text = document.body.innerText;
    const maths = [...document.querySelectorAll('math')];
    // typeset, not shown as a line of text: a fraction's numerator sits above its denominator
    const fractions = [...document.querySelectorAll('mfrac')].map(f => {
        const [num, den] = [...f.children].map(c => c.getBoundingClientRect());
        return num.bottom <= den.top + 1 && num.height > 0; });
    return {tex: (text.match(/\\$[^$\\n]+\\$|\\\\[a-zA-Z]+/g) || []).slice(0, 5),
            maths: maths.length, drawn: maths.filter(m => m.getBoundingClientRect().width > 0).length,
            fractions: fractions.length, stacked: fractions.filter(Boolean).length}; }"""


def check_typeset(where, tex):
    found = where.evaluate(TYPESET)
    assert found["tex"] == [], f"raw TeX shown: {found['tex']}"
    assert found["maths"] == found["drawn"] == tex, found
    assert found["fractions"] > 0 and found["stacked"] == found["fractions"], found


def test_maths_typeset_as_a_file(tmp_path, browser):
    path, tex = real_page(tmp_path)
    page = browser.page()
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    check_typeset(page, tex)
    page.locator("math[display=block]").first.scroll_into_view_if_needed()
    screenshot(page, "feedback-maths-file")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: long formulas scroll
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    screenshot(page, "feedback-maths-phone")
    page.close()
    assert browser.take_problems() == []


def test_maths_typeset_served_and_in_jupyterlab(tmp_path, browser):
    """Served by jupyter_server (/files/: its policy adds `sandbox allow-scripts`), and in
    JupyterLab's HTML viewer (an untrusted file: an iframe that runs no script at all)."""
    tex = real_page(tmp_path / "home")[1]
    lab = Lab(tmp_path / "home", tmp_path / "state")
    try:
        url = urllib.parse.quote(FETCHED)
        page = browser.page()
        answer = page.goto(f"{lab.url}/files/{url}?token={TOKEN}")
        assert "sandbox allow-scripts" in answer.headers["content-security-policy"]
        check_typeset(page, tex)
        page.close()
        page = browser.page()
        page.goto(f"{lab.url}/lab/workspaces/feedback/tree/{url}?token={TOKEN}")
        frame = page.wait_for_selector(".jp-HTMLViewer iframe", timeout=60_000)
        assert "allow-scripts" not in (frame.get_attribute("sandbox") or "")
        inner = frame.content_frame()
        inner.wait_for_selector("math", state="attached", timeout=60_000)
        check_typeset(inner, tex)
        screenshot(page, "feedback-maths-jupyterlab")
        page.close()
        assert browser.take_problems() == []
    finally:
        lab.stop()
