"""`make site`: the lecture website, built from the executed lectures and checked in a
real browser (Chromium): every page loads without errors, the maths is typeset (no raw
TeX left), every figure is shown, the assignments are linked and the solutions are not."""
import functools
import json
import re
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from browserkit import ROOT, Browser, need_chromium, screenshot

LECTURES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
WAIT = 60_000


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "site"
    subprocess.run([sys.executable, ROOT / "website" / "build.py", out], check=True,
                   cwd=ROOT, capture_output=True)
    subprocess.run([sys.executable, "-m", "grader", "bundle", out / "downloads"], check=True,
                   cwd=ROOT, capture_output=True)  # as `make site`
    return out


@pytest.fixture(scope="module")
def served(site):
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=site))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    need_chromium()
    b = Browser()
    yield b
    b.close()


def test_site_has_a_page_per_lecture_and_no_solutions(site):
    for nb in LECTURES:
        assert (site / f"{nb.stem}.html").exists(), f"no page for {nb.name}"
    index = (site / "index.html").read_text()
    for nb in LECTURES:
        assert f'href="{nb.stem}.html"' in index
    for release in sorted((ROOT / "release").iterdir()):
        assert f"assignments/{release.name}/{release.name}.ipynb" in index
        assert f'href="downloads/{release.name}.zip"' in index
        assert (site / "downloads" / f"{release.name}.zip").is_file()
    assert "solutions" not in index
    for page, ident in re.findall(r'href="([^"#]+\.html)#([^"]+)"', index):
        assert f'id="{ident}"' in (site / page).read_text(), f"broken link {page}#{ident}"
    built = {p.name for p in site.rglob("*")}
    for solution in (ROOT / "solutions").rglob("*.ipynb"):
        copied = site / "assignments" / solution.parent.name / solution.name
        assert copied.read_bytes() != solution.read_bytes(), "a solution was published"
    assert "gradebook.db" not in built
    for page in site.glob("*.html"):
        assert "https://" not in "".join(
            line for line in page.read_text().splitlines() if "<script src=" in line), \
            f"{page.name} loads a script from the internet"


def _wait_for_mathjax(page):
    page.wait_for_function(
        "() => window.MathJax && MathJax.isReady && MathJax.Hub.queue.pending === 0"
        " && MathJax.Hub.queue.running === 0", timeout=WAIT)


@pytest.mark.parametrize("lecture", LECTURES, ids=lambda p: p.stem)
def test_lecture_page_in_the_browser(browser, served, lecture):
    browser.take_problems()
    page = browser.page()
    page.goto(f"{served}/{lecture.stem}.html")
    _wait_for_mathjax(page)
    typeset = page.locator(".MathJax").count()
    formulas = page.locator('script[type^="math/tex"]').count()
    assert typeset > 0 and typeset == formulas, f"{typeset} of {formulas} formulas typeset"
    assert page.locator(".MathJax_Error, .merror").count() == 0, "MathJax could not typeset a formula"
    text = " ".join(page.locator(".jp-RenderedMarkdown").all_inner_texts())
    for raw in ("$$", "\\frac", "\\sigma", "\\partial", "\\begin{"):
        assert raw not in text, f"raw TeX {raw!r} is visible on {lecture.stem}.html"
    with lecture.open() as f:
        expected = sum("image/png" in o.get("data", {}) for c in json.load(f)["cells"]
                       for o in c.get("outputs", []))
    sizes = page.locator("img").evaluate_all("els => els.map(e => e.complete && e.naturalWidth)")
    assert len(sizes) == expected and all(sizes), f"figures: {sizes}, expected {expected}"
    assert page.locator("nav.bp-nav a").count() == len(LECTURES) + 1
    number = int(lecture.name[:2])
    for link in page.locator(".bp-task a").evaluate_all("els => els.map(e => e.href)"):
        assert re.search(rf"/(assignments/ps{number}_|downloads/ps{number}_\w+\.zip$)", link) \
            and page.request.get(link).ok, link
    screenshot(page, f"site-{lecture.stem}")
    print(f"\n{lecture.stem}: {typeset} formulas, {len(sizes)} figures")
    page.close()
    problems = browser.take_problems()
    assert not problems, "the browser reported problems:\n" + "\n".join(problems)


def test_index_page_in_the_browser(browser, served):
    browser.take_problems()
    page = browser.page()
    page.goto(f"{served}/index.html")
    _wait_for_mathjax(page)
    text = page.locator("main").inner_text()
    for raw in ("$", "\\partial", "\\frac"):
        assert raw not in text, f"raw TeX {raw!r} is visible on index.html"
    links = page.locator("a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    for nb in LECTURES:
        assert f"{nb.stem}.html" in links
    downloads = [h for h in links if h.startswith("assignments/")]
    assert len(downloads) >= len(list((ROOT / "release").iterdir()))
    for href in downloads:
        assert page.request.get(f"{served}/{href}").ok, f"broken assignment link {href}"
    assert not [h for h in links if "solution" in h]
    screenshot(page, "site-index")
    page.close()
    problems = browser.take_problems()
    assert not problems, "the browser reported problems:\n" + "\n".join(problems)
