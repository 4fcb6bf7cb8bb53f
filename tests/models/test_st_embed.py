"""sentence-transformers embedders on tiny random-weight BERTs built in the test (no downloads): pooling,
query instructions, normalisation, version fingerprints, loading errors, and an index built with one."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from tiny_encoders import build_tiny_bi_encoder

import docrag
from docrag.config import Config
from docrag.errors import BackendError, IndexStateError
from docrag.models.embed import make_embedder
from docrag.models.st_embed import BGE_QUERY_INSTRUCTIONS, SentenceTransformerEmbedder, pick_query_instruction

pytest.importorskip("torch")  # the imports above load neither: both import the model libraries lazily
pytest.importorskip("sentence_transformers")

TEXTS = ["西湖龙井是绿茶。", "BM25 is a lexical ranking function.", "a", "检索增强生成 retrieval augmented generation"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {
        "cls": build_tiny_bi_encoder(root / "st-cls", "cls"),
        "mean": build_tiny_bi_encoder(root / "st-mean", "mean"),  # same weights (seed), other pooling
        "prompts": build_tiny_bi_encoder(root / "st-prompts", "mean",
                                         prompts={"query": "query: ", "passage": "passage: "}),
        "plain": build_tiny_bi_encoder(root / "plain-bert", with_st_config=False),
        "plain-bge": build_tiny_bi_encoder(root / "bge-small-en-v1.5-tiny", with_st_config=False),
    }


def manual_embedding(directory, texts: list[str], pooling: str) -> np.ndarray:
    """What the model card says, computed with transformers alone: [CLS] vector or masked token mean, L2-normed."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = AutoModel.from_pretrained(directory).eval()
    batch = tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    if pooling == "cls":
        pooled = hidden[:, 0]
    else:
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(pooled, dim=-1).numpy()


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_pooling_from_the_sentence_transformers_config_matches_a_manual_computation(models, pooling):
    embedder = SentenceTransformerEmbedder(str(models[pooling]))
    assert embedder.pooling == pooling
    np.testing.assert_allclose(embedder.embed_passages(TEXTS), manual_embedding(models[pooling], TEXTS, pooling),
                               atol=1e-5)


def test_cls_and_mean_pooling_give_different_vectors(models):
    cls = SentenceTransformerEmbedder(str(models["cls"])).embed_passages(TEXTS)
    mean = SentenceTransformerEmbedder(str(models["mean"])).embed_passages(TEXTS)
    assert np.abs(cls - mean).max() > 0.05


def test_plain_hugging_face_directory_pools_by_model_family(models):
    plain = SentenceTransformerEmbedder(str(models["plain"]))
    assert (plain.pooling, plain.query_instruction) == ("mean", "")
    np.testing.assert_allclose(plain.embed_passages(TEXTS), manual_embedding(models["plain"], TEXTS, "mean"),
                               atol=1e-5)
    bge = SentenceTransformerEmbedder(str(models["plain-bge"]))  # BGE: [CLS] vector, English instruction
    assert (bge.pooling, bge.query_instruction) == ("cls", BGE_QUERY_INSTRUCTIONS["en"])
    np.testing.assert_allclose(bge.embed_passages(TEXTS), manual_embedding(models["plain-bge"], TEXTS, "cls"),
                               atol=1e-5)
    query = "what is bm25"
    np.testing.assert_allclose(bge.embed_query(query),
                               manual_embedding(models["plain-bge"], [BGE_QUERY_INSTRUCTIONS["en"] + query], "cls")[0],
                               atol=1e-5)


def test_query_instruction_goes_before_queries_only(models):
    embedder = SentenceTransformerEmbedder(str(models["cls"]), query_instruction="Represent: ")
    query = "西湖龙井是哪里产的茶？"
    np.testing.assert_allclose(embedder.embed_query(query),
                               manual_embedding(models["cls"], ["Represent: " + query], "cls")[0], atol=1e-5)
    np.testing.assert_allclose(embedder.embed_passages([query])[0], manual_embedding(models["cls"], [query], "cls")[0],
                               atol=1e-5)
    assert not np.allclose(embedder.embed_query(query), embedder.embed_passages([query])[0], atol=1e-3)


def test_the_models_own_prompts_are_used(models):
    embedder = SentenceTransformerEmbedder(str(models["prompts"]))
    assert (embedder.query_instruction, embedder.passage_prompt) == ("query: ", "passage: ")
    np.testing.assert_allclose(embedder.embed_query("tea"), manual_embedding(models["prompts"], ["query: tea"],
                                                                             "mean")[0], atol=1e-5)
    np.testing.assert_allclose(embedder.embed_passages(["tea"]), manual_embedding(models["prompts"], ["passage: tea"],
                                                                                  "mean"), atol=1e-5)
    assert SentenceTransformerEmbedder(str(models["prompts"]), query_instruction="").query_instruction == ""


