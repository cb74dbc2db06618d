"""Build the lecture website: static HTML from the executed lectures.

    python website/build.py [OUT]        (what `make site` runs; OUT defaults to _build/site)

Every notebooks/NN_topic.ipynb becomes OUT/NN_topic.html as it is stored (it is not
run again: the lectures are executed and checked by `make test`), with its maths
typeset by a local copy of MathJax (no network needed) and its figures embedded.
OUT/index.html is the table of contents: each lecture with its sections, and the
student version of its assignment (release/, copied into OUT/assignments/).
Solutions are never copied or linked.
"""
import html
import re
import shutil
import sys
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parent.parent
TITLE = "Backprop by hand"
MATHJAX = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"
# The MathJax copy from the jupyter-server-mathjax package has the STIX-Web fonts only;
# its blank test font points at about:blank, which Chromium reports as an error.
MATHJAX_FONTS = """<script type="text/x-mathjax-config">
MathJax.Hub.Config({"fast-preview": {disabled: true},
  "HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web",
  imageFont: null, styles: {"@font-face": {"font-family": "MathJax_Blank",
                                           src: "local('MathJax_Blank')"}}}});
</script>
<link rel="icon" href="data:,">"""
INDEX_MATHJAX = f"""<script type="text/x-mathjax-config">
MathJax.Hub.Config({{tex2jax: {{inlineMath: [["$", "$"]], processEscapes: true}},
                    messageStyle: "none"}});
</script>
<script src="{MATHJAX}"></script>"""
STYLE = """<style>
.bp-nav { font: 15px/1.5 system-ui, sans-serif; background: #f3f5f8; border-bottom: 1px solid #d5dae1;
  padding: 8px 16px; display: flex; flex-wrap: wrap; gap: 14px; align-items: baseline; }
.bp-nav a { color: #1a5fb4; text-decoration: none; }
.bp-nav a[aria-current] { font-weight: 600; color: #000; }
.bp-index { font: 16px/1.6 system-ui, sans-serif; max-width: 880px; margin: 32px auto; padding: 0 16px; }
.bp-index h2 { margin-bottom: 4px; }
.bp-index ul { margin-top: 4px; }
.bp-task { font: 15px/1.5 system-ui, sans-serif; margin: 8px 16px; }
.bp-task a { color: #1a5fb4; text-decoration: underline; }
</style>"""


def lectures():
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def assignment_of(lecture):
    """release/psN_... for lecture NN_..., or None."""
    number = int(lecture.name[:2])
    found = sorted((ROOT / "release").glob(f"ps{number}_*"))
    return found[0] if found else None


def headings(nb):
    """(level, text) of the markdown headings of a notebook, in order."""
    found = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                m = re.match(r"^(#{1,3})\s+(.*?)\s*#*$", line)
                if m:
                    found.append((len(m.group(1)), m.group(2)))
    return found


def plain(text):
    """A heading without its markdown and TeX, for the table of contents."""
    text = re.sub(r"`([^`]*)`", r"\1", text)
    text = re.sub(r"\$([^$]*)\$", lambda m: m.group(1).replace("\\", ""), text)
    return text.replace("*", "")


def short(title):
    """The short name of a lecture: its title without the number and the subtitle."""
    text = re.sub(r"^(\d+\s*·\s*|Lesson\s+\d+\s*:\s*)", "", title).split(":")[0].strip()
    return text[:1].upper() + text[1:]


def nav(pages, current):
    here = " aria-current=page" if current == "index.html" else ""
    links = [f'<a href="index.html"{here}>{TITLE}</a>']
    for href, title in pages:
        mark = " aria-current=page" if href == current else ""
        links.append(f'<a href="{href}"{mark}>{html.escape(title)}</a>')
    return f'<nav class="bp-nav">{"".join(links)}</nav>'


def download_links(a):
    """The links to assignment `a` in one piece: its zip (written by `make site`), and
    "Open in Colab" and "Open on the hub" where nbgrader_config.py sets their places."""
    sys.path.insert(0, str(ROOT))
    from grader.bundle import links

    names = {"zip": f"{a}.zip", "colab": "Open in Colab", "hub": "Open on the hub"}
    return " All in one: " + " · ".join(f'<a href="{html.escape(url)}">{names[kind]}</a>'
                                        for kind, url in links(a).items())


def build(out):
    out = Path(out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    import jupyter_server_mathjax

    shutil.copytree(Path(jupyter_server_mathjax.__file__).parent / "static", out / "mathjax")
    exporter = HTMLExporter(template_name="lab", mathjax_url=MATHJAX)

    books = []
    for path in lectures():
        nb = nbformat.read(path, as_version=4)
        heads = headings(nb)
        title = plain(heads[0][1]) if heads else path.stem
        books.append((path, nb, title, heads))
    pages = [(f"{p.stem}.html", f"{p.name[:2]} {short(t)}") for p, _, t, _ in books]

    items = []
    for (path, nb, title, heads), (href, _) in zip(books, pages):
        work = assignment_of(path)
        if work:
            dest = out / "assignments" / work.name
            shutil.copytree(work, dest, ignore=shutil.ignore_patterns(
                "__pycache__", ".ipynb_checkpoints"))
            files = ", ".join(f'<a href="assignments/{work.name}/{f.name}" download>{f.name}</a>'
                              for f in sorted(dest.iterdir()))
            task = (f'<p class="bp-task">Assignment <b>{work.name}</b>: {files} (open the '
                    "notebook in JupyterLab next to the <code>.py</code> files)."
                    f"{download_links(work.name)}</p>")
        else:
            task = ""

        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
        body = re.sub(r'<script src="[^"]*require\.js[^"]*"></script>', "", body)  # widgets only
        body = body.replace("</head>", MATHJAX_FONTS + STYLE + "</head>", 1)
        top = nav(pages, href) + task
        body = re.sub(r"(<body[^>]*>)", lambda m, top=top: m.group(1) + top, body, count=1)
        (out / href).write_text(body, encoding="utf-8")

        sections = "".join(f'<li><a href="{href}#{ident}">{inner}</a></li>'
                           for ident, inner in re.findall(
                               r'<h2 id="([^"]+)">(.*?)<a class="anchor-link"', body))
        items.append(f'<section><h2><a href="{href}">{html.escape(title)}</a></h2>'
                     f"<ul>{sections}</ul>{task}</section>")

    index = (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
             f'<meta name="viewport" content="width=device-width, initial-scale=1">'
             f"<title>{TITLE}</title>{INDEX_MATHJAX}{MATHJAX_FONTS}{STYLE}</head><body>"
             f"{nav(pages, 'index.html')}"
             f'<main class="bp-index"><h1>{TITLE}</h1><p>Backpropagation from the perceptron '
             "to the multi-layer perceptron: every formula derived, then checked against "
             "<code>torch.autograd</code>. The lectures below are executed notebooks; the "
             "assignments are Jupyter notebooks to fill in and check with the tests they "
             f"contain.</p>{''.join(items)}</main></body></html>")
    (out / "index.html").write_text(index, encoding="utf-8")
    return out


if __name__ == "__main__":
    built = build(sys.argv[1] if len(sys.argv) > 1 else ROOT / "_build" / "site")
    print(f"Site built in {built}: open {built / 'index.html'} in a browser.")
