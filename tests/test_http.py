"""JSONClient against the fake OpenAI server, and the fake server against the official ``openai`` client
(so that what our client is tested against speaks the real protocol)."""

from __future__ import annotations

import socket

import numpy as np
import openai
import pytest

from docrag.errors import BackendError
from docrag.http import JSONClient

pytest_plugins = ["fake_openai"]  # the fake_openai fixture

CHAT = {"model": "fake-model", "messages": [{"role": "user", "content": "hello"}]}


def client(server, **kwargs) -> JSONClient:
    return JSONClient(server.base_url, **{"backoff": 0.01, **kwargs})


def test_official_client_chat_plain_and_streaming(fake_openai):
    oa = openai.OpenAI(base_url=fake_openai.base_url, api_key="x", max_retries=0)
    fake_openai.cached_tokens = 3
    reply = oa.chat.completions.create(**CHAT)
    assert reply.choices[0].message.content == "The answer is 42."
    assert reply.usage.prompt_tokens_details.cached_tokens == 3

    chunks = list(oa.chat.completions.create(**CHAT, stream=True, stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "The answer is 42."
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 4
    assert fake_openai.requests[0].headers["authorization"] == "Bearer x"


def test_official_client_embeddings_and_models(fake_openai):
    oa = openai.OpenAI(base_url=fake_openai.base_url, api_key="x", max_retries=0)
    data = oa.embeddings.create(model="fake-model", input=["a", "b"]).data  # the client asks for base64
    assert [d.index for d in data] == [0, 1]
    np.testing.assert_allclose(data[1].embedding, fake_openai.embedding("b"), rtol=1e-6)
    assert [(m.id, m.max_model_len) for m in oa.models.list()] == [("fake-model", 4096)]


def test_retries_then_succeeds(fake_openai):
    fake_openai.fail.extend([503, 503])
    assert client(fake_openai).get("/models")["data"][0]["id"] == "fake-model"
    assert len(fake_openai.requests) == 3


def test_retry_after_is_honoured_over_backoff(fake_openai, monkeypatch):
    delays = []
    original = JSONClient.retry_delay
    monkeypatch.setattr(JSONClient, "retry_delay", lambda self, *a: delays.append(original(self, *a)) or delays[-1])
    fake_openai.fail.append(429)  # with Retry-After: 0
    slow = client(fake_openai, backoff=30)
    slow.get("/models")
    assert delays == [0.0]  # the server's 0 s, not the 30 s backoff
    assert slow.retry_delay(2, None) == 120.0  # without Retry-After: backoff * 2**attempt


def test_rate_limited_after_retries(fake_openai):
    fake_openai.fail.extend([429] * 3)
    with pytest.raises(BackendError, match=r"rate limited \(after 2 retries\)"):
        client(fake_openai, max_retries=2).get("/models")


def test_server_error_names_status_and_message(fake_openai):
    fake_openai.fail.extend([500, 500])
    with pytest.raises(BackendError, match="LLM server at .*/v1/models: server error 500.*injected failure 500"):
        client(fake_openai, max_retries=1).get("/models")


def test_unauthorized_names_the_key(fake_openai):
    fake_openai.api_key = "secret"
    with pytest.raises(BackendError, match="check the API key.*Incorrect API key provided") as error:
        client(fake_openai, api_key="wrong").get("/models")
    assert error.value.status == 401
    assert len(fake_openai.requests) == 1  # not retried
    assert client(fake_openai, api_key="secret").get("/models")["data"]


def test_not_found_names_base_url_and_model(fake_openai):
    with pytest.raises(BackendError, match="check the base URL and model name.*`nope` does not exist"):
        client(fake_openai).post("/chat/completions", {**CHAT, "model": "nope"})


def test_client_errors_are_not_retried(fake_openai):
    fake_openai.fail.append(400)
    with pytest.raises(BackendError, match="HTTP 400"):
        client(fake_openai).post("/chat/completions", CHAT)
    assert len(fake_openai.requests) == 1


def test_connection_refused():
    with socket.socket() as s:  # a port that was free a moment ago, with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(BackendError, match=f"connection refused: is the server running at {base_url}"):
        JSONClient(base_url, max_retries=1, backoff=0.01).get("/models")


def test_timeout(fake_openai):
    fake_openai.delay = 0.5
    with pytest.raises(BackendError, match=r"no response within 0.2s"):
        client(fake_openai, timeout=0.2, max_retries=0).get("/models")


def test_stream_yields_events_until_done_and_retries_before_the_first(fake_openai):
    fake_openai.fail.append(503)
    events = list(client(fake_openai).stream("/chat/completions", {**CHAT, "stream": True}))
    assert "".join(e["choices"][0]["delta"].get("content", "") for e in events) == "The answer is 42."
    assert events[-1]["choices"][0]["finish_reason"] == "stop"
    assert len(fake_openai.requests) == 2


def test_stream_error_status(fake_openai):
    with pytest.raises(BackendError, match="not found"):
        list(client(fake_openai).stream("/chat/completions", {**CHAT, "model": "nope", "stream": True}))
