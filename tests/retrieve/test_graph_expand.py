import pytest

from docrag.index.store import Store
from docrag.retrieve.graph import GraphExpander
from docrag.types import Block, Chunk, Document

TEXTS = ["第一章 概况", "收入见表2。", "表2 收入\n主营 | 2019: 100", "成本上升。", "第二段很长的正文" * 20, "子块"]
KINDS = ["text", "text", "table", "text", "text", "parent"]
EDGES = [(1, 0, "prev"), (1, 2, "next"), (1, 0, "in_section"), (1, 2, "refers_to"), (1, 2, "same_page"),
         (3, 2, "prev"), (3, 4, "next"), (3, 0, "in_section"), (3, 5, "parent"), (3, 1, "same_page"),
         (2, 1, "referred_by")]


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "db.sqlite")
    chunks = [Chunk(t, "/d.pdf", i, 0, len(t), page_start=1, page_end=1, kind=k, extra={"n": i})
              for i, (t, k) in enumerate(zip(TEXTS, KINDS))]
    s.put_document(Document("/d.pdf", [Block(t) for t in TEXTS], file_type="pdf"), chunks, sha256="x", size=1,
                   mtime_ns=1, chunk_sig="s", edges=EDGES)
    yield s
    s.close()


def _ids(store):
    ids = store.chunk_ids_by_ordinal([("/d.pdf", i) for i in range(len(TEXTS))])
    return [ids[("/d.pdf", i)] for i in range(len(TEXTS))]


def _hits(store, ordinal_scores):
    ids = _ids(store)
    return store.hits([(ids[o], s) for o, s in ordinal_scores])


def _summary(hits):
    return [(h.ordinal, round(h.score, 6), h.extra.get("via")) for h in hits]


def test_expansion_scores_by_edge_weight_and_keeps_the_hits_first(store):
    hits = _hits(store, [(1, 1.0)])
    out = GraphExpander(store, token_budget=1000).expand(hits)
    assert out[0] is hits[0]
    # the table: refers_to 0.9 beats next 0.5 and same_page 0.6; the heading: prev 0.5 beats in_section 0.4
    assert _summary(out) == [(1, 1.0, None), (2, 0.9, "refers_to"), (0, 0.5, "prev")]
    table = out[1]
    assert table.scores == {"graph": pytest.approx(0.9)} and table.kind == "table"
    assert table.extra == {"n": 2, "via": "refers_to", "from": hits[0].chunk_id}


def test_chunk_reached_from_two_hits_keeps_its_best_score_and_hits_are_not_added_again(store):
    hits = _hits(store, [(3, 0.8), (1, 0.5)])
    out = GraphExpander(store, token_budget=1000).expand(hits)
    ids = _ids(store)
    assert _summary(out) == [(3, 0.8, None), (1, 0.5, None), (5, 0.8, "parent"), (2, 0.45, "refers_to"),
                             (4, 0.4, "next"), (0, 0.32, "in_section")]
    assert out[3].extra["from"] == ids[1]  # 0.45 via chunk 1's reference beats 0.4 via chunk 3's prev
    assert len({h.chunk_id for h in out}) == len(out)


def test_token_budget_skips_what_does_not_fit(store):
    hits = _hits(store, [(3, 1.0)])
    # parent (2 chars) and same-page text (6) fit 20 characters; the table (prev, 17) and the long paragraph
    # (next, 160) do not; the heading (in_section, 6), weaker than both, still does
    out = GraphExpander(store, token_budget=20).expand(hits)
    assert [h.ordinal for h in out] == [3, 5, 1, 0]
    assert sum(len(h.text) for h in out[1:]) <= 20
    assert GraphExpander(store, token_budget=0).expand(hits) == hits


def test_weights_and_token_counter_are_configurable(store):
    hits = _hits(store, [(1, 1.0)])
    out = GraphExpander(store, weights={"same_page": 0.7, "prev": 0}).expand(hits)
    assert _summary(out) == [(1, 1.0, None), (2, 0.7, "same_page")]
    assert GraphExpander(store, token_budget=1, count_tokens=lambda text: 1).expand(hits)[1].ordinal == 2


def test_negative_scores_still_rank_stronger_edges_higher(store):
    out = GraphExpander(store).expand(_hits(store, [(1, -2.0)]))
    assert [h.ordinal for h in out] == [1, 2, 0] and out[1].score > out[2].score > -2.0 * 4


def test_nothing_to_expand(store):
    assert GraphExpander(store).expand([]) == []
    hits = _hits(store, [(0, 1.0)])  # the heading has no edges out
    assert GraphExpander(store).expand(hits) == hits
