"""Feedback that is safe to open and holds no hidden-test code.

- `ScrubHiddenLines` (an nbgrader preprocessor in the feedback step) removes from every
  output of every cell any line that is a line of a hidden test, whatever printed it.
- `sanitize` rebuilds the feedback HTML page: the template's styles, a strict
  Content-Security-Policy (no script at all), and the body passed through an allow-list
  sanitizer (nh3, the Python binding of the Rust crate ammonia): no script, no
  event-handler attribute, no javascript: link, no iframe, no form.
- `typeset` turns the TeX of the page's text ($...$, $$...$$) into MathML (latex2mathml, pure
  Python), which browsers draw themselves: the maths reads typeset wherever the page is
  opened, with no script. JupyterLab's HTML viewer (where "view feedback" leads) runs no
  script in an untrusted file, so a MathJax in the page would leave the raw TeX there.
"""
import re
from html import escape, unescape
from xml.etree import ElementTree

import nh3
from latex2mathml.converter import convert_to_element
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


def _short(message, limit=110):
    """A failing cell's message in a line of the index: its named mistake ("Most likely:
    ..."), else its first sentence, cut at a word (the message is HTML-escaped already)."""
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", message)).strip()
    text = re.sub(r"^Failed: ", "", text)
    named = re.search(r"Most likely: (.*?)(?: \(Tolerance|$)", text)
    text = named.group(1) if named else re.split(r"(?<=\.)\s", text, maxsplit=1)[0]
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + " \u2026"
    return text


def _readable(body):
    """Name each test cell of the index by its part, with its verdict in a few words, and say
    at the top what to fix first.

    nbgrader's index lists every grade cell as "Test cell (Score: x / y)"; here it reads
    "Part 2: the forward pass, test_forward (Score: x / y): passes" (the `##` heading above
    the cell; a failing cell gives its named mistake, or its message's first sentence), and
    the first failing cell's whole message follows the index."""
    heads = [(m.start(), re.sub(r"<[^>]+>|\u00b6", "", m.group(1)).strip())
             for m in re.finditer(r"<h2[^>]*>(.*?)</h2>", body, re.DOTALL)]
    anchors = {m.group(1): m.start() for m in re.finditer(r'<a name="([\w-]+)"', body)}

    def part(grade_id):
        where = anchors.get(grade_id, -1)
        above = [text for at, text in heads if at < where]
        name = re.sub(r"\s*\(\d+(\.\d+)?\s+points?\)$", "", above[-1]) if above else ""
        return ", ".join(filter(None, [name, grade_id]))  # name: text of the cleaned page

    first, status = "", {}
    starts = sorted(anchors.items(), key=lambda kv: kv[1])
    for (grade_id, at), (_, end) in zip(starts, [*starts[1:], ("", len(body))]):
        cell = body[at:end]
        score = re.search(r"Score: ([\d.]+) / ([\d.]+)", cell)
        failed = re.search(r'class="[^"]*output_error[^"]*">\s*<pre>(.*?)</pre>', cell, re.DOTALL)
        if not score:
            continue
        if float(score.group(1)) >= float(score.group(2)):
            status[grade_id] = "passes"
            continue
        status[grade_id] = _short(failed.group(1)) if failed else "fails"
        if failed and not first:
            first = (f'<p class="bp-first"><strong>Fix first:</strong> {part(grade_id)}: '
                     f"{failed.group(1).strip()}</p>")

    def line(m):
        said = status.get(m.group(1))
        return (f'<li><a href="#{m.group(1)}">{part(m.group(1))}</a>{m.group(2)}'
                + (f': <span class="bp-status">{said}</span>' if said else ""))

    body = re.sub(r'<li><a href="#([\w-]+)">Test cell</a>( \(Score: [\d.]+ / [\d.]+\))?',
                  line, body)
    return re.sub(r'(<div id="toc">.*?</div>)', lambda m: m.group(1) + first, body, count=1,
                  flags=re.DOTALL)


# the TeX of the text: $$..$$, \[..\] and \begin{env}..\end{env} (display), \(..\) and $..$
# (inline: no space inside its dollars, so "$5 and $10" stays text)
TEX = re.compile(r"\$\$(?P<d1>.+?)\$\$|\\\[(?P<d2>.+?)\\\]"
                 r"|(?P<env>\\begin\{(?P<name>[a-z]+\*?)\}.+?\\end\{(?P=name)\})"
                 r"|\\\((?P<i1>.+?)\\\)|(?<![\\\w$])\$(?P<i2>[^\s$](?:[^$]*?[^\s\\$])?)\$(?!\d)",
                 re.DOTALL)
