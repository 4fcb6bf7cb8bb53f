"""Our BM25 wiring (tokens -> bm25s -> chunk ids) against bm25s itself and against the formula."""

import math

import bm25s
import numpy as np

from docrag.index.bm25 import BM25Index, build_from_texts
from docrag.retrieve import BM25Retriever
from docrag.text.analyzer import Analyzer

CORPUS = [
    "旋转位置编码（RoPE）通过旋转查询和键向量注入位置信息。",
    "BM25 uses term frequency saturation and document length normalisation.",
    "混合检索把 BM25 和稠密检索的结果用倒数排序融合合并。",
    "龙井茶产于浙江杭州西湖周边的群山之中，是著名的绿茶。",
    "Dense retrieval embeds queries and passages with models such as e5.",
    "倒数排序融合的常数 k 通常取 60。",
]
QUERIES = ["RoPE 位置编码", "BM25 length normalisation", "倒数排序融合", "龙井 绿茶 杭州", "dense e5 models"]


def test_scores_equal_bm25s_on_the_same_tokens():
    analyzer = Analyzer()
    ids = np.array([10, 11, 12, 13, 14, 15])
    ours = build_from_texts(ids, CORPUS, analyzer)
    ref = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
    ref.index([analyzer.tokenize(t) for t in CORPUS], show_progress=False)
    for q in QUERIES:
        qt = [t for t in analyzer.tokenize(q) if t in ref.vocab_dict]
        np.testing.assert_allclose(ours.scores(analyzer.tokenize(q)), ref.get_scores(qt), rtol=1e-6)
        hits = BM25Retriever(ours, analyzer).search(q, k=3)
        ref_top = np.argsort(-ref.get_scores(qt), kind="stable")[:3]
        assert [cid for cid, _ in hits][0] == ids[ref_top[0]]


def test_score_matches_lucene_formula_by_hand():
    docs = [["a", "b", "b"], ["a", "c"], ["c", "d", "e", "f"]]
    index = BM25Index.build(np.arange(3), docs, k1=1.5, b=0.75)
    n, avgdl = 3, (3 + 2 + 4) / 3

    def expected(term, doc):
        df = sum(term in d for d in docs)
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        tf = doc.count(term)
        # Lucene's BM25 drops the constant (k1 + 1) factor of the textbook formula
        return idf * tf / (tf + 1.5 * (1 - 0.75 + 0.75 * len(doc) / avgdl))

    got = index.scores(["b", "c"])
    want = [expected("b", d) + expected("c", d) for d in docs]
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_unknown_terms_score_zero_and_empty_index_is_searchable():
    analyzer = Analyzer()
    index = build_from_texts(np.arange(2), ["苹果 香蕉", "香蕉 橙子"], analyzer)
    assert not index.scores(["不存在的词"]).any()
    empty = build_from_texts(np.empty(0, dtype=np.int64), [], analyzer)
    assert BM25Retriever(empty, analyzer).search("苹果", k=5) == []


def test_save_and_load_roundtrip(tmp_path):
    analyzer = Analyzer()
    index = build_from_texts(np.array([5, 7, 9]), CORPUS[:3], analyzer)
    index.save(tmp_path / "bm25")
    loaded = BM25Index.load(tmp_path / "bm25")
    q = analyzer.tokenize("BM25 融合")
    np.testing.assert_allclose(index.scores(q), loaded.scores(q))
    assert list(loaded.chunk_ids) == [5, 7, 9]
    assert not list(tmp_path.glob("*.tmp-*"))
