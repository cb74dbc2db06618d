"""Feedback that is safe to open and holds no hidden-test code.

- `ScrubHiddenLines` (an nbgrader preprocessor in the feedback step) removes from every
  output of every cell any line that is a line of a hidden test, whatever printed it.
- `sanitize` rebuilds the feedback HTML page: the template's styles, a strict
  Content-Security-Policy (no script at all), and the body passed through an allow-list
  sanitizer (nh3, the Python binding of the Rust crate ammonia): no script, no
  event-handler attribute, no javascript: link, no iframe, no form.
"""
import re
from html import escape

import nh3
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import List, Unicode

HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.DOTALL)
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
       "script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'")
TAGS = {"a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt",
        "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre",
        "s", "samp", "small", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td",
        "th", "thead", "tr", "u", "ul", "var", "mark", "figure", "figcaption", "caption"}
ATTRIBUTES = {"*": {"class", "id", "title"}, "a": {"href", "name"},
              "img": {"src", "alt", "width", "height"}, "td": {"colspan", "rowspan"},
              "th": {"colspan", "rowspan"}}


def hidden_lines(source_cells):
    """Every non-trivial line inside a hidden-test region of the source notebook."""
    lines = set()
    for text in source_cells:
        for block in HIDDEN.findall(text):
            lines |= {ln.strip() for ln in block.splitlines() if len(ln.strip()) >= 8}
    return lines


def scrub_text(text, lines):
    kept = [ln for ln in text.split("\n") if ln.strip() not in lines
            and not any(hidden in ln for hidden in lines if len(hidden) >= 16)]
    return "\n".join(kept)


class ScrubHiddenLines(NbGraderPreprocessor):
    """Remove every line of hidden-test code from every output of every cell."""

    lines = List(Unicode()).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        lines = set(self.lines)
        for out in cell.get("outputs", []):
            if "text" in out:
                out.text = scrub_text(out.text, lines)
            if out.get("output_type") == "error":
                out.evalue = scrub_text(out.evalue, lines)
                out.traceback = [scrub_text(t, lines) for t in out.traceback]
            for mime, value in list(out.get("data", {}).items()):
                if isinstance(value, str) and mime.startswith("text/"):
                    out.data[mime] = scrub_text(value, lines)
        return cell, resources


def _url_ok(tag, name, value):
    if name == "src":
        return tag == "img" and value.startswith("data:image/")
    if name == "href":
        return value.startswith(("#", "https://", "http://"))
    return True


def _attributes(tag, name, value):
    """nh3's attribute filter: the value kept, or None to drop the attribute."""
    if name in ("src", "href") and not _url_ok(tag, name, value):
        return None
    return value


# what the template's styles load from files next to the page (Bootstrap's glyph font): the
# page's policy blocks it (only data: fonts), so the browser reports it; the page uses no glyph
FILE_FONT = re.compile(r"@font-face\s*\{[^}]*url\((?!['\"]?data:)[^}]*\}", re.IGNORECASE)
READABLE = ("<style>.output_error pre,.output_stream pre,.output_text pre{white-space:pre-wrap;"
            "word-break:normal;overflow-wrap:break-word}"
            ".bp-first{background:#fdecea;border:1px solid #e6a5a0;padding:.6em;margin:.8em 0}"
            "</style>")


def _readable(body):
    """Name each test cell of the index by its part, and say at the top what to fix first.

    nbgrader's index lists every grade cell as "Test cell (Score: x / y)"; here it reads
    "Part 2: the forward pass, test_forward (Score: x / y)" (the `##` heading above the cell),
    and the first failing cell's message follows the index."""
    heads = [(m.start(), re.sub(r"<[^>]+>|\u00b6", "", m.group(1)).strip())
             for m in re.finditer(r"<h2[^>]*>(.*?)</h2>", body, re.DOTALL)]
    anchors = {m.group(1): m.start() for m in re.finditer(r'<a name="([\w-]+)"', body)}

    def part(grade_id):
        where = anchors.get(grade_id, -1)
        above = [text for at, text in heads if at < where]
        name = re.sub(r"\s*\(\d+(\.\d+)?\s+points?\)$", "", above[-1]) if above else ""
        return ", ".join(filter(None, [name, grade_id]))  # name: text of the cleaned page

    first = ""
    starts = sorted(anchors.items(), key=lambda kv: kv[1])
    for (grade_id, at), (_, end) in zip(starts, [*starts[1:], ("", len(body))]):
        cell = body[at:end]
        score = re.search(r"Score: ([\d.]+) / ([\d.]+)", cell)
        failed = re.search(r'class="[^"]*output_error[^"]*">\s*<pre>(.*?)</pre>', cell, re.DOTALL)
        if score and float(score.group(1)) < float(score.group(2)) and failed:
            first = (f'<p class="bp-first"><strong>Fix first:</strong> {part(grade_id)}: '
                     f"{failed.group(1).strip()}</p>")
            break
    body = re.sub(r'<li><a href="#([\w-]+)">Test cell</a>',
                  lambda m: f'<li><a href="#{m.group(1)}">{part(m.group(1))}</a>', body)
    return re.sub(r'(<div id="toc">.*?</div>)', lambda m: m.group(1) + first, body, count=1,
                  flags=re.DOTALL)


def sanitize(html, title, notes=()):
    """The feedback page rebuilt from `html`: styles kept, body sanitized, no script."""
    head = re.search(r"<head[^>]*>(.*?)</head>", html, re.DOTALL | re.IGNORECASE)
    styles = re.findall(r"<style[^>]*>.*?</style>", head.group(1) if head else "", re.DOTALL | re.IGNORECASE)
    styles = [FILE_FONT.sub("", s) for s in styles if "</style" not in s[7:-8].lower()]
    body = re.search(r"<body[^>]*>(.*)</body>", html, re.DOTALL | re.IGNORECASE)
    body = body.group(1) if body else html
    # script and style elements go with their content; the rest is filtered by allow-list
    body = re.sub(r"<(script|style|iframe|object|embed|template|noscript)\b.*?</\1\s*>", "",
                  body, flags=re.DOTALL | re.IGNORECASE)
    clean = nh3.clean(body, tags=TAGS, attributes=ATTRIBUTES, attribute_filter=_attributes,
                      url_schemes={"http", "https", "data"}, strip_comments=True, link_rel=None)
    clean = _readable(clean)
    banner = "".join(f'<p class="bp-note"><strong>Note:</strong> {escape(n)}</p>' for n in notes)
    return ("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            f"<title>{escape(title)}</title>\n" + "\n".join(styles) +
            "\n<style>.bp-note{background:#fff3cd;border:1px solid #e0c36b;padding:.6em;"
            "margin:1em}</style>\n" + READABLE + "\n</head>\n<body>\n" + banner + clean + "\n</body>\n</html>\n")
