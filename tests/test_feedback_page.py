"""The feedback page's post-processing (grader/feedback.py, `sanitize`): the index names each
test cell by its part, the first failing cell's message is said at the top, verdicts wrap at
words, and nothing the page's policy blocks is requested (no console error in Chromium)."""
import re

from browserkit import Browser, need_chromium

from grader import feedback

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
