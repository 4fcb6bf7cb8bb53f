"""A fake OpenAI-compatible server for tests: real HTTP on 127.0.0.1, in a thread.

It speaks the wire protocol as OpenAI and vLLM do (the official ``openai`` client works against it,
see tests/test_http.py): GET /v1/models (with vLLM's ``max_model_len``), POST /v1/chat/completions
(plain, and Server-Sent Events with chunked transfer encoding, a usage chunk when
``stream_options.include_usage``, then ``data: [DONE]``), POST /v1/embeddings (float or base64
vectors derived from a hash of the text) and POST /v1/rerank or /rerank (Jina/vLLM shape, or TEI's
when ``tei_rerank`` is set).

Tests script it through attributes: ``answer`` (a string, or a function of the messages), ``fail``
(statuses to answer the next requests with), ``delay`` (seconds before answering), ``api_key``
(demand this bearer token), ``cached_tokens``; every request is kept in ``requests``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest
from typing_extensions import Self

TEI_RERANK_FIELDS = {"query", "texts", "raw_scores", "return_text", "truncate", "truncation_direction"}


@dataclass
class Recorded:
    """One request; header names are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


def _text_of(content) -> str:
    """A message's text: a string, or the text parts of a list of parts (vision messages carry images)."""
    if isinstance(content, str):
        return content
    return " ".join(part.get("text", "") for part in content if part.get("type") == "text")


