"""Hard negatives mined from the bundled sample's index: never the positive or its passage, and none scoring above
the margin x the positive's score."""

from __future__ import annotations

import pytest

from docrag.adapt.negatives import MiningReport, NegativeMiner, same_passage
from docrag.adapt.pairs import Pair, PairSynthesizer
from docrag.retrieve.retrievers import BM25Retriever
from docrag.types import Hit


@pytest.fixture(scope="module")
def pairs(sample_index):
    return PairSynthesizer().synthesize(sample_index.store, sample_index.resources.analyzer)[0]


def miner(index, **options) -> NegativeMiner:
    res = index.resources
    return NegativeMiner(res.store, res.embedder(), BM25Retriever(res.bm25(), res.analyzer), res.vectors(), **options)


def test_mining_never_returns_the_positive_or_its_passage(sample_index, pairs):
    mine = miner(sample_index, per_pair=3, margin=10.0)  # no margin filter: every candidate may come back
    sources = {h.chunk_id: h for h in sample_index.store.hits([(p.chunk_id, 0.0) for p in pairs])}
    report = MiningReport()
    found = 0
    some = pairs[::3]
    for pair in some:
        for hit in mine.mine_one(pair, sources[pair.chunk_id], report):
            found += 1
            assert hit.chunk_id != pair.chunk_id
            assert hit.text != sources[pair.chunk_id].text
            assert pair.query not in hit.text
            assert not (hit.doc_path == pair.doc and hit.char_start < sources[pair.chunk_id].char_end
                        and sources[pair.chunk_id].char_start < hit.char_end)
    assert found > len(some)  # most pairs got several negatives
    assert report.dropped["same passage"] >= len(some)  # each positive's own chunk was a candidate, and dropped


def test_negatives_above_the_margin_are_dropped(sample_index, pairs):
    embedder = sample_index.resources.embedder()
    some = pairs[::8]
    negatives, report = miner(sample_index, per_pair=5, margin=0.9).mine(some)
    assert report.dropped["above margin"] > 0
    for pair, texts in zip(some, negatives):
        if texts:
            query = embedder.embed_query(pair.query)
            positive = float(embedder.embed_passages([pair.positive])[0] @ query)
            assert max(embedder.embed_passages(texts) @ query) <= 0.9 * positive + 1e-4
    none, strict = miner(sample_index, margin=0.0).mine(some)
    assert not any(none) and strict.with_negatives == 0  # every candidate scores above 0 x the positive


def test_bm25_alone_mines_an_index_without_vectors(sample_index, pairs):
    res = sample_index.resources
    bm25_only = NegativeMiner(res.store, res.embedder(), BM25Retriever(res.bm25(), res.analyzer), None, margin=10.0,
                              depth=5)  # the candidates are embedded for the margin filter: a few
    negatives, report = bm25_only.mine(pairs[:3])
    assert report.with_negatives > 0 and all(len(n) <= 1 for n in negatives)


def _hit(chunk_id, text="some text", doc="a.md", start=0, end=10, **extra) -> Hit:
    return Hit(chunk_id=chunk_id, text=text, doc_path=doc, score=0.0, char_start=start, char_end=end, extra=extra)


def test_same_passage():
    pair = Pair("what is tea", "green tea", 1, "a.md", None, "cloze")
    source = _hit(1, "Green tea is tea. It grows.", start=100, end=200, parent=3)
    assert same_passage(_hit(1), pair, source)
    assert same_passage(_hit(2, start=150, end=250), pair, source)  # overlaps the positive's chunk
    assert not same_passage(_hit(2, start=200, end=250), pair, source)  # touches it only
    assert same_passage(_hit(2, "Green  tea is tea.\nIt grows.", doc="copy.md"), pair, source)  # the same text
    assert same_passage(_hit(2, start=300, end=400, parent=3), pair, source)  # a sibling of one parent
    assert same_passage(_hit(2, "Q: what is tea", doc="b.md"), pair, source)  # holds the query
    assert not same_passage(_hit(2, start=150, end=250, doc="b.md"), pair, source)
