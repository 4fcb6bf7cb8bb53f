"""The document graph: typed, directed edges between a document's chunks, stored with the index.

Nodes need no storage of their own:

- document: a ``docs`` row (its chunks are the document's content);
- section: ``(document, section path)``, represented by its lead chunk, the section's first searchable chunk
  (usually the heading);
- chunk / table / image: chunks of kind ``text`` / ``table`` / ``figure``; kind ``parent`` chunks (parent-child
  chunking) are never searched and are reached through ``parent`` edges.

Edges, as ``(source ordinal, target ordinal, kind)`` within one document; symmetric relations are stored in both
directions, the others with a name per direction:

- ``next`` / ``prev``: consecutive searchable chunks;
- ``refers_to`` / ``referred_by``: a text chunk that mentions a label ("见表2", "如图 3-1 所示", "表二",
  "as shown in Figure 3", "Fig. 3", "Tables 2 and 3", "Exhibit 4") -> the table/figure chunks whose caption carries
  that label; "如下表" / "the following table" (no label) -> the nearest following table within a few chunks,
  "上表" / "the table above" -> the nearest preceding one;
- ``caption_of`` / ``has_caption``: a text chunk with a line that is the caption of a table/figure -> that chunk
  (it then gets no ``refers_to`` edge to the same chunk);
- ``same_page``: a text chunk and a table/figure chunk on a common page, at most ``SAME_PAGE_LIMIT`` per chunk,
  nearest (by ordinal) first;
- ``in_section`` / ``contains``: a chunk -> its section's lead; a section lead -> the lead of the nearest enclosing
  section that has chunks. Chunks outside any heading (section ``()``, e.g. whole PDFs without headings) get none:
  a lead for all of them would only be the document's first chunk;
- ``parent`` / ``child``: a parent-child child (``extra["parent"]``) -> its parent chunk.

Labels are compared as (family, number): table (表, Table, Tab.), figure (图, Figure, Fig.), chart, exhibit;
numbers in Chinese numerals and full-width digits are read as integers, "3.1", "3-1" and "3–1" are one label.
Building is linear in the document's text (three precompiled regex passes per text chunk, only when the document has
table or figure chunks).
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from itertools import pairwise

from docrag.types import Chunk, Document

Edge = tuple[int, int, str]
Label = tuple[str, str]  # (family, normalised number)

SAME_PAGE_LIMIT = 3  # same_page edges per chunk: pages with many chunks would otherwise link all pairs
NEARBY_WINDOW = 3  # "如下表" / "the table below" looks this many chunks ahead (or back for "上表")
MEDIA_KINDS = ("table", "figure")
CAPTION_LINES = 3  # a table/figure chunk without extra["caption"] may carry its caption in one of its first lines

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
              "七": 7, "八": 8, "九": 9}
_NUMBER = r"\d+(?:[-.–—－]\d+)*"
_CN_NUMBER = "[零〇一二两三四五六七八九十]+"
# characters before 表/图 that make another word: 代表 (represent), 列表 (list), 发表, 意图 (intent), 企图, 试图, 仪表
_CN_NOT_AFTER = "代列发意企试仪"
# Chinese-numeral words that start like labels: 表一般 (generally), 图一样, 表一些
_CN_NUMERAL_WORDS = "般样些切直同起致"
_ZH_LABEL = (rf"(?<![{_CN_NOT_AFTER}])附?(?P<zh>[表图])\s*"
             rf"(?:(?P<zh_num>{_NUMBER})|(?P<zh_cn>{_CN_NUMBER})(?![{_CN_NUMERAL_WORDS}]))")
_EN_WORD = r"(?i:(?P<en>tables?|tabs?\.|figures?|figs?\.|charts?|exhibits?))"
_EN_ITEM = rf"(?:[A-Z]-?)?{_NUMBER}[a-z]?\b"
# "Tables 2 and 3", "Figures 1, 2 and 4": every number in the list is a mention
_EN_LABEL = rf"\b{_EN_WORD}\s?(?P<en_nums>{_EN_ITEM}(?:\s?(?:,|and|&|or)\s?{_EN_ITEM})*)"

_MENTION_RE = re.compile(f"{_ZH_LABEL}|{_EN_LABEL}")
_CAPTION_RE = re.compile(rf"^[ \t]*(?:{_ZH_LABEL}|\b{_EN_WORD}\s?(?P<en_nums>{_EN_ITEM}))", re.MULTILINE)
_EN_ITEM_RE = re.compile(_EN_ITEM)
_NEARBY_RE = re.compile(
    r"(?P<zh_dir>[下上])(?:列|述|面)?(?P<zh>[表图])(?![决现示达述])"  # not 表决 (vote), 表现, 表示, ...
    r"|(?i:the\s+(?P<en_after>following|above|preceding)\s+(?P<en_a>table|figure|chart)"
    r"|the\s+(?P<en_b>table|figure|chart)\s+(?P<en_dir>below|above))")
_FAMILY = {"表": "table", "图": "figure", "tab": "table", "fig": "figure", "cha": "chart", "exh": "exhibit"}
_SPACES = re.compile(r"\s+")
_NUMBER_SEPARATOR = re.compile("[-.–—－]")


def build_edges(doc: Document, chunks: list[Chunk]) -> list[Edge]:
    """The graph edges among one document's chunks (see the module docstring), without duplicates.
    ``doc`` is the document node (its docs row); the edges need only the chunks."""
    ordered = sorted(chunks, key=lambda c: c.ordinal)
    searchable = [c for c in ordered if c.kind != "parent"]
    edges: dict[Edge, None] = {}

    def link(a: int, b: int, forward: str, backward: str) -> None:
        if a != b:
            edges[(a, b, forward)] = None
            edges[(b, a, backward)] = None

    for a, b in pairwise(searchable):
        link(a.ordinal, b.ordinal, "next", "prev")
    _section_edges(searchable, link)
    for c in ordered:
        parent = c.extra.get("parent")
        if isinstance(parent, int):
            link(c.ordinal, parent, "parent", "child")
    media = [c for c in searchable if c.kind in MEDIA_KINDS]
    if media:
        texts = [c for c in searchable if c.kind == "text"]
        _reference_edges(searchable, texts, media, link)
        _same_page_edges(texts, media, link)
    return list(edges)


def _section_edges(searchable: list[Chunk], link) -> None:
    leads: dict[tuple[str, ...], int] = {}
    for c in searchable:
        if c.section:
            lead = leads.setdefault(c.section, c.ordinal)
            link(c.ordinal, lead, "in_section", "contains")
    for section, lead in leads.items():
        for depth in range(len(section) - 1, 0, -1):
            outer = leads.get(section[:depth])
            if outer is not None:
                link(lead, outer, "in_section", "contains")
                break


def _reference_edges(searchable: list[Chunk], texts: list[Chunk], media: list[Chunk], link) -> None:
    by_label: dict[Label, list[tuple[int, str]]] = defaultdict(list)  # label -> (ordinal, caption without spaces)
    for c in media:
        found = _caption(c)
        if found is not None:
            by_label[found[0]].append((c.ordinal, _SPACES.sub("", found[1])))
    positions = [c.ordinal for c in searchable]
    for c in texts:
        captioned = set()
        if by_label:
            for m in _CAPTION_RE.finditer(c.text):
                line = _SPACES.sub("", _line_from(c.text, m.start()))
                for target, caption in by_label.get(_labels(m)[0], ()):
                    if line.startswith(caption) or caption.startswith(line):
                        captioned.add(target)
                        link(c.ordinal, target, "caption_of", "has_caption")
            for m in _MENTION_RE.finditer(c.text):
                for label in _labels(m):
                    for target, _ in by_label.get(label, ()):
                        if target not in captioned:
                            link(c.ordinal, target, "refers_to", "referred_by")
        for m in _NEARBY_RE.finditer(c.text):
            near = _nearby(m, c.ordinal, searchable, positions)
            if near is not None and near not in captioned:
                link(c.ordinal, near, "refers_to", "referred_by")


def _caption(chunk: Chunk) -> tuple[Label, str] | None:
    """A table/figure chunk's label and caption line: from extra["caption"], else from a line among the first
    ``CAPTION_LINES`` of its text (a table chunk's text may start with its section heading)."""
    for text in (chunk.extra.get("caption") or "", "\n".join(chunk.text.split("\n", CAPTION_LINES)[:CAPTION_LINES])):
        m = _CAPTION_RE.search(text)
        if m:
            return _labels(m)[0], _line_from(text, m.start())
    return None


def _line_from(text: str, start: int) -> str:
    end = text.find("\n", start)
    return text[start:end if end >= 0 else len(text)]


def _labels(m: re.Match) -> list[Label]:
    if m["zh"]:
        family = _FAMILY[m["zh"]]
        return [(family, _number(m["zh_num"]) if m["zh_num"] else str(_chinese_number(m["zh_cn"])))]
    family = _FAMILY[m["en"][:3].lower()]
    return [(family, _number(item)) for item in _EN_ITEM_RE.findall(m["en_nums"])]


def _number(text: str) -> str:
    """"3.1", "3–1", "３－１" -> "3-1"; "A1" -> "a1"; "02" -> "2"."""
    parts = _NUMBER_SEPARATOR.split(text.lower())
    return "-".join(str(int(p)) if p.isdigit() else p for p in parts)


def _chinese_number(text: str) -> int:
    """十 -> 10, 十二 -> 12, 二十 -> 20, 二十三 -> 23, 三 -> 3 (labels stay below a hundred)."""
    if "十" in text:
        tens, _, ones = text.partition("十")
        return _CN_DIGITS.get(tens, 1) * 10 + _CN_DIGITS.get(ones, 0)
    return int("".join(str(_CN_DIGITS[ch]) for ch in text))


def _nearby(m: re.Match, ordinal: int, searchable: list[Chunk], positions: list[int]) -> int | None:
    """The nearest table/figure chunk (of the mentioned family) after "下表"/"the following table", or before
    "上表"/"the table above", within ``NEARBY_WINDOW`` chunks."""
    if m["zh"]:
        kind, ahead = ("table" if m["zh"] == "表" else "figure"), m["zh_dir"] == "下"
    else:
        kind = "table" if (m["en_a"] or m["en_b"]).lower() == "table" else "figure"
        ahead = (m["en_after"] or "").lower() == "following" or (m["en_dir"] or "").lower() == "below"
    here = bisect.bisect_left(positions, ordinal)
    window = range(here + 1, min(here + 1 + NEARBY_WINDOW, len(searchable))) if ahead else \
        range(here - 1, max(here - 1 - NEARBY_WINDOW, -1), -1)
    return next((searchable[i].ordinal for i in window if searchable[i].kind == kind), None)


def _same_page_edges(texts: list[Chunk], media: list[Chunk], link) -> None:
    media_by_page: dict[int, list[int]] = defaultdict(list)  # page -> ordinals, ascending
    for c in media:
        for page in c.pages:
            media_by_page[page].append(c.ordinal)
    if not media_by_page:
        return
    pairs: set[tuple[int, int, int]] = set()  # (distance, text, medium)
    for c in texts:
        for page in c.pages:
            on_page = media_by_page.get(page)
            if on_page:
                # only the few nearest media per text chunk can survive the cap: no pairs beyond them
                i = bisect.bisect_left(on_page, c.ordinal)
                pairs.update((abs(m - c.ordinal), c.ordinal, m)
                             for m in on_page[max(0, i - SAME_PAGE_LIMIT):i + SAME_PAGE_LIMIT])
    degree: dict[int, int] = defaultdict(int)
    for _, text, medium in sorted(pairs):
        if degree[text] < SAME_PAGE_LIMIT and degree[medium] < SAME_PAGE_LIMIT:
            degree[text] += 1
            degree[medium] += 1
            link(text, medium, "same_page", "same_page")
