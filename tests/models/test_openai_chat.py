from __future__ import annotations

import pytest

from docrag.config import Config, Decoding
from docrag.errors import BackendError, ConfigError
from docrag.models.llm import make_llm
from docrag.models.openai_chat import OpenAIChatLLM, estimate_tokens

pytest_plugins = ["fake_openai"]  # the fake_openai fixture

MESSAGES = [{"role": "system", "content": "Answer from the context."}, {"role": "user", "content": "What is it?"}]


@pytest.fixture
def llm(fake_openai):
    return OpenAIChatLLM("fake-model", base_url=fake_openai.base_url, api_key="x")


def sent(fake_openai) -> dict:
    return fake_openai.bodies("/v1/chat/completions")[-1]


def test_greedy_request_and_plain_answer(llm, fake_openai):
    fake_openai.cached_tokens = 5
    generation = llm.generate(MESSAGES, Decoding(max_new_tokens=32))
    assert sent(fake_openai) == {"model": "fake-model", "messages": MESSAGES, "max_tokens": 32, "temperature": 0}
    assert generation.text == "The answer is 42." and generation.finish_reason == "stop"
    assert generation.usage == {"prompt_tokens": 7, "completion_tokens": 4, "cached_tokens": 5}
    assert set(generation.timings) == {"first_token", "generate"}


def test_sample_request(llm, fake_openai):
    llm.generate(MESSAGES, Decoding(strategy="sample", temperature=0.5, top_p=0.8, top_k=20, seed=7))
    body = sent(fake_openai)
    assert {k: body[k] for k in ("temperature", "top_p", "top_k", "seed")} == \
        {"temperature": 0.5, "top_p": 0.8, "top_k": 20, "seed": 7}


def test_openai_itself_gets_no_top_k_and_no_beam_search():
    llm = OpenAIChatLLM("gpt-4o-mini", base_url="https://api.openai.com/v1", api_key="x")
    assert "top_k" not in llm._decoding_params(Decoding(strategy="sample", seed=1))
    with pytest.raises(ConfigError, match="beam search needs a vLLM server"):
        llm.generate(MESSAGES, Decoding(strategy="beam"))


def test_beam_search_is_vllm_extra_params_and_not_streamed(llm, fake_openai):
    tokens = []
    generation = llm.generate(MESSAGES, Decoding(strategy="beam", num_beams=3, length_penalty=0.6), on_token=tokens.append)
    body = sent(fake_openai)
    assert {k: body[k] for k in ("use_beam_search", "n", "length_penalty", "temperature")} == \
        {"use_beam_search": True, "n": 3, "length_penalty": 0.6, "temperature": 0}
    assert "stream" not in body
    assert tokens == [generation.text] == ["The answer is 42."]  # the best beam, handed on whole


def test_streaming_hands_on_tokens_in_order(llm, fake_openai):
    fake_openai.answer = lambda messages: f"You asked: {messages[-1]['content']}"
    fake_openai.cached_tokens = 4
    tokens = []
    generation = llm.generate(MESSAGES, Decoding(), on_token=tokens.append)
    assert tokens == ["You", " asked:", " What", " is", " it?"]
    assert "".join(tokens) == generation.text
    body = sent(fake_openai)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert generation.usage == {"prompt_tokens": 7, "completion_tokens": 5, "cached_tokens": 4}
    assert 0 < generation.timings["first_token"] <= generation.timings["generate"]


def test_stop_strings_and_length_limit(llm, fake_openai):
    generation = llm.generate(MESSAGES, Decoding(stop=("42", "\n\n")))
    assert sent(fake_openai)["stop"] == ["42", "\n\n"]
    assert generation.text == "The answer is "
    generation = llm.generate(MESSAGES, Decoding(max_new_tokens=2), on_token=lambda token: None)
    assert (generation.text, generation.finish_reason) == ("The answer", "length")


def test_server_errors_are_backend_errors(fake_openai):
    llm = OpenAIChatLLM("missing-model", base_url=fake_openai.base_url)
    with pytest.raises(BackendError, match="check the base URL and model name"):
        llm.generate(MESSAGES, Decoding(), on_token=lambda token: None)  # streamed


def test_context_window_from_argument_server_or_default(fake_openai):
    assert OpenAIChatLLM("fake-model", base_url=fake_openai.base_url, context_window=2048).context_window == 2048
    assert fake_openai.requests == []  # not asked
    assert OpenAIChatLLM("fake-model", base_url=fake_openai.base_url).context_window == 4096  # max_model_len
    assert OpenAIChatLLM("other-model", base_url=fake_openai.base_url).context_window == 8192
    fake_openai.fail.append(404)  # a server without /models
    assert OpenAIChatLLM("fake-model", base_url=fake_openai.base_url).context_window == 8192
    with pytest.raises(BackendError, match="connection refused"):  # no server is an error, not a default
        _ = OpenAIChatLLM("fake-model", base_url="http://127.0.0.1:1/v1", max_retries=0).context_window


def test_base_url_and_key_from_environment(fake_openai, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    llm = make_llm("openai:fake-model", Config())
    assert isinstance(llm, OpenAIChatLLM) and llm.name == "openai:fake-model"
    llm.generate(MESSAGES, Decoding())
    assert fake_openai.requests[-1].headers["authorization"] == "Bearer from-env"


def test_default_base_url_is_vllms(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert OpenAIChatLLM("m").base_url == "http://localhost:8000/v1"


@pytest.mark.parametrize("text, expected", [
    ("你好世界", 4),
    ("Hello, world!", 5),  # ceil(2 words * 1.3) + 2 punctuation marks
    ("RAG 检索增强生成。", 9),  # 6 CJK characters + ceil(1.3) + 1
    ("", 0),
])
def test_token_estimate(text, expected):
    assert estimate_tokens(text) == expected
    assert OpenAIChatLLM("m", base_url="http://localhost:1/v1").count_tokens(text) == expected


def test_count_tokens_with_a_local_tokenizer(tmp_path):
    tk = pytest.importorskip("tokenizers")  # comes with transformers (docrag[llm])
    tokenizer = tk.Tokenizer(tk.models.WordLevel(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = tk.pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(["hello world", "the answer is 42"],
                                  tk.trainers.WordLevelTrainer(special_tokens=["[UNK]"]))
    tokenizer.save(str(tmp_path / "tokenizer.json"))
    llm = OpenAIChatLLM("m", base_url="http://localhost:1/v1", tokenizer=str(tmp_path))
    assert llm.count_tokens("hello world, unknown words") == 5  # hello / world / , / unknown / words
    with pytest.raises(ConfigError, match="no tokenizer.json"):
        OpenAIChatLLM("m", tokenizer=str(tmp_path / "missing"))
