import numpy as np
import pytest

import docrag
from docrag.config import RetrieveConfig
from docrag.retrieve.routing import DocRouter, RoutedRetriever, profile_terms, wanted_kinds

DOCS = {f"/r/{name}": {"title": title} for name, title in [
    ("3M_2018_10K.pdf", "Form 10-K"), ("3M_2022_10K.pdf", "Form 10-K"), ("BESTBUY_2023_10K.pdf", "Form 10-K"),
    ("MGMRESORTS_2022Q4_EARNINGS.pdf", "er"), ("PFIZER_2021_10K.pdf", ""), ("贵州茅台_2021_年报.pdf", ""), ("江苏爱康太阳能科技股份有限公司.PDF", ""),
    ("scan0001.pdf", "Netflix Annual Report 2017"), ("notes.md", "")]}


def test_profile_terms_come_from_the_file_name_and_drop_document_types_and_periods():
    assert profile_terms("/r/MGMRESORTS_2022Q4_EARNINGS.pdf", "er") == ({"mgmresorts"}, {2022})
    assert profile_terms("/r/3M_2018_10K.pdf", "Form 10-K filed for") == ({"3m"}, {2018})
    assert profile_terms("/r/贵州茅台_2021_年报.pdf") == ({"贵州茅台"}, {2021})
    # titles are often boilerplate: used only when the file name has no entity words
    assert profile_terms("/r/scan0001.pdf", "Netflix Annual Report 2017") == ({"scan0001"}, set())
    assert profile_terms("/r/2017_10K.pdf", "Netflix Annual Report 2017") == ({"netflix"}, {2017})


@pytest.mark.parametrize("question, expected", [
    ("What is the FY2018 capital expenditure amount for 3M?", ["/r/3M_2018_10K.pdf"]),
    ("Is 3M capital intensive?", ["/r/3M_2018_10K.pdf", "/r/3M_2022_10K.pdf"]),
    ("How did Best Buy's revenue change in FY2023?", ["/r/BESTBUY_2023_10K.pdf"]),
    ("Which region had the worst performance for MGM during FY2022?", ["/r/MGMRESORTS_2022Q4_EARNINGS.pdf"]),
    ("Did Pfizer grow its PPNE between FY20 and FY21?", ["/r/PFIZER_2021_10K.pdf"]),
    ("贵州茅台2021年的营业收入是多少？", ["/r/贵州茅台_2021_年报.pdf"]),
    ("江苏爱康太阳能公司有哪些控股子公司？", ["/r/江苏爱康太阳能科技股份有限公司.PDF"]),
    ("江苏省有哪些光伏企业？", []),  # three characters of a name are not enough
    ("What drove net sales growth?", []),  # "net" is not Netflix, "sales" names nothing
])
def test_route(question, expected):
    assert DocRouter(DOCS).route(question) == expected


@pytest.mark.parametrize("question, kinds", [
    ("What is the FY2018 capital expenditure amount (in USD millions) for 3M?", ["table"]),
    ("公司2019年的营业收入是多少？", ["table"]),
    ("请描述公司股价走势图", ["figure"]),
    ("What is reciprocal rank fusion?", []),
])
def test_wanted_kinds(question, kinds):
    assert wanted_kinds(question) == kinds


def test_a_question_naming_a_file_ranks_its_passages_first(tmp_path):
    (tmp_path / "ACME_2020_report.md").write_text("# Revenue\n\nRevenue grew because of strong sales.\n", encoding="utf-8")
    (tmp_path / "GLOBEX_2020_report.md").write_text("# Revenue\n\nRevenue grew because of strong sales in Asia.\n",
                                                    encoding="utf-8")
    with docrag.Index.open(tmp_path / "idx", create=True, dense=False, route_kinds=True) as idx:
        idx.add(tmp_path)
        assert idx.search("Why did Acme's revenue grow?", k=1)[0].doc_path.endswith("ACME_2020_report.md")
        assert idx.search("Why did Globex's revenue grow?", k=1)[0].doc_path.endswith("GLOBEX_2020_report.md")
        only = idx.search("Why did Acme's revenue grow?", k=5, rerank="none")
        with docrag.Index.open(tmp_path / "idx", route="filter") as filtered:
            assert {h.doc_path for h in filtered.search("Why did Acme's revenue grow?", k=5)} == {only[0].doc_path}