class FakeOpenAI:
    def __init__(self, model: str = "fake-model", *, max_model_len: int = 4096, dim: int = 8):
        self.model = model
        self.max_model_len = max_model_len
        self.dim = dim
        self.answer: str | Callable[[list[dict]], str] = "The answer is 42."
        self.cached_tokens = 0
        self.api_key: str | None = None
        self.fail: deque[int] = deque()  # each request first takes one of these statuses, while any are left
        self.delay = 0.0
        self.tei_rerank = False
        self.reverse_embeddings = False  # answer embeddings out of order (clients must sort by "index")
        self.requests: list[Recorded] = []
        self._server: _Server | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def bodies(self, path: str) -> list[Any]:
        """The bodies sent to ``path`` (e.g. "/v1/chat/completions"), oldest first."""
        return [r.body for r in self.requests if r.path == path]

    def __enter__(self) -> Self:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        # A short poll interval: shutdown() waits for the serving loop to look up.
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    @staticmethod
    def embedding(text: str, dim: int = 8) -> list[float]:
        """The (unnormalised) vector the server answers for ``text``."""
        rng = random.Random(hashlib.sha256(text.encode()).digest())
        return [rng.uniform(-1, 1) for _ in range(dim)]

    @staticmethod
    def relevance(query: str, text: str) -> float:
        """The rerank score: the share of the query's words found in the text."""
        query_words = set(query.lower().split())
        return len(query_words & set(text.lower().split())) / max(len(query_words), 1)

    def respond(self, method: str, path: str, authorization: str | None, body: Any) -> Any:
        """The JSON answer, an iterator of SSE events, or a raised ``Reply`` for other statuses."""
        if self.fail:
            status = self.fail.popleft()
            raise Reply(status, _openai_error(f"injected failure {status}", "server_error"),
                        {"Retry-After": "0"} if status == 429 else {})
        if self.api_key and authorization != f"Bearer {self.api_key}":
            raise Reply(401, _openai_error("Incorrect API key provided", "invalid_api_key"))
        routes = {("GET", "/v1/models"): self._models, ("POST", "/v1/chat/completions"): self._chat,
                  ("POST", "/v1/embeddings"): self._embeddings, ("POST", "/v1/rerank"): self._rerank,
                  ("POST", "/rerank"): self._rerank}
        if (method, path) not in routes:
            raise Reply(404, _openai_error(f"{method} {path} not found", "not_found"))
        return routes[method, path](body)

    def _check_model(self, body: dict) -> None:
        if body.get("model", self.model) != self.model:
            raise Reply(404, _openai_error(f"The model `{body['model']}` does not exist.", "model_not_found"))

    def _models(self, _body: Any) -> dict:
        return {"object": "list", "data": [{"id": self.model, "object": "model", "created": 0, "owned_by": "fake",
                                            "max_model_len": self.max_model_len}]}

    def _chat(self, body: dict) -> dict | Iterator[dict]:
        self._check_model(body)
        messages = body["messages"]
        text = self.answer(messages) if callable(self.answer) else self.answer
        stops = [body["stop"]] if isinstance(body.get("stop"), str) else body.get("stop") or []
        text = text[:min([text.find(s) for s in stops if s in text], default=len(text))]
        pieces = re.findall(r"\s*\S+|\s+", text)  # one "token" per word, with its leading space
        finish = "stop"
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        if max_tokens is not None and len(pieces) > max_tokens:
            pieces, finish = pieces[:max_tokens], "length"
        prompt_tokens = sum(len(_text_of(m["content"]).split()) for m in messages)
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(pieces),
                 "total_tokens": prompt_tokens + len(pieces),
                 "prompt_tokens_details": {"cached_tokens": self.cached_tokens}}
        head = {"id": "chatcmpl-fake", "created": int(time.time()), "model": self.model}
        if body.get("stream"):
            return self._chunks(head, pieces, finish, usage, (body.get("stream_options") or {}).get("include_usage"))
        text = "".join(pieces)
        # n > 1 (vLLM beam search answers n beams, best first): the others are visibly worse.
        choices = [{"index": i, "message": {"role": "assistant", "content": text if i == 0 else f"{text} (beam {i})"},
                    "logprobs": None, "finish_reason": finish} for i in range(body.get("n") or 1)]
        return {**head, "object": "chat.completion", "choices": choices, "usage": usage}

    @staticmethod
    def _chunks(head: dict, pieces: list[str], finish: str, usage: dict, include_usage: bool) -> Iterator[dict]:
        def chunk(delta: dict, finish_reason: str | None = None) -> dict:
            return {**head, "object": "chat.completion.chunk",
                    "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
                    **({"usage": None} if include_usage else {})}

        yield chunk({"role": "assistant", "content": ""})
        for piece in pieces:
            yield chunk({"content": piece})
        yield chunk({}, finish)
        if include_usage:
            yield {**head, "object": "chat.completion.chunk", "choices": [], "usage": usage}

    def _embeddings(self, body: dict) -> dict:
        self._check_model(body)
        texts = [body["input"]] if isinstance(body["input"], str) else body["input"]
        data = [{"object": "embedding", "index": i, "embedding": self._encode(self.embedding(text, self.dim),
                                                                             body.get("encoding_format"))}
                for i, text in enumerate(texts)]
        if self.reverse_embeddings:
            data.reverse()
        tokens = sum(len(t.split()) for t in texts)
        return {"object": "list", "data": data, "model": self.model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}

    @staticmethod
    def _encode(vector: list[float], encoding_format: str | None) -> list[float] | str:
        if encoding_format == "base64":  # what the official client asks for: little-endian float32
            return base64.b64encode(np.asarray(vector, "<f4").tobytes()).decode()
        return vector

    def _rerank(self, body: dict) -> dict | list:
        if self.tei_rerank:  # TEI's serde rejects what it doesn't know, with 422
            if "texts" not in body or set(body) - TEI_RERANK_FIELDS:
                raise Reply(422, {"error": "Failed to deserialize the JSON body into the target type: "
                                           "missing field `texts`", "error_type": "Validation"})
            results = [{"index": i, "score": self.relevance(body["query"], t)} for i, t in enumerate(body["texts"])]
            return sorted(results, key=lambda r: -r["score"])
        self._check_model(body)
        documents = body["documents"]
        results = [{"index": i, "document": {"text": d}, "relevance_score": self.relevance(body["query"], d)}
                   for i, d in enumerate(documents)]
        results.sort(key=lambda r: -r["relevance_score"])
        return {"id": "rerank-fake", "model": self.model, "usage": {"total_tokens": 0},
                "results": results[: body.get("top_n") or len(documents)]}


class Reply(Exception):
    """An answer other than 200, raised from a route."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None):
        self.status, self.body, self.headers = status, body, headers or {}


def _openai_error(message: str, code: str) -> dict:
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeOpenAI

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that gave up (timeout tests) is fine
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streaming, as real servers do
    server: _Server

    def log_message(self, format, *args):  # quiet test output
        pass

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def _handle(self, method: str) -> None:
        fake = self.server.fake
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.loads(raw) if raw else None
        path = urlsplit(self.path).path
        fake.requests.append(Recorded(method, path, {k.lower(): v for k, v in self.headers.items()}, body))
        time.sleep(fake.delay)
        try:
            answer = fake.respond(method, path, self.headers.get("Authorization"), body)
        except Reply as reply:
            return self._send_json(reply.status, reply.body, reply.headers)
        if isinstance(answer, Iterator):
            return self._send_events(answer)
        self._send_json(200, answer)

    def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_events(self, events: Iterator[dict]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for data in [*(json.dumps(event) for event in events), "[DONE]"]:
            self._write_chunk(f"data: {data}\n\n".encode())
        self.wfile.write(b"0\r\n\r\n")

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")


@pytest.fixture
def fake_openai():
    with FakeOpenAI() as server:
        yield server
