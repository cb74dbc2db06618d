"""`make site`: the course site (Sphinx, sphinx-book-theme, myst-nb), built offline from the
executed lectures and checked in a real browser (Chromium) at a desktop and a phone width:
every page loads with no console error, the maths is typeset (no raw TeX left) and fits or
scrolls, every figure is shown with its code folded under it, the navigation is there, the
assignments are linked and downloadable, and no solution is anywhere."""
import html
import json
import os
import re
import shutil
import subprocess
import sys
from itertools import pairwise

import pytest
from browserkit import ROOT, screenshot, serve
from conftest import ASSIGNMENTS, HIDDEN_REGION, SOLUTION_REGION, region_lines

from grader.parts import grade_cells
from website.lectures import LECTURES as TABLE
from website.lectures import number

LECTURES = [ROOT / "notebooks" / f"{name}.ipynb" for name, _ in TABLE]
PAGES = (["index", "source_notes", *(p.stem for p in LECTURES)]
         + [f"assignments/{a}" for a in ASSIGNMENTS])
WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
WAIT = 60_000
RAW_TEX = ("$$", "\\frac", "\\sigma", "\\partial", "\\begin{", "\\(", "\\[")


def _readable(page):
    """A page's text as a reader sees it: no tags, no entities, plain quotes."""
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    return text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "site"
    # as root, built with no network at all (a network namespace of its own): offline
    offline = ["unshare", "--net", "--"] if os.geteuid() == 0 and shutil.which("unshare") else []
    run = subprocess.run([*offline, sys.executable, ROOT / "website" / "build.py", out], cwd=ROOT,
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    # the zips, as `make site` writes them after the pages
    subprocess.run([sys.executable, "-m", "grader", "bundle", out / "downloads"], check=True,
                   cwd=ROOT, capture_output=True)
    return out


def test_each_problem_set_page_links_its_zip(site):
    """Does each problem set's page link its zip, and is the zip there?"""
    for release in sorted((ROOT / "release").iterdir()):
        page = (site / "assignments" / f"{release.name}.html").read_text()
        assert f'href="../downloads/{release.name}.zip"' in page
        assert (site / "downloads" / f"{release.name}.zip").is_file()


@pytest.fixture(scope="module")
def served(site):
    with serve(site) as url:
        yield url


def test_every_page_is_built_and_linked(site):
    for page in PAGES:
        assert (site / f"{page}.html").exists(), f"no page {page}.html"
    index = (site / "index.html").read_text()
    for page in PAGES[1:]:
        assert f'href="{page}.html"' in index, f"the index does not link {page}.html"
    for lecture in LECTURES:
        text = (site / f"{lecture.stem}.html").read_text()
        assert 'href="source_notes.html"' in text, f"{lecture.stem} does not link the source notes"
        assert 'class="prev-next-area' in text, f"{lecture.stem} has no previous/next links"
    assert (site / "searchindex.js").exists() and (site / "search.html").exists()


def test_one_title_scheme_for_all_lectures(site):
    for lecture in LECTURES:
        title = re.search(r"<title>(.*?)</title>", (site / f"{lecture.stem}.html").read_text()).group(1)
        assert re.fullmatch(rf"{number(lecture.stem)}\. [A-Z].* &#8212; Backprop by hand", title), title


def test_lectures_in_the_order_of_the_table(site):
    """Does each lecture's "next" link lead to the next lecture of website/lectures.py?"""
    for lecture, following in pairwise(LECTURES):
        page = (site / f"{lecture.stem}.html").read_text()
        nxt = re.search(r'<a class="right-next"\s+href="([^"]+)"', page)
        assert nxt and nxt.group(1) == f"{following.stem}.html", (lecture.stem, nxt and nxt.group(1))


def test_each_problem_set_page_links_its_lectures(site):
    for a in ASSIGNMENTS:
        page = (site / "assignments" / f"{a}.html").read_text()
        goes_with = re.search(r"It goes with the lectures? (.*?)</p>", page, re.DOTALL)
        assert goes_with, f"{a}'s page does not say which lectures it goes with"
        linked = re.findall(r'href="\.\./(\w+)\.html"', goes_with.group(1))
        assert linked == [name for name, b in TABLE if b == a], f"{a}'s page links {linked}"


def test_nothing_from_the_network(site):
    for page in site.rglob("*.html"):
        for tag in re.findall(r"<(?:script|link|img)\b[^>]*>", page.read_text()):
            assert not re.search(r"(src|href)=\"(https?:)?//", tag), f"{page.name} loads {tag}"


def test_solutions_nowhere(site):
    lectures = "\n".join(p.read_text() for p in LECTURES)  # public: what they teach is no secret
    secrets = {a: {line for line in region_lines(a, SOLUTION_REGION) | region_lines(a, HIDDEN_REGION)
                   if json.dumps(line)[1:-1] not in lectures} for a in ASSIGNMENTS}
    assert all(secrets.values())
    solutions = {p.read_bytes() for p in (ROOT / "solutions").rglob("*.ipynb")}
    texts = []
    for path in site.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".js", ".ipynb", ".py", ".txt", ".zip"):
            data = path.read_bytes()
            assert data not in solutions, f"{path.relative_to(site)} is a solution notebook"
            text = data.decode("utf-8", "replace")  # as a reader sees it: no tags, no entities
            texts.append(_readable(text) if path.suffix == ".html" else text)
    everything = "\n".join(texts)
    for a, lines in secrets.items():
        for line in lines:
            assert line not in everything, f"a line of {a}'s solution is on the site: {line}"
    assert "solution" not in " ".join(p.name.lower() for p in site.rglob("*"))


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_assignment_page_has_its_points_and_files(site, a):
    text = (site / "assignments" / f"{a}.html").read_text()
    cells = grade_cells(ROOT / "source" / a / f"{a}.ipynb")
    total = sum(c.points for c in cells)
    assert f"<strong>{total:g}</strong>" in text, f"the total {total:g} is not on {a}'s page"
    for cell in cells:
        assert cell.grade_id in _readable(text) and cell.part.replace("`", "") in _readable(text)
    links = {name: href for href, name in re.findall(
        r'<a class="reference download internal" download="" href="([^"]+)">'
        r'<code class="xref download docutils literal notranslate"><span class="pre">([^<]+)</span>', text)}
    release = sorted(p.name for p in (ROOT / "release" / a).iterdir() if p.is_file())
    assert sorted(links) == release, f"{a}'s page offers {sorted(links)}"
    for name, href in links.items():
        got = (site / "assignments" / href).resolve().read_bytes()
        assert got == (ROOT / "release" / a / name).read_bytes(), f"{a}/{name} differs from release/"