def test_the_top_hits_do_not_depend_on_how_many_are_asked_for(tmp_path):
    # routed, global and table lists are fused by RRF: cutting each list at k before fusing used to let a
    # passage ranked 3rd in two lists drop out of the top 1 that it wins with deeper lists
    import random

    rng = random.Random(7)
    words = "revenue cash income margin debt assets sales growth tax inventory".split()
    for company in ("ACME", "GLOBEX", "INITECH"):
        lines = [f"# {company} report"]
        for n in range(12):
            lines.append(" ".join(rng.choices(words, k=12)) + ".")
            lines.append("| item | 2020 |\n|---|---|\n| " + " ".join(rng.choices(words, k=3)) + f" | {n} |")
        (tmp_path / f"{company}_2020_report.md").write_text("\n\n".join(lines), encoding="utf-8")
    with docrag.Index.open(tmp_path / "idx", create=True, dense=False, route_kinds=True) as idx:
        idx.add(tmp_path)
        for company in ("Acme", "Globex", "Initech"):
            for word in words:
                q = f"How much {word} and cash did {company} have?"
                deep = [h.chunk_id for h in idx.search(q, k=40)]
                for k in (1, 2, 3):
                    assert [h.chunk_id for h in idx.search(q, k=k)] == deep[:k], (q, k)


def _named_by_testing_every_term(router: DocRouter, question: str) -> set[str]:
    """The definition ``DocRouter.named`` implements by lookups: every term tested against the question."""
    import re

    from docrag.retrieve.routing import _ACRONYM, _MIN_SHORT_NAME

    squashed = re.sub(r"[\s\-_'’.,]+", "", question.lower())
    acronyms = {a.lower() for a in _ACRONYM.findall(question)}
    return {t for t in router.docs_of
            if t in squashed or any(t.startswith(a) for a in acronyms)
            or (not t.isascii() and len(t) > _MIN_SHORT_NAME
                and any(t[:n] in squashed for n in range(len(t) - 1, _MIN_SHORT_NAME - 1, -1)))}


def test_named_terms_are_those_found_by_testing_every_term():
    import random

    rng = random.Random(7)
    names = ["3M", "BESTBUY", "MGMRESORTS", "PFIZER", "AMCOR", "ULTABEAUTY", "JOHNSON_JOHNSON", "PEPSICO", "BOEING",
             "贵州茅台", "江苏爱康太阳能科技股份有限公司", "中国石油天然气股份有限公司", "中国石化", "安徽黄山胶囊股份有限公司",
             "浙江龙盛集团股份有限公司", "Netflix", "AB12", "mgm", "江苏爱康科技"]
    docs = {f"/r/{name}_{2015 + n % 9}_10K.pdf": {"title": ""} for n, name in enumerate(names)}
    router = DocRouter(docs)
    words = ["what", "is", "the", "revenue", "of", "in", "FY2021", "公司", "的", "营业收入", "是多少", "Best Buy",
             "MGM", "PEP", "江苏爱康", "中国石油", "中国石", "安徽黄山胶囊", "浙江龙", "Johnson & Johnson", "3M's",
             "Netflix", "AB12", "ULTA", "boeing", "江苏"]
    for _ in range(400):
        question = " ".join(rng.choice(words) for _ in range(rng.randint(1, 8)))
        assert router.named(question) == _named_by_testing_every_term(router, question), question


@pytest.mark.parametrize("question, always, auto", [
    # English amount questions route to tables either way
    ("What is the FY2018 capital expenditure amount (in USD millions) for 3M?", ["table"], ["table"]),
    ("How much cash did Best Buy have?", ["table"], ["table"]),
    # Chinese: 多少 alone asks for any quantity (a registered capital in the text, a price on a chart)
    ("江苏爱康太阳能公司和安徽黄山胶囊股份有限公司谁的注册资本高？分别是多少？", ["table"], []),
    ("2006年中，多晶硅价格大约是多少？", ["table"], []),
    # ... a reporting period's amount, a statement's or a table's words do
    ("江苏爱康太阳能2008年度无形资产投资多少？", ["table"], ["table"]),
    ("公司2019年的营业收入是多少？", ["table"], ["table"]),
    ("报告期内采购金额有什么变化？", ["table"], ["table"]),
    ("表格中哪些茶属于半发酵的青茶", ["table"], ["table"]),
    # a Chinese question naming an English company is still Chinese
    ("3M公司的注册资本是多少？", ["table"], []),
    ("请描述公司股价走势图", ["figure"], ["figure"]),
])
def test_wanted_kinds_auto_by_language(question, always, auto):
    assert wanted_kinds(question) == always
    assert wanted_kinds(question, auto=True) == auto


@pytest.mark.parametrize("question, expected", [
    ("江苏爱康太阳能公司有哪些国有法人股东？", "公司有哪些国有法人股东？"),
    ("江苏爱康太阳能科技股份有限公司的设立历史", "的设立历史"),
    ("How did Best Buy's revenue change in FY2023?", "How did revenue change in FY2023?"),
    ("What is the FY2018 capital expenditure amount for 3M?", "What is the FY2018 capital expenditure amount for ?"),
    ("Which region had the worst performance for MGM during FY2022?",
     "Which region had the worst performance for during FY2022?"),
    ("贵州茅台", "贵州茅台"),  # nothing would be left: the question as asked
])
def test_the_routed_search_drops_the_names_that_routed_it(question, expected):
    router = DocRouter(DOCS)
    assert router.without_names(question, router.route(question)) == expected


