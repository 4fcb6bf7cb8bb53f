"""Routing a question to the documents it names, and to the kind of content it asks for.

Documents. (company, product, year) by their file names and titles.

Questions over a folder of reports often name the document's subject and period ("What is 3M's FY2018
capital expenditure?", "贵州茅台2021年的营业收入是多少？"), while the passage that answers uses neither.
Each document gets a profile of *entity* terms (words of its file name, e.g. ``3m``, ``bestbuy``,
``贵州茅台``; of its title only when the file name has none, as titles in PDF metadata are often
boilerplate such as "Form 10-K") and *period* terms (years). A question routes to the documents whose entity terms
it contains (substring match on the question with spaces removed, so "Best Buy" finds ``BESTBUY``; an
acronym in capitals that starts a term also counts, so "MGM" finds ``MGMRESORTS``, and so does the start of
a Chinese name, so "江苏爱康" finds ``江苏爱康太阳能科技股份有限公司``), weighted by how rare the
term is among documents; among the best, those whose year the question names are kept when there are any.
"""

from __future__ import annotations

import bisect
import math
import re
from pathlib import Path

from docrag.config import RetrieveConfig
from docrag.retrieve.fusion import Ranked, reciprocal_rank_fusion
from docrag.retrieve.retrievers import IdsFor
from docrag.types import Filter

_TERM = re.compile(r"[a-z0-9]+|[\u4e00-\u9fff]+")
_ACRONYM = re.compile(r"\b[A-Z][A-Z0-9&]{2,}\b")
_YEAR = re.compile(r"(?<!\d)(19[89]\d|20[0-4]\d)(?!\d)")
_SHORT_FISCAL_YEAR = re.compile(r"\bFY\s?'?(\d{2})\b", re.I)  # FY21 -> 2021
# words of file names that say what kind of document it is, not whose: never entities
_GENERIC = {"10k", "10q", "8k", "20f", "k", "q", "earnings", "dated", "annual", "report", "quarterly", "final", "draft",
            "copy", "v1", "v2", "pdf", "doc", "docx", "the", "inc", "corp", "company", "ltd", "co", "plc", "group",
            "年报", "年度报告", "半年度报告", "季度报告", "招股说明书", "公告", "报告"}
_PERIOD = re.compile(r"^(?:q[1-4]|h[12]|fy)$")


def _is_entity(term: str) -> bool:
    if term in _GENERIC or term.isdigit() or _PERIOD.match(term):
        return False
    if term.isascii():  # short Latin words match too much as substrings, unless mixed like "3m"
        return len(term) >= 3 or (len(term) == 2 and any(c.isdigit() for c in term))
    return len(term) >= 2


def _terms(text: str) -> tuple[set[str], set[int]]:
    entities: set[str] = set()
    years: set[int] = set()
    for term in _TERM.findall(text.lower()):
        years.update(int(y) for y in _YEAR.findall(term))
        entities.update(part for part in _YEAR.sub(" ", term).split() if _is_entity(part))
    return entities, years


def profile_terms(path: str, title: str = "") -> tuple[set[str], set[int]]:
    """(entity terms, years) of a document, from its file name (its title when the name has no entities)."""
    entities, years = _terms(Path(path).stem)
    if not entities and title:
        entities, title_years = _terms(title)
        years |= title_years
    return entities, years


_MIN_SHORT_NAME = 4  # "江苏爱康" names 江苏爱康太阳能科技股份有限公司; 2-3 characters are too ambiguous
_SEPARATORS = r"[\s\-_'’.,]*"  # what a question may put inside a name ("Best Buy" names bestbuy)


def _cited_by_its_start(term: str) -> bool:
    """A Chinese name is usually cited by its start: a question holding a prefix of >= 4 characters names it."""
    return not term.isascii() and len(term) > _MIN_SHORT_NAME


