"""Chat through any OpenAI-compatible server: vLLM, llama.cpp, Ollama, TGI or api.openai.com.

Decoding maps onto the request as follows:

- greedy: ``temperature: 0``.
- sample: ``temperature``, ``top_p``, ``seed`` (when set) and ``top_k``, the last only for servers other
  than api.openai.com (vLLM, Ollama and llama.cpp accept it as an extra parameter; OpenAI rejects it).
- beam: vLLM's extra parameters ``use_beam_search: true``, ``n: num_beams`` (vLLM's beam width; older
  vLLM versions read it as ``best_of``, which defaults to ``n``) and ``length_penalty``, with
  ``temperature: 0``. vLLM answers with ``n`` choices, best first; the first is the answer. Beam search
  is never streamed: the whole answer is generated, then handed to ``on_token`` once.

Token counts: with ``tokenizer`` (a local Hugging Face tokenizer directory holding ``tokenizer.json``)
they are exact. Without it they are an estimate meant to err high for current tokenizers (Qwen, Llama 3,
GPT-4o): each CJK character counts 1 token, other text 1.3 tokens per word plus 1 per punctuation mark.
Tokenizers with poor CJK coverage (Llama 2, byte-level fallbacks) need more; give them ``tokenizer``.
"""

from __future__ import annotations

import logging
import math
import re
import time
from pathlib import Path
from urllib.parse import urlparse

from docrag.errors import ConfigError
from docrag.http import HTTPError, JSONClient
from docrag.models.llm import LLM, Decoding, Generation, Message, OnToken
from docrag.models.options import server_url

log = logging.getLogger(__name__)

DEFAULT_CONTEXT_WINDOW = 8192  # when neither the caller nor the server's /models says

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_WORD = re.compile(r"[^\W_]+")
_PUNCTUATION = re.compile(r"[^\w\s]|_")


class OpenAIChatLLM(LLM):
    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 timeout: float = 60.0, max_retries: int = 3, context_window: int | None = None,
                 tokenizer: str | None = None):
        self.model = model
        self.name = f"openai:{model}"
        self.base_url = server_url(base_url)
        self._client = JSONClient(self.base_url, api_key, timeout=timeout, max_retries=max_retries,
                                  what="LLM server")
        self._context_window = context_window
        self._tokenizer = _load_tokenizer(tokenizer) if tokenizer else None
        self._is_openai = urlparse(self.base_url).hostname == "api.openai.com"

    @property
    def context_window(self) -> int:  # type: ignore[override]  # only read: LLM's attribute, as a property
        """The constructor's value, else the server's ``max_model_len`` (vLLM's /models), else 8192."""
        if self._context_window is None:
            self._context_window = self._served_context_window() or DEFAULT_CONTEXT_WINDOW
        return self._context_window

    def count_tokens(self, text: str) -> int:
        """Exact with ``tokenizer``, else the estimate in the module docstring."""
        if self._tokenizer is not None:
            return len(self._tokenizer.encode(text, add_special_tokens=False).ids)
        return estimate_tokens(text)

    def generate(self, messages: list[Message], decoding: Decoding, on_token: OnToken | None = None) -> Generation:
        payload = {"model": self.model, "messages": messages, "max_tokens": decoding.max_new_tokens,
                   **self._decoding_params(decoding)}
        if decoding.stop:
            payload["stop"] = list(decoding.stop)
        t0 = time.perf_counter()
        if on_token is not None and decoding.strategy != "beam":
            generation = self._stream(payload, on_token, t0)
        else:
            generation = self._complete(payload, t0)
            if on_token is not None and generation.text:
                on_token(generation.text)
        generation.timings["generate"] = time.perf_counter() - t0
        return generation

    def _decoding_params(self, decoding: Decoding) -> dict:
        if decoding.strategy == "greedy":
            return {"temperature": 0}
        if decoding.strategy == "sample":
            params = {"temperature": decoding.temperature, "top_p": decoding.top_p}
            if decoding.seed is not None:
                params["seed"] = decoding.seed
            if not self._is_openai:
                params["top_k"] = decoding.top_k
            return params
        if self._is_openai:
            raise ConfigError("beam search needs a vLLM server; api.openai.com does not offer it (use greedy)")
        return {"temperature": 0, "use_beam_search": True, "n": decoding.num_beams,
                "length_penalty": decoding.length_penalty}

    def _complete(self, payload: dict, t0: float) -> Generation:
        response = self._client.post("/chat/completions", payload)
        if not isinstance(response, dict) or not response.get("choices"):
            raise self._client.unexpected("/chat/completions", "no choices", response)
        choice = response["choices"][0]
        text = (choice.get("message") or {}).get("content") or ""
        timings = {"first_token": time.perf_counter() - t0} if text else {}
        return Generation(text, choice.get("finish_reason") or "stop", _usage(response.get("usage")), timings)

    def _stream(self, payload: dict, on_token: OnToken, t0: float) -> Generation:
        payload = {**payload, "stream": True, "stream_options": {"include_usage": True}}
        parts: list[str] = []
        finish_reason = "stop"
        usage: dict[str, int] = {}
        timings: dict[str, float] = {}
        for chunk in self._client.stream("/chat/completions", payload):
            if chunk.get("usage"):  # the final chunk (include_usage), or every chunk on some servers
                usage = _usage(chunk["usage"])
            for choice in chunk.get("choices") or []:  # the usage chunk has no choices
                delta = (choice.get("delta") or {}).get("content")
                if delta:
                    timings.setdefault("first_token", time.perf_counter() - t0)
                    parts.append(delta)
                    on_token(delta)
                if choice.get("finish_reason"):
                    finish_reason = choice["finish_reason"]
        return Generation("".join(parts), finish_reason, usage, timings)

    def _served_context_window(self) -> int | None:
        """``max_model_len`` of this model's /models entry; None when the server doesn't say. A server that
        cannot be reached is an error; one without /models (or without the field) is not."""
        try:
            models = self._client.get("/models")
        except HTTPError as exc:
            if exc.status is None:
                raise
            log.info("%s; assuming a context window of %d tokens", exc, DEFAULT_CONTEXT_WINDOW)
            return None
        entries = models.get("data") if isinstance(models, dict) else None
        for entry in entries or []:
            if entry.get("id") == self.model and isinstance(entry.get("max_model_len"), int):
                return entry["max_model_len"]
        return None


def estimate_tokens(text: str) -> int:
    """Conservative token estimate: 1 per CJK character, 1.3 per other word, 1 per punctuation mark."""
    cjk = len(_CJK.findall(text))
    rest = _CJK.sub(" ", text)
    return cjk + math.ceil(len(_WORD.findall(rest)) * 1.3) + len(_PUNCTUATION.findall(rest))


def _load_tokenizer(directory: str):
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise ConfigError(f"tokenizer {directory!r} needs the tokenizers package: pip install tokenizers "
                          "(it comes with docrag[llm])") from None
    path = Path(directory) / "tokenizer.json"
    if not path.is_file():
        raise ConfigError(f"tokenizer {directory!r}: no tokenizer.json there (give a Hugging Face model directory)")
    return Tokenizer.from_file(str(path))


def _usage(raw: dict | None) -> dict[str, int]:
    """prompt_tokens, completion_tokens and cached_tokens (prompt tokens served from the prefix cache),
    those the server reported."""
    if not raw:
        return {}
    usage = {key: raw[key] for key in ("prompt_tokens", "completion_tokens") if isinstance(raw.get(key), int)}
    cached = (raw.get("prompt_tokens_details") or {}).get("cached_tokens")
    if isinstance(cached, int):
        usage["cached_tokens"] = cached
    return usage