def test_route_switches_still_force_tables_and_names(tmp_path):
    (tmp_path / "ACME_2020_report.md").write_text(
        "# Acme\n\nAcme Acme Acme: Acme sells anvils. Acme.\n\n# Numbers\n\n| item | 2020 |\n|---|---|\n"
        "| anvils sold | 5,000 |\n", encoding="utf-8")
    (tmp_path / "GLOBEX_2020_report.md").write_text("# Globex\n\nGlobex sells anvils too.\n", encoding="utf-8")
    calls: list[str] = []
    with docrag.Index.open(tmp_path / "idx", create=True, dense=False, mode="bm25") as idx:
        idx.add(tmp_path)
    for route_kinds, name_weight, question, tables, names_only in [
            ("auto", 0.25, "How many anvils did Acme sell?", True, False),
            (False, 0.25, "How many anvils did Acme sell?", False, False),
            ("auto", 0.25, "Acme卖了多少铁砧？", False, False),  # 多少 alone: no table search in auto
            (True, 0.25, "Acme卖了多少铁砧？", True, False),
            ("auto", 1.0, "How many anvils did Acme sell?", True, True)]:
        with docrag.Index.open(tmp_path / "idx", mode="bm25", route_kinds=route_kinds,
                               route_name_weight=name_weight) as idx:
            bm25 = idx.searcher.retriever("bm25")
            seen: list[tuple[str, object]] = []
            original = type(bm25).search

            def spy(self, query, k, where=None, _seen=seen, _original=original):
                _seen.append((query, where))
                return _original(self, query, k, where)

            type(bm25).search = spy
            try:
                idx.search(question, k=3)
            finally:
                type(bm25).search = original
            kinds = [w.kinds for _, w in seen if w is not None and w.kinds]
            assert bool(kinds) == tables, (route_kinds, question)
            queries = {q for q, _ in seen}
            assert (queries == {question}) == names_only, (name_weight, queries)
            calls.append(question)
    assert len(calls) == 5


@pytest.mark.parametrize("table_search, mode, question, dense_sees_tables, bm25_sees_tables", [
    ("bm25", "hybrid", "表格中哪些茶属于半发酵的青茶", False, True),
    ("mode", "hybrid", "表格中哪些茶属于半发酵的青茶", True, True),
    ("bm25", "dense", "表格中哪些茶属于半发酵的青茶", True, False),
    # no table holds a word of it (an English question, Chinese tables): the mode's retriever searches them then
    ("bm25", "hybrid", "How many chapters does the Classic of Tea by Lu Yu have?", True, True),
    # a search that also asks for figures keeps the mode's retriever (it holds the figures' image vectors)
    ("bm25", "hybrid", "表格里的价格走势图", True, True),
])
def test_the_table_search_is_lexical_in_hybrid_mode(sample_index, monkeypatch, table_search, mode, question,
                                                     dense_sees_tables, bm25_sees_tables):
    from docrag.retrieve.retrievers import BM25Retriever, DenseRetriever

    seen: dict[str, list] = {"bm25": [], "dense": []}
    for name, cls in (("bm25", BM25Retriever), ("dense", DenseRetriever)):
        def search(self, query, k, where=None, _name=name, _original=cls.search):
            seen[_name].append(where)
            return _original(self, query, k, where)
        monkeypatch.setattr(cls, "search", search)
    with docrag.Index.open(sample_index.path, readonly=True, config=sample_index.path.parent / "docrag.toml",
                           table_search=table_search) as idx:
        assert idx.search(question, k=3, mode=mode)
    assert any(w is not None and "table" in w.kinds for w in seen["dense"]) == dense_sees_tables
    assert any(w is not None and "table" in w.kinds for w in seen["bm25"]) == bm25_sees_tables


class _Recording:
    """A retriever that finds chunk 1 for a query holding one of ``words``, and records its table searches."""

    def __init__(self, name: str, words: set[str]):
        self.name, self.words, self.table_queries = name, words, []

    def search(self, query, k, where=None):
        if where is not None and where.kinds:
            self.table_queries.append(query)
        return [(1, 1.0)] if self.words & set(query.lower().replace("?", " ").split()) else []


@pytest.mark.parametrize("table_words, by_bm25", [
    ({"revenue", "2019"}, True),   # the tables hold the question's words: BM25 searches them
    ({"2019"}, False),             # only its number (Chinese tables, an English question): the mode's search
    (set(), False),
])
def test_the_table_search_falls_back_to_the_mode_when_no_table_holds_a_word_of_the_question(table_words, by_bm25):
    mode, bm25 = _Recording("hybrid", {"revenue"}), _Recording("bm25", table_words)
    routed = RoutedRetriever(mode, DocRouter({}), RetrieveConfig(), lambda where: np.array([1]), table_retriever=bm25)
    question = "What was the revenue in 2019?"
    routed.search(question, 5)
    assert (question in bm25.table_queries) == by_bm25
    assert (question in mode.table_queries) == (not by_bm25)
