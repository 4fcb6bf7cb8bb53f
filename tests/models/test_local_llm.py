"""The local transformers backend on a tiny random-weight Llama: prefix KV-cache reuse must not change a
single generated token (greedy, beam, seeded sampling), and streaming, stop strings and limits behave."""

from __future__ import annotations

import json
import shutil

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from tiny_llm import build_tiny_llm, record_tokens

from docrag.config import Config, Decoding
from docrag.errors import BackendError
from docrag.models.llm import make_llm
from docrag.models.local_llm import TransformersLLM, cut_at_stop, held_back

SYSTEM = ("You answer questions using only the numbered context passages and cite them like [1]. "
          "只根据上下文回答问题，并注明来源编号。如果上下文没有答案，请说明。 ") * 4
QUESTIONS = ["Context: [1] revenue grew in the third quarter.\nQuestion: What happened to revenue?",
             "上下文：[1] 公司净利润为百分之十二。\n问题：净利润是多少？",
             "Why did costs fall 成本 下降?"]
DECODINGS = {
    "greedy": Decoding(strategy="greedy", max_new_tokens=16),
    "beam": Decoding(strategy="beam", num_beams=3, max_new_tokens=12),
    "sample": Decoding(strategy="sample", seed=7, temperature=0.9, max_new_tokens=16),
}


def chat(question: str) -> list[dict]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_tiny_llm(tmp_path_factory.mktemp("tiny-llm"))


@pytest.fixture(scope="module")
def plain(model_dir):
    return TransformersLLM(model_dir, prefix_cache=False)


@pytest.mark.parametrize("strategy", DECODINGS)
def test_prefix_reuse_generates_the_same_tokens(strategy, model_dir, plain, monkeypatch):
    decoding = DECODINGS[strategy]
    reusing = TransformersLLM(model_dir)
    reference, reused = record_tokens(plain, monkeypatch.setattr), record_tokens(reusing, monkeypatch.setattr)
    system_tokens = len(reusing.render(chat("")[:1], False))
    for i, question in enumerate(QUESTIONS):
        assert plain.generate(chat(question), decoding).usage["cached_tokens"] == 0
        for repeat in range(2):  # the second run hits the cache the first one filled or reused
            usage = reusing.generate(chat(question), decoding).usage
            assert usage["cached_tokens"] == (0 if i == repeat == 0 else system_tokens)
            assert usage["prompt_tokens"] > system_tokens
        assert reused[-2] == reused[-1] == reference[-1], question
    assert len(reference) == len(QUESTIONS) and all(reference)


@pytest.mark.parametrize("strategy", ["greedy", "beam"])
def test_a_generation_leaves_the_cached_prefix_intact(strategy, model_dir):
    llm = TransformersLLM(model_dir)
    first, _, again = (llm.generate(chat(q), DECODINGS[strategy]) for q in (QUESTIONS[0], QUESTIONS[1], QUESTIONS[0]))
    assert again.text == first.text and again.usage["completion_tokens"] == first.usage["completion_tokens"]
    assert again.usage["cached_tokens"] > 0


@pytest.mark.parametrize("strategy", DECODINGS)
def test_streamed_pieces_join_to_the_text(strategy, model_dir):
    pieces = []
    generation = TransformersLLM(model_dir).generate(chat(QUESTIONS[1]), DECODINGS[strategy], on_token=pieces.append)
    assert "".join(pieces) == generation.text and generation.text
    assert len(pieces) > 1 if strategy != "beam" else len(pieces) == 1  # beam search cannot stream
    assert 0 < generation.timings["first_token"] <= generation.timings["generate"]


def test_stop_string_ends_the_text(model_dir, plain):
    free = plain.generate(chat(QUESTIONS[0]), DECODINGS["greedy"])
    # a stop string the model is known to produce, a few characters in
    start = next(i for i in range(4, len(free.text) - 2) if free.text[i:i + 2].isprintable()
                 and "\ufffd" not in free.text[i:i + 2] and not free.text[i:i + 2].isspace())
    stop = free.text[start:start + 2]
    pieces = []
    stopped = TransformersLLM(model_dir).generate(chat(QUESTIONS[0]), Decoding(strategy="greedy", max_new_tokens=16, stop=(stop,)),
                                                   on_token=pieces.append)
    assert stopped.text == free.text[: free.text.index(stop)]
    assert stopped.finish_reason == "stop" and stopped.usage["completion_tokens"] < free.usage["completion_tokens"]
    assert "".join(pieces) == stopped.text


def test_stop_helpers():
    assert cut_at_stop("answer\n\nQuestion: x", ("\n\nQuestion", "</s>")) == "answer"
    assert cut_at_stop("answer", ("\n\n",)) == "answer"
    assert held_back("answer\n\nQue", ("\n\nQuestion",)) == 5
    assert held_back("answer", ("\n\nQuestion",)) == 0


def test_max_new_tokens_is_respected(plain):
    generation = plain.generate(chat(QUESTIONS[2]), Decoding(strategy="greedy", max_new_tokens=5))
    assert generation.usage["completion_tokens"] == 5 and generation.finish_reason == "length"


def test_count_tokens_and_context_window(model_dir, plain, tmp_path):
    assert plain.count_tokens("") == 0
    assert plain.count_tokens("净利润 grew") == len(plain.tokenizer("净利润 grew", add_special_tokens=False).input_ids) > 1
    assert plain.context_window == 2048  # max_position_embeddings
    assert TransformersLLM(model_dir, context_window=300).context_window == 300
    capped = shutil.copytree(model_dir, tmp_path / "capped")
    config = json.loads((capped / "tokenizer_config.json").read_text())
    (capped / "tokenizer_config.json").write_text(json.dumps({**config, "model_max_length": 1024}))
    assert TransformersLLM(capped).context_window == 1024
    with pytest.raises(BackendError, match="context window of 40"):
        TransformersLLM(model_dir, context_window=40).generate(chat(QUESTIONS[0]), DECODINGS["greedy"])


def test_without_a_chat_template_a_plain_layout_is_used(model_dir, tmp_path):
    bare = shutil.copytree(model_dir, tmp_path / "bare")
    (bare / "chat_template.jinja").unlink()
    llm = TransformersLLM(bare)
    assert not llm.tokenizer.chat_template
    generation = llm.generate(chat(QUESTIONS[0]), Decoding(strategy="greedy", max_new_tokens=4))
    assert generation.usage["completion_tokens"] > 0


def test_not_a_model_directory(tmp_path):
    with pytest.raises(BackendError, match=str(tmp_path)):
        TransformersLLM(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(BackendError, match="cannot load"):
        TransformersLLM(tmp_path)


def test_make_llm_builds_the_local_backend(model_dir):
    llm = make_llm(f"transformers:{model_dir}", Config().updated(prefix_cache=False))
    assert isinstance(llm, TransformersLLM) and llm.name == f"transformers:{model_dir}" and not llm.prefix_cache
