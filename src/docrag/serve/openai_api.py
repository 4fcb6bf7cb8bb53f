"""The OpenAI-compatible API: ``GET /v1/models`` and ``POST /v1/chat/completions``, framed as vLLM frames them, so
the ``openai`` client and chat front-ends work unchanged.

``model`` names a knowledge base, or ``KB:LLM`` for one of the LLMs the server offers (``KB:openai:qwen2.5``);
the last user message is the question and the earlier ones make a follow-up standalone. Asked for with
``extra_body={"references": true}``, the cited passages come back as ``message.references`` (or in the last
chunk's ``delta.references`` when streaming): number, document, page, positions (page + box), quote, score.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from docrag.config import Mode
from docrag.serve.app import _NO_BUFFERING, Denied, Server, error_body, sse, stream_answer
from docrag.serve.kbs import KnowledgeBase, NotFound
from docrag.serve.schemas import AskRequest, references
from docrag.types import Answer


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_calls, ...: accepted, not used

    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: the text ones
            return "".join(part.get("text", "") for part in self.content if part.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    # OpenAI's many optional fields (user, logprobs, tools, ...) are accepted and ignored, as vLLM does
    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(None, gt=0)
    max_completion_tokens: int | None = Field(None, gt=0)
    seed: int | None = None
    stop: str | list[str] | None = None
    n: int = Field(1, ge=1, le=1, description="one choice per request")
    references: bool = Field(False, description="return the cited passages (extra_body)")
    k: int | None = Field(None, ge=1, le=50, description="passages retrieved (extra_body)")
    mode: Mode | None = Field(None, description="retrieval mode (extra_body)")

    def decoding(self) -> dict[str, Any] | None:
        d: dict[str, Any] = {}
        if self.temperature is not None:
            d.update(strategy="greedy") if self.temperature == 0 else d.update(strategy="sample",
                                                                              temperature=self.temperature)
        if self.top_p is not None:
            d["top_p"] = self.top_p
        if self.max_completion_tokens or self.max_tokens:
            d["max_new_tokens"] = self.max_completion_tokens or self.max_tokens
        if self.seed is not None:
            d["seed"] = self.seed
        if self.stop:
            d["stop"] = [self.stop] if isinstance(self.stop, str) else self.stop
        return d or None


def split_model(model: str) -> tuple[str, str | None]:
    kb, _, llm = model.partition(":")
    return kb, llm or None


def add_openai_routes(app: FastAPI, server: Server) -> None:
    @app.get("/v1/models", tags=["openai"])
    def models(request: Request):
        key = server.caller(request)
        data = []
        for kb in server.kbs:
            if not server.may_read(key, kb.name):
                continue
            owned = {"object": "model", "created": int(kb.created), "owned_by": "docrag"}
            data.append({"id": kb.name, **owned})
            data += [{"id": f"{kb.name}:{llm}", **owned} for llm in server.settings.llms]
        return {"object": "list", "data": data}

    @app.post("/v1/chat/completions", tags=["openai"])
    def chat_completions(body: ChatRequest, request: Request):
        name, llm = split_model(body.model)
        server.require(request, name, "read")
        try:
            kb = server.kbs.get(name)
        except NotFound:
            raise NotFound(f"The model `{body.model}` does not exist (models are knowledge bases: GET /v1/models)") \
                from None
        llm = server.llm_for(kb, llm)
        asked = [m for m in body.messages if m.role == "user"]
        if body.messages[-1].role != "user" or not asked[-1].text().strip():
            raise Denied(400, "the last message must be the user's question")
        question = server.standalone(kb, asked[-1].text(), [m.text() for m in asked[:-1]], llm)
        ask = AskRequest(question=question, k=body.k, mode=body.mode, llm=llm, decoding=body.decoding())
        reply = Reply(body, kb)
        if not body.stream:
            return reply.completion(server.ask(kb, ask, question))
        return StreamingResponse(stream_answer(lambda on_token: server.ask(kb, ask, question, on_token),
                                               reply.frames), media_type="text/event-stream", headers=_NO_BUFFERING)


class Reply:
    """The response of one chat completion, whole or as ``chat.completion.chunk`` frames."""

    def __init__(self, body: ChatRequest, kb: KnowledgeBase):
        self.body, self.kb = body, kb
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.started = False

    def _head(self, kind: str) -> dict:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.body.model}

    def usage(self, answer: Answer) -> dict:
        prompt, completion = answer.usage.get("prompt_tokens", 0), answer.usage.get("completion_tokens", 0)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def completion(self, answer: Answer) -> dict:
        message: dict[str, Any] = {"role": "assistant", "content": answer.text, "tool_calls": []}
        if self.body.references:
            message["references"] = references(answer)
            message["found"] = answer.found
        return {**self._head("chat.completion"), "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop", "stop_reason": None}],
            "usage": self.usage(answer)}

    def _chunk(self, delta: dict, finish: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return sse({**self._head("chat.completion.chunk"), "choices": [choice]})

    def frames(self, item, final: bool) -> Iterator[str]:
        if not self.started:  # the first frame says who speaks, as vLLM's does
            self.started = True
            yield self._chunk({"role": "assistant", "content": ""})
        if isinstance(item, Exception):
            yield sse(error_body(item))
        elif not final:
            yield self._chunk({"content": item})
        else:
            yield self._chunk({"references": references(item), "found": item.found} if self.body.references else {},
                              "stop")
            if (self.body.stream_options or {}).get("include_usage"):
                yield sse({**self._head("chat.completion.chunk"), "choices": [], "usage": self.usage(item)})
        if final:
            yield "data: [DONE]\n\n"
