from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

import docrag
from docrag.config import Config
from docrag.errors import BackendError
from docrag.models.embed import make_embedder
from docrag.models.openai_embed import OpenAIEmbedder

pytest_plugins = ["fake_openai"]  # the fake_openai fixture


def expected(fake_openai, texts: list[str]) -> np.ndarray:
    vectors = np.array([fake_openai.embedding(t) for t in texts], np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_batches_in_order_and_normalised(fake_openai):
    fake_openai.reverse_embeddings = True  # clients must sort by "index"
    embedder = OpenAIEmbedder("fake-model", base_url=fake_openai.base_url, batch_size=2)
    texts = ["alpha", "beta", "gamma", "delta", "epsilon"]
    vectors = embedder.embed_passages(texts)
    assert [b["input"] for b in fake_openai.bodies("/v1/embeddings")] == [texts[0:2], texts[2:4], texts[4:]]
    assert vectors.dtype == np.float32 and vectors.shape == (5, 8)
    np.testing.assert_allclose(vectors, expected(fake_openai, texts), rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, rtol=1e-6)


def test_query_vector_and_lazy_dim(fake_openai):
    embedder = OpenAIEmbedder("fake-model", base_url=fake_openai.base_url)
    assert embedder.dim == 8  # learned by embedding a probe
    assert fake_openai.bodies("/v1/embeddings") == [{"model": "fake-model", "input": ["dim"]}]
    query = embedder.embed_query("where is it")
    assert query.shape == (8,)
    np.testing.assert_allclose(query, expected(fake_openai, ["where is it"])[0], rtol=1e-6)
    assert embedder.embed_passages([]).shape == (0, 8)
    assert len(fake_openai.requests) == 2  # dim was learned once


def test_factory_name_and_version(fake_openai, monkeypatch):
    monkeypatch.setenv("EMBEDDING_KEY", "k")
    config = Config().updated(embedder_base_url=fake_openai.base_url, api_key_env="EMBEDDING_KEY")
    embedder = make_embedder("openai:fake-model", config)
    assert isinstance(embedder, OpenAIEmbedder)
    assert embedder.name == "openai:fake-model"
    assert embedder.version == "fake-model"  # the model, not where it is served
    embedder.embed_query("x")
    assert fake_openai.requests[-1].headers["authorization"] == "Bearer k"


def test_errors_name_the_embedding_server(fake_openai):
    with pytest.raises(BackendError, match="embedding server at .*/v1/embeddings: 404 not found"):
        OpenAIEmbedder("other-model", base_url=fake_openai.base_url).embed_query("x")
    fake_openai.api_key = "secret"
    with pytest.raises(BackendError, match="unauthorized"):
        OpenAIEmbedder("fake-model", base_url=fake_openai.base_url).embed_passages(["x"])


def test_an_index_records_the_model_not_the_server_or_its_credentials(fake_openai, tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# 茶\n\n龙井茶产于杭州。\n\n普洱茶产于云南。", encoding="utf-8")
    secret_url = fake_openai.base_url.replace("http://", "http://user:hunter2@")
    idx = docrag.Index.open(tmp_path / "ix", create=True, embedder="openai:fake-model", embedder_base_url=secret_url)
    assert idx.add(tmp_path / "docs").embedded
    on_disk = b"".join(p.read_bytes() for p in (tmp_path / "ix").rglob("*") if p.is_file())
    assert b"hunter2" not in on_disk and b"user:" not in on_disk
    assert json.loads((tmp_path / "ix" / "manifest.json").read_text())["embedder"]["version"] == "fake-model"
    # the server moved (another address, no credentials): the vectors are still the model's
    moved = fake_openai.base_url.replace("127.0.0.1", "localhost")
    idx = docrag.Index.open(tmp_path / "ix", embedder="openai:fake-model", embedder_base_url=moved)
    assert idx.search("龙井", mode="dense")


def test_indexes_that_recorded_the_server_address_keep_working(fake_openai, tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("龙井茶产于杭州。", encoding="utf-8")
    options = {"embedder": "openai:fake-model", "embedder_base_url": fake_openai.base_url}
    docrag.Index.open(tmp_path / "ix", create=True, **options).add(tmp_path / "docs")
    old = {"name": "openai:fake-model", "version": "fake-model @ http://old-host:8000/v1", "dim": 8}
    with sqlite3.connect(tmp_path / "ix" / "docrag.sqlite") as db:  # as docrag 0.1 recorded it
        db.execute("UPDATE meta SET value=? WHERE key='embedder'", (json.dumps(old),))
    assert docrag.Index.open(tmp_path / "ix", **options).search("龙井", mode="dense")
