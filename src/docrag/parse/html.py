"""HTML: the page's body text in blocks, headings as sections; navigation, scripts and footers dropped."""

from __future__ import annotations

import re
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser as HTMLParser
from selectolax.lexbor import LexborNode as Node

from docrag.parse.base import Parser, decode, register
from docrag.parse.normalize import normalize, unwrap
from docrag.types import Block, Document

_DROP = {"script", "style", "noscript", "nav", "footer", "aside", "form", "template", "svg",
         "iframe", "button", "select", "head"}
_CONTENT = {"article", "main"}  # a <header> inside these is the content's own title, not site chrome
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLOCK = {"p", "div", "section", "article", "main", "li", "ul", "ol", "dl", "dt", "dd", "blockquote",
          "pre", "figure", "figcaption", "br", "hr", "tr", "caption", "address", "details", "summary"}
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


@register
class HtmlParser(Parser):
    extensions = (".html", ".htm", ".xhtml")
    file_type = "html"

    def parse(self, path: Path) -> Document:
        tree = HTMLParser(_read_html(path))
        title_node = tree.css_first("title")
        root = tree.body or tree.root
        blocks: list[Block] = []
        headings: list[tuple[int, str]] = []
        buf: list[str] = []

        def flush(kind="paragraph"):
            text = unwrap(normalize("".join(buf)))
            buf.clear()
            if text:
                blocks.append(Block(text, kind=kind, section=tuple(t for _, t in headings)))

        def walk(node: Node, in_content: bool = False):
            for child in node.iter(include_text=True):
                tag = child.tag
                if tag == "-text":
                    buf.append(child.text_content or "")
                elif tag in _DROP or tag == "-comment" or (tag == "header" and not in_content):
                    continue
                elif tag in _HEADINGS:
                    flush()
                    text = normalize(child.text(separator=" ")).replace("\n", " ").strip()
                    if text:
                        level = _HEADINGS[tag]
                        while headings and headings[-1][0] >= level:
                            headings.pop()
                        headings.append((level, text))
                        blocks.append(Block(text, kind="heading", level=level,
                                            section=tuple(t for _, t in headings)))
                elif tag == "table":
                    flush()
                    rows = [" | ".join(normalize(c.text(separator=" ")).replace("\n", " ").strip()
                                       for c in tr.css("th, td"))
                            for tr in child.css("tr")]
                    text = "\n".join(r for r in rows if r.strip(" |"))
                    if text:
                        blocks.append(Block(text, kind="table", section=tuple(t for _, t in headings)))
                elif tag in _BLOCK or tag in _CONTENT or tag == "header":
                    flush()
                    walk(child, in_content or tag in _CONTENT)
                    flush("list" if tag == "li" else "paragraph")
                else:
                    walk(child, in_content)

        walk(root)
        flush()
        title = normalize(title_node.text()).strip() if title_node else ""
        return self.document(path, blocks, title=title)