class DocRouter:
    def __init__(self, docs: dict[str, dict]):
        """``docs``: document path -> metadata with at least "title" (see Store.doc_meta)."""
        self.profiles = {path: profile_terms(path, meta.get("title", "")) for path, meta in docs.items()}
        self.docs_of: dict[str, list[str]] = {}  # entity term -> documents: a query checks each term once
        for path, (entities, _) in self.profiles.items():
            for term in entities:
                self.docs_of.setdefault(term, []).append(path)
        n = max(len(self.profiles), 1)
        self.idf = {term: math.log(1 + n / len(paths)) for term, paths in self.docs_of.items()}
        self._sorted = sorted(self.docs_of)  # terms that start with a given string are one range of it

    def _starting_with(self, prefix: str) -> list[str]:
        lo = bisect.bisect_left(self._sorted, prefix)
        return self._sorted[lo:bisect.bisect_left(self._sorted, prefix + "\U0010ffff", lo)]

    def named(self, question: str) -> set[str]:
        """The entity terms a question names: a term inside it (spaces and punctuation removed, so "Best Buy"
        names ``bestbuy``), a term an acronym in capitals starts ("MGM": ``mgmresorts``), or a Chinese name whose
        start (4 characters or more) it holds ("江苏爱康"). Found by looking up the question's substrings, each
        extended only while some term starts with it: the cost grows with the question, not with the number of
        documents (testing every term on every query took 86% of search time at 23,000 documents)."""
        return set(self._mentions(question))

    def _mentions(self, question: str) -> dict[str, str]:
        """Entity term -> the (squashed, lower-case) text of the question that names it."""
        squashed = re.sub(_SEPARATORS[:-1] + "+", "", question.lower())
        found: dict[str, str] = {}
        for i in range(len(squashed)):
            for j in range(i + 1, len(squashed) + 1):
                start = squashed[i:j]
                candidates = self._starting_with(start)
                if not candidates:
                    break
                if start in self.idf:
                    found[start] = start
                if len(start) >= _MIN_SHORT_NAME:
                    found.update((t, start) for t in candidates if len(t) > len(start) and _cited_by_its_start(t))
        for acronym in _ACRONYM.findall(question):
            found.update((t, acronym.lower()) for t in self._starting_with(acronym.lower()))
        return found

    def without_names(self, question: str, routed: list[str]) -> str:
        """The question without the words that named the routed documents ("江苏爱康太阳能公司有哪些国有法人股东？" ->
        "公司有哪些国有法人股东？"): they chose the documents, and inside them they are on every page, so searching them
        again ranks the passages that repeat the name (a glossary, the cover) above the answer. The question itself
        when nothing would be left."""
        terms = {t for path in routed for t in self.profiles[path][0]}
        spans = sorted({text for term, text in self._mentions(question).items() if term in terms}, key=len,
                       reverse=True)
        out = question
        for text in spans:  # "Best Buy" is named by "bestbuy": separators may lie between its characters
            out = re.sub(_SEPARATORS.join(map(re.escape, text)) + r"(?:'s|’s)?", " ", out, flags=re.I)
        out = re.sub(r"\s+", " ", out).strip()
        return out if _TERM.search(out.lower()) else question

    def route(self, question: str) -> list[str]:
        """Documents the question names (best match, preferring the years it names); [] when it names none."""
        q = question.lower()
        scores: dict[str, float] = {}
        for t in sorted(self.named(question)):  # sorted: sums in the same order whatever the set's order
            for path in self.docs_of[t]:
                scores[path] = scores.get(path, 0.0) + self.idf[t]
        if not scores:
            return []
        best = max(scores.values())
        routed = [p for p, s in scores.items() if s >= best - 1e-9]
        years = {int(y) for y in _YEAR.findall(q)} | {2000 + int(y) for y in _SHORT_FISCAL_YEAR.findall(question)}
        in_period = [p for p in routed if self.profiles[p][1] & years]
        return sorted(in_period or routed)


# A question that asks for a figure, an amount or a ratio is usually answered by a table; one about a
# trend or a chart by a figure. (Numbers inside running text still match through the global search.)
_WANTS_TABLE = re.compile(
    r"how (?:much|many)|what (?:is|was|were|are) the [\w\s\-]*?(?:amount|total|value|number|ratio|rate|margin|"
    r"revenue|income|expense|cost|debt|cash|assets?|liabilit|equity|eps|capex|dividend)|in (?:usd|rmb|\$|millions?|"
    r"billions?|thousands?|percent)|calculate|compute|round to|balance sheet|income statement|cash ?flows? statement|"
    r"statement of (?:cash|operations|income|financial)|\btable\b|多少|金额|数额|比例|比率|占比|增长率|毛利率|"
    r"净利润|营业收入|资产负债表|利润表|现金流量表|财务报表|列表|表格|表\s*\d", re.I)
