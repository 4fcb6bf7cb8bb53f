from __future__ import annotations

import pytest

from docrag.config import Config
from docrag.errors import BackendError
from docrag.models.http_rerank import HTTPReranker
from docrag.models.rerank import make_reranker

pytest_plugins = ["fake_openai"]  # the fake_openai fixture

QUERY = "how do cats sleep"
TEXTS = ["dogs bark loudly", "cats sleep all day", "how cats hunt", "a cat can sleep anywhere"]


def expected(fake_openai) -> list[float]:
    return [fake_openai.relevance(QUERY, t) for t in TEXTS]


def test_jina_vllm_shape(fake_openai):
    reranker = make_reranker("http:fake-model", Config().updated(rerank__base_url=fake_openai.base_url))
    assert isinstance(reranker, HTTPReranker) and reranker.name == "http:fake-model"
    assert reranker.score(QUERY, TEXTS) == expected(fake_openai)  # input order, though the server sorts
    assert fake_openai.bodies("/v1/rerank") == [{"model": "fake-model", "query": QUERY, "documents": TEXTS,
                                                 "top_n": 4}]


def test_tei_shape_is_found_and_remembered(fake_openai):
    fake_openai.tei_rerank = True
    reranker = HTTPReranker("fake-model", base_url=fake_openai.base_url)
    assert reranker.score(QUERY, TEXTS) == expected(fake_openai)
    assert reranker.score(QUERY, TEXTS[:2]) == expected(fake_openai)[:2]
    bodies = fake_openai.bodies("/v1/rerank")
    assert ["documents" in b for b in bodies] == [True, False, False]  # one rejected try, then TEI's shape
    assert bodies[1] == {"query": QUERY, "texts": TEXTS}


def test_no_texts_no_request(fake_openai):
    assert HTTPReranker("fake-model", base_url=fake_openai.base_url).score(QUERY, []) == []
    assert fake_openai.requests == []


def test_errors(fake_openai):
    reranker = HTTPReranker("fake-model", base_url=fake_openai.base_url, max_retries=0)
    fake_openai.fail.append(503)
    with pytest.raises(BackendError, match="reranker at .*/v1/rerank: server error 503"):
        reranker.score(QUERY, TEXTS)
    fake_openai.fail.append(401)
    with pytest.raises(BackendError, match="unauthorized"):
        reranker.score(QUERY, TEXTS)
    assert len(fake_openai.requests) == 2  # neither made it try the TEI shape


def test_incomplete_answer_is_an_error(fake_openai):
    fake_openai.tei_rerank = True
    reranker = HTTPReranker("fake-model", base_url=fake_openai.base_url)
    reranker.score(QUERY, TEXTS)
    fake_openai.respond = lambda *args: [{"index": 0, "score": 1.0}]  # one score for two texts
    with pytest.raises(BackendError, match="unexpected response.*'score' for each of the 2 texts"):
        reranker.score(QUERY, TEXTS[:2])