def _figures(page_name):
    path = ROOT / "notebooks" / f"{page_name}.ipynb"
    if not path.exists():
        return 0
    cells = json.loads(path.read_text())["cells"]
    return sum("image/png" in o.get("data", {}) for c in cells for o in c.get("outputs", []))


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", PAGES)
def test_page_in_the_browser(browser, served, name, width):
    browser.take_problems()
    page = browser.page()
    page.set_viewport_size(WIDTHS[width])
    page.goto(f"{served}/{name}.html")
    page.wait_for_function("() => !document.querySelector('.math.notranslate') || (window.MathJax"
                           " && MathJax.isReady && MathJax.Hub.queue.pending === 0"
                           " && MathJax.Hub.queue.running === 0)", timeout=WAIT)
    assert page.locator(".MathJax_Error, .merror").count() == 0, f"MathJax failed on {name}"
    formulas, untypeset = page.evaluate("""() => {
        const all = [...document.querySelectorAll('.math.notranslate')];  // Sphinx's, not MathJax's
        return [all.length, all.filter(e => !e.querySelector('.MathJax, .MathJax_Display')).length]; }""")
    assert untypeset == 0, f"{untypeset} of {formulas} formulas not typeset on {name}"
    text = page.locator("article").inner_text()
    for raw in RAW_TEX:
        assert raw not in text, f"raw TeX {raw!r} is visible on {name}.html"
    sizes = page.locator("article img").evaluate_all("els => els.map(e => e.complete && e.naturalWidth)")
    assert len(sizes) == _figures(name.split("/")[-1]) and all(sizes), f"figures on {name}: {sizes}"
    # the code of every figure is folded, under its figure
    below = page.locator("div.cell.tag_hide-input").evaluate_all("""cells => cells.map(c => {
        const img = c.querySelector('.cell_output img'), code = c.querySelector('details');
        return !!img && !!code && !code.open &&
               code.getBoundingClientRect().top >= img.getBoundingClientRect().bottom - 1; })""")
    assert len(below) == len(sizes) and all(below), f"figure code not folded under its figure: {below}"
    # nothing wider than the screen: a wide equation scrolls inside its own box
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name} is {overflow}px wider than a {width} screen"
    cut = page.locator("div.math.notranslate").evaluate_all("""els => els.filter(e => e.scrollWidth > e.clientWidth
        && getComputedStyle(e).overflowX !== 'auto').length""")
    assert cut == 0, f"{cut} equations cut off on {name}"
    nav = page.locator(".bd-sidebar-primary a.reference.internal").evaluate_all(
        "els => els.map(e => e.getAttribute('href'))")
    assert len([h for h in nav if h.endswith(".html")]) >= len(PAGES) - 1, nav
    if name != "index":
        assert page.locator(".prev-next-area a").count() >= 1, f"{name} has no previous/next"
    if width == "desktop" and name.startswith("0") and name != "00_notation":
        assert page.locator(".bd-sidebar-secondary .toc-entry a").count() > 2, f"{name} has no contents in the margin"
    screenshot(page, f"site-{width}-{name.replace('/', '-')}")
    page.close()
    problems = browser.take_problems()
    assert not problems, "the browser reported problems:\n" + "\n".join(problems)


def test_search_finds_a_lecture(browser, served):
    browser.take_problems()
    page = browser.page()
    page.goto(f"{served}/search.html?q=sigmoid")
    page.wait_for_selector("#search-results ul.search li a", timeout=WAIT)
    found = page.locator("#search-results ul.search li a").evaluate_all(
        "els => els.map(e => e.getAttribute('href'))")
    assert any(h.startswith("01_perceptron.html") for h in found), found
    page.close()
    problems = browser.take_problems()
    assert not problems, "the browser reported problems:\n" + "\n".join(problems)