VERBATIM = {"pre", "code", "kbd", "samp"}  # text shown as typed: no maths in it
MATHML = {"math", "mrow", "mi", "mn", "mo", "mtext", "mspace", "ms", "msub", "msup", "msubsup",
          "mfrac", "msqrt", "mroot", "munder", "mover", "munderover", "mtable", "mtr", "mtd",
          "mstyle", "mpadded", "mphantom", "menclose", "merror"}
MATHML_ATTRIBUTES = {"xmlns", "display", "mathvariant", "displaystyle", "scriptlevel",
                     "rowspacing", "columnspacing", "columnalign", "rowalign", "columnlines",
                     "rowlines", "frame", "stretchy", "fence", "separator", "lspace", "rspace",
                     "minsize", "maxsize", "movablelimits", "largeop", "symmetric", "form",
                     "accent", "accentunder", "linethickness", "width", "height", "depth",
                     "voffset", "mathsize", "notation"}
MATH_STYLE = ("<style>math{font-family:'STIX Two Math','Cambria Math','Latin Modern Math',math}"
              "math[display=block]{margin:.6em 0;overflow-x:auto;overflow-y:hidden}</style>")


def mathml(tex, display):
    """The MathML of `tex` (display "block" or "inline"), or None if it cannot be converted.

    Only MathML's presentation elements and attributes are kept (an allow-list): whatever a
    student wrote between dollars, the result holds no link, no script and no style."""
    try:
        root = convert_to_element(tex, display=display)
    except Exception:  # noqa: BLE001 (any TeX the converter does not know stays as written)
        return None
    for node in root.iter():
        if not isinstance(node.tag, str) or node.tag.split("}")[-1] not in MATHML:
            return None
        for name in [n for n in node.attrib if n not in MATHML_ATTRIBUTES]:
            del node.attrib[name]
        if node.text and re.match(r"\\[a-zA-Z]", node.text):
            return None  # a command it does not know: the TeX stays whole, as written
        # the converter writes characters as entities in the text (&#x0003D;): decode them
        node.text = unescape(node.text) if node.text else node.text
        node.tail = unescape(node.tail) if node.tail else node.tail
    return ElementTree.tostring(root, encoding="unicode", short_empty_elements=False)


def typeset(body):
    """`body` with the TeX of its text (not of pre/code) replaced by MathML."""
    def one(m):
        display = m.group("d1") or m.group("d2") or m.group("env")
        tex = unescape(display or m.group("i1") or m.group("i2"))
        return mathml(tex.strip(), "block" if display else "inline") or m.group(0)

    pieces, verbatim = re.split(r'(<(?:[^>"]|"[^"]*")*>)', body), 0  # tags, quoted values whole
    for i, piece in enumerate(pieces):
        tag = re.match(r"<(/?)([a-zA-Z0-9]+)", piece)
        if tag and tag.group(2).lower() in VERBATIM:
            verbatim = max(0, verbatim + (-1 if tag.group(1) else 1))
        elif i % 2 == 0 and not verbatim and ("$" in piece or "\\" in piece):
            pieces[i] = TEX.sub(one, piece)
    return "".join(pieces)


def _clean(body, tags, attributes):
    return nh3.clean(body, tags=tags, attributes=attributes, attribute_filter=_attributes,
                     url_schemes={"http", "https", "data"}, strip_comments=True, link_rel=None)


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
    clean = _readable(_clean(body, TAGS, ATTRIBUTES))
    # the maths typeset after the student's HTML was cleaned (no MathML of theirs gets in),
    # and the whole cleaned again with MathML's presentation elements allowed
    clean = _clean(typeset(clean), TAGS | MATHML,
                   {**ATTRIBUTES, **dict.fromkeys(MATHML, MATHML_ATTRIBUTES)})
    banner = "".join(f'<p class="bp-note"><strong>Note:</strong> {escape(n)}</p>' for n in notes)
    return ("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            f"<title>{escape(title)}</title>\n" + "\n".join(styles) +
            "\n<style>.bp-note{background:#fff3cd;border:1px solid #e0c36b;padding:.6em;"
            "margin:1em}</style>\n" + READABLE + MATH_STYLE + "\n</head>\n<body>\n" + banner + clean + "\n</body>\n</html>\n")
