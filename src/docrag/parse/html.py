"""HTML: the page's body text in blocks, headings as sections; navigation, scripts, footers and hidden
elements dropped."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser as HTMLParser
from selectolax.lexbor import LexborNode as Node

from docrag.parse.base import Blocks, Parser, decode, register
from docrag.parse.normalize import normalize, unwrap
from docrag.types import Block, Document

_DROP = {"script", "style", "noscript", "nav", "footer", "aside", "form", "template", "svg",
         "iframe", "button", "select", "head"}
_CONTENT = {"article", "main"}  # a <header> inside these is the content's own title, not site chrome
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLOCK = {"p", "div", "section", "article", "main", "li", "ul", "ol", "dl", "dt", "dd", "blockquote",
          "pre", "figure", "figcaption", "br", "hr", "tr", "caption", "address", "details", "summary"}
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?([\w-]+)", re.I)


def _read_html(path: Path) -> str:
    data = path.read_bytes()
    m = _META_CHARSET.search(data[:4096])
    if m:
        try:
            enc = m.group(1).decode("ascii").lower()
            return data.decode("gb18030" if enc in ("gb2312", "gbk") else enc)
        except (LookupError, UnicodeDecodeError):
            pass  # a wrong declaration: fall back to detection
    return decode(path, data)


def hidden(attrs: Mapping[str, str | None]) -> bool:
    """Whether an element with these attributes is hidden from readers: its text is not indexed.
    hidden="until-found" content is shown by find-in-page, so it is meant to be found."""
    if not attrs:
        return False
    if "hidden" in attrs and (attrs["hidden"] or "").lower() != "until-found":
        return True
    return (attrs.get("aria-hidden") or "").lower() == "true" or bool(_HIDDEN_STYLE.search(attrs.get("style") or ""))


def _skipped(node: Node) -> bool:
    return node.tag in _DROP or node.tag == "-comment" or hidden(node.attributes)


def _children(node: Node) -> list[Node]:
    """``node``'s children, text included, last first: pushed on a stack, they pop in document order.
    Walking with a stack rather than by recursion reads pages nested thousands of levels deep."""
    return list(node.iter(include_text=True))[::-1]


def _visible_text(node: Node) -> str:
    """The text shown inside ``node``: what ``node.text(separator=" ")`` gives, less dropped and hidden
    elements."""
    parts, stack = [], [node]
    while stack:
        n = stack.pop()
        if n.tag == "-text":
            parts.append(n.text_content or "")
        elif not _skipped(n):
            stack += _children(n)
    return " ".join(parts)


def _one_line(node: Node) -> str:
    return normalize(_visible_text(node)).replace("\n", " ").strip()


@register
class HtmlParser(Parser):
    extensions = (".html", ".htm", ".xhtml")
    file_type = "html"
    version = 2  # hidden elements' text (hidden, aria-hidden, display:none) is no longer indexed

    def parse(self, path: Path) -> Document:
        tree = HTMLParser(_read_html(path))
        title_node = tree.css_first("title")
        root = tree.body or tree.root  # a frameset page has no body
        assert root is not None  # lexbor always makes <html>
        blocks = self.blocks(path)
        headings: list[tuple[int, str]] = []
        buf: list[str] = []

        def flush(kind="paragraph"):
            text = unwrap(normalize("".join(buf)))
            buf.clear()
            if text:
                blocks.append(Block(text, kind=kind, section=tuple(t for _, t in headings)))

        # items: (node, inside <article>/<main>), or the block kind to flush with when a block element ends
        stack: list[tuple[Node, bool] | str] = [(child, False) for child in _children(root)]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                flush(item)
                continue
            node, in_content = item
            tag = node.tag
            if tag == "-text":
                buf.append(node.text_content or "")
            elif _skipped(node) or (tag == "header" and not in_content):
                continue
            elif tag in _HEADINGS:
                flush()
                text = _one_line(node)
                if text:
                    level = _HEADINGS[tag]
                    while headings and headings[-1][0] >= level:
                        headings.pop()
                    headings.append((level, text))
                    blocks.append(Block(text, kind="heading", level=level, section=tuple(t for _, t in headings)))
            elif tag == "table":
                flush()
                text = _table_text(node, blocks)
                if text:
                    blocks.append(Block(text, kind="table", section=tuple(t for _, t in headings)))
            elif tag in _BLOCK or tag in _CONTENT or tag == "header":
                flush()
                stack.append("list" if tag == "li" else "paragraph")
                stack += [(child, in_content or tag in _CONTENT) for child in _children(node)]
            else:
                stack += [(child, in_content) for child in _children(node)]
        flush()
        title = normalize(title_node.text()).strip() if title_node else ""
        return self.document(path, blocks, title=title)


def _table_text(table: Node, blocks: Blocks) -> str:
    rows, chars = [], 0
    for tr in table.css("tr"):
        if hidden(tr.attributes):
            continue
        row = " | ".join(_one_line(c) for c in tr.css("th, td"))
        if row.strip(" |"):
            rows.append(row)
            chars += len(row) + 1
            blocks.check(chars)  # nested tables repeat their cells' text in the outer table's cells
    return "\n".join(rows)
