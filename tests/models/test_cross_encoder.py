"""The local cross-encoder reranker on a tiny random-weight BERT built in the test (no downloads)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from tiny_encoders import build_tiny_cross_encoder

from docrag.config import Config
from docrag.errors import BackendError
from docrag.models.cross_encoder import CrossEncoderReranker
from docrag.models.rerank import make_reranker

pytest.importorskip("torch")  # the imports above load neither: both import the model libraries lazily
pytest.importorskip("sentence_transformers")

QUERY = "西湖龙井是哪里产的茶？"
TEXTS = ["西湖龙井产于浙江杭州西湖。", "BM25 is a lexical ranking function.", "茶", "旋转位置编码 rope " * 40]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_tiny_cross_encoder(tmp_path_factory.mktemp("models") / "tiny-ce")


@pytest.fixture(scope="module")
def reranker(model_dir):
    return CrossEncoderReranker(str(model_dir))


def manual_logits(model_dir, query: str, texts: list[str], max_length: int = 512) -> np.ndarray:
    """The relevance logit of each (query, text) pair, computed with transformers alone."""
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = BertForSequenceClassification.from_pretrained(model_dir).eval()
    batch = tokenizer([query] * len(texts), texts, padding=True, truncation=True, max_length=max_length,
                      return_tensors="pt")
    with torch.no_grad():
        return model(**batch).logits[:, 0].numpy()


def test_scores_are_the_models_raw_logits(reranker, model_dir):
    scores = reranker.score(QUERY, TEXTS)
    assert isinstance(scores, list) and all(isinstance(s, float) for s in scores)
    np.testing.assert_allclose(scores, manual_logits(model_dir, QUERY, TEXTS), atol=1e-4)
    assert len(set(np.round(scores, 3))) == len(TEXTS)  # distinct, so the order checks below mean something


def test_scores_follow_the_order_of_the_texts_and_do_not_depend_on_the_batch(reranker):
    scores = reranker.score(QUERY, TEXTS)
    np.testing.assert_allclose(reranker.score(QUERY, TEXTS[::-1]), scores[::-1], atol=1e-4)
    np.testing.assert_allclose([reranker.score(QUERY, [t])[0] for t in TEXTS], scores, atol=1e-4)  # no padding
    assert reranker.score(QUERY, []) == []


def test_long_pairs_are_truncated_to_max_length(model_dir):
    short = CrossEncoderReranker(str(model_dir), max_length=16)
    np.testing.assert_allclose(short.score(QUERY, TEXTS), manual_logits(model_dir, QUERY, TEXTS, max_length=16),
                               atol=1e-4)


def test_make_reranker_builds_it_by_name(model_dir):
    reranker = make_reranker(f"cross-encoder:{model_dir}", Config())
    assert isinstance(reranker, CrossEncoderReranker) and reranker.name == f"cross-encoder:{model_dir}"


def test_missing_model_or_library_is_a_backend_error(model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SENTENCE_TRANSFORMERS_HOME", str(tmp_path))  # an empty cache
    with pytest.raises(BackendError, match="cross-encoder:acme/absent.*does not download"):
        CrossEncoderReranker("acme/absent")
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # makes the import fail
    with pytest.raises(BackendError, match=r"\[llm\] extra"):
        CrossEncoderReranker(str(model_dir))