_WANTS_FIGURE = re.compile(r"\bchart\b|\bgraph\b|\bfigure\b|\bfig\.|\bplot\b|\bdiagram\b|"
                           r"图|走势|趋势图|曲线|示意", re.I)


# Chinese questions: 多少 asks for any quantity (a registered capital in the text, a price read off a chart), so
# in auto mode only a statement's words, a table's, or an amount of a reporting period (2008年度, 报告期) send one to
# the tables (chosen on the 10 prospectus_qa_zh questions: docs/benchmarks.md, "choices made per question")
_WANTS_TABLE_ZH = re.compile(r"金额|数额|比例|比率|占比|增长率|毛利率|净利润|营业收入|资产负债表|利润表|"
                             r"现金流量表|财务报表|列表|表格|表\s*\d|\d{4}\s*年度|报告期")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_LATIN_WORD = re.compile(r"[A-Za-z]+")


def is_chinese(question: str) -> bool:
    """More Chinese characters than Latin words (a Chinese question may name a company in English)."""
    cjk = len(_CJK.findall(question))
    return cjk > 0 and cjk >= len(_LATIN_WORD.findall(question))


def wanted_kinds(question: str, auto: bool = False) -> list[str]:
    """Chunk kinds ("table", "figure") the question asks for, if any. ``auto``: a Chinese question asks for tables
    only by a statement's or table's words or a reporting period's amount, not by 多少 alone."""
    kinds = []
    tables = _WANTS_TABLE_ZH if auto and is_chinese(question) else _WANTS_TABLE
    if tables.search(question):
        kinds.append("table")
    if _WANTS_FIGURE.search(question):
        kinds.append("figure")
    return kinds


class RoutedRetriever:
    """A retriever that also searches the documents a question names and the kind of content it asks for (tables
    for amounts, figures for charts), and fuses the lists by RRF (config ``retrieve.route*``)."""

    def __init__(self, retriever, router: DocRouter, config: RetrieveConfig, ids_for: IdsFor, table_retriever=None):
        """``table_retriever``: searches the tables alone (default: ``retriever``)."""
        self.retriever, self.router, self.config, self.ids_for = retriever, router, config, ids_for
        self.table_retriever = table_retriever or retriever
        self.name = retriever.name

    def search(self, query: str, k: int, where: Filter | None = None) -> Ranked:
        r = self.config
        # every list is searched as deep as retrieve.candidates whatever k is: a passage ranked low in
        # two lists can outrank one ranked high in one, so cutting the lists at k made the top k depend on k
        depth = max(k, r.candidates)
        scope = where
        lists, weights = [], []
        routed = self.router.route(query) if r.route != "off" else []
        inside = query  # what is searched inside the routed documents
        if routed:
            scope = Filter(doc_paths=tuple(routed)) & where
            if r.route_name_weight < 1:
                inside = self.router.without_names(query, routed)
            if inside == query:
                lists.append(self.retriever.search(query, depth, scope))
                weights.append(r.route_weight)
            else:  # the routed documents searched without the names that chose them, and a little with them
                if r.route_name_weight > 0:
                    lists.append(self.retriever.search(query, depth, scope))
                    weights.append(r.route_weight * r.route_name_weight)
                lists.append(self.retriever.search(inside, depth, scope))
                weights.append(r.route_weight * (1 - r.route_name_weight))
        if r.route != "filter" or not routed:
            lists.append(self.retriever.search(query, depth, where))
            weights.append(1.0)
        kinds = wanted_kinds(query, auto=r.route_kinds == "auto") if r.route_kinds else []
        if kinds:
            of_kind = Filter(kinds=tuple(kinds)) & scope
            if len(self.ids_for(of_kind)):
                # figures keep the mode's retriever: it holds their image vectors (index.image_embedder)
                by = self.table_retriever if kinds == ["table"] else self.retriever
                if by is not self.retriever and not by.search(_NUMBER.sub(" ", inside), 1, of_kind):
                    by = self.retriever  # no table holds a word of it but its numbers: asked in another language?
                lists.append(by.search(inside, depth, of_kind))
                weights.append(r.kind_weight)
        if len(lists) == 1:
            return lists[0][:k]
        return reciprocal_rank_fusion(lists, r.rrf_k, weights)[:k]