@pytest.mark.parametrize("name, explicit, prompts, expected", [
    ("BAAI/bge-small-zh-v1.5", "mine: ", {"query": "q: "}, "mine: "),  # an explicit instruction wins
    ("BAAI/bge-small-zh-v1.5", "", {}, ""),  # explicitly none
    ("BAAI/bge-small-zh-v1.5", None, {"query": "q: "}, "q: "),  # then the model's own prompt
    ("BAAI/bge-small-zh-v1.5", None, {"query": ""}, BGE_QUERY_INSTRUCTIONS["zh"]),
    ("/models/bge-large-zh", None, {}, BGE_QUERY_INSTRUCTIONS["zh"]),  # BGE v1
    ("BAAI/bge-base-en-v1.5", None, {}, "Represent this sentence for searching relevant passages: "),
    ("BAAI/bge-large-zh-noinstruct", None, {}, ""),
    ("BAAI/bge-m3", None, {}, ""),
    ("intfloat/multilingual-e5-small", None, {}, ""),
])
def test_query_instruction_rules(name, explicit, prompts, expected):
    assert pick_query_instruction(name, explicit, prompts) == expected


def test_vectors_are_float32_unit_length_with_the_models_dimension(models):
    embedder = SentenceTransformerEmbedder(str(models["mean"]))
    assert embedder.dim == 32 and embedder.name == f"sentence-transformers:{models['mean']}"
    passages, query = embedder.embed_passages(TEXTS), embedder.embed_query("tea")
    assert passages.shape == (len(TEXTS), 32) and passages.dtype == np.float32
    assert query.shape == (32,) and query.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(query), 1.0, atol=1e-5)
    assert embedder.embed_passages([]).shape == (0, 32)


def test_version_identifies_the_weights_pooling_and_instruction(models, tmp_path):
    version = SentenceTransformerEmbedder(str(models["cls"])).version
    copy = shutil.copytree(models["cls"], tmp_path / "copy" / models["cls"].name)  # new path and file times
    assert SentenceTransformerEmbedder(str(copy)).version == version
    other_weights = build_tiny_bi_encoder(tmp_path / "seed1" / models["cls"].name, "cls", seed=1)
    others = [SentenceTransformerEmbedder(str(other_weights)).version,
              SentenceTransformerEmbedder(str(models["mean"])).version,
              SentenceTransformerEmbedder(str(models["cls"]), query_instruction="q: ").version]
    assert len({version, *others}) == 4


def test_make_embedder_builds_it_by_name(models):
    embedder = make_embedder(f"sentence-transformers:{models['cls']}", Config().updated(query_instruction="q: "))
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert embedder.name == f"sentence-transformers:{models['cls']}" and embedder.query_instruction == "q: "


def test_a_hub_id_loads_from_the_local_cache(models, tmp_path, monkeypatch):
    snapshot = tmp_path / "models--acme--tiny-embed" / "snapshots" / ("0" * 40)
    shutil.copytree(models["cls"], snapshot)
    (tmp_path / "models--acme--tiny-embed" / "refs").mkdir()
    (tmp_path / "models--acme--tiny-embed" / "refs" / "main").write_text("0" * 40)
    monkeypatch.setenv("SENTENCE_TRANSFORMERS_HOME", str(tmp_path))
    embedder = make_embedder("sentence-transformers:acme/tiny-embed", Config())
    np.testing.assert_allclose(embedder.embed_passages(TEXTS), manual_embedding(models["cls"], TEXTS, "cls"),
                               atol=1e-5)


def test_missing_models_are_not_downloaded(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTENCE_TRANSFORMERS_HOME", str(tmp_path))  # an empty cache
    with pytest.raises(BackendError, match="acme/absent.*not in the local Hugging Face cache.*does not download"):
        SentenceTransformerEmbedder("acme/absent")
    with pytest.raises(BackendError, match="no such model directory"):
        SentenceTransformerEmbedder(str(tmp_path / "nothing-here"))
    with pytest.raises(BackendError, match="cannot load the model"):
        SentenceTransformerEmbedder(str(tmp_path))  # a directory, but not a model


def test_without_sentence_transformers_installed_the_error_says_what_to_install(models, monkeypatch):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # makes the import fail
    with pytest.raises(BackendError, match=r"\[llm\] extra: pip install torch==2.13.0 sentence-transformers"):
        SentenceTransformerEmbedder(str(models["cls"]))


def test_an_index_embeds_and_searches_with_a_sentence_transformers_model(tmp_path):
    model = build_tiny_bi_encoder(tmp_path / "tiny-st", "mean")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "tea.txt").write_text("西湖龙井是产于浙江杭州的绿茶。\n\n龙井茶色绿、味甘、形美。\n", encoding="utf-8")
    (docs / "bm25.txt").write_text("BM25 is a lexical ranking function used by search engines.\n", encoding="utf-8")
    spec = f"sentence-transformers:{model}"
    with docrag.Index.open(tmp_path / "index", create=True, embedder=spec) as idx:
        report = idx.add([docs])
        assert not report.failed and report.embedded == idx.info()["chunks"] >= 2
        hits = idx.search("龙井茶", k=2, mode="dense")  # random weights: which hit comes first means nothing
        assert len(hits) == 2 and {Path(h.doc_path).parent for h in hits} == {docs}
        version = idx.resources.embedder().version
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["embedder"] == {"name": spec, "version": version, "dim": 32}

    build_tiny_bi_encoder(model, "mean", seed=1)  # other weights at the same path: the index notices
    with docrag.Index.open(tmp_path / "index", embedder=spec) as idx, \
            pytest.raises(IndexStateError, match="vectors were made by"):
        idx.search("龙井茶", mode="dense")
