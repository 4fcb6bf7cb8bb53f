"""The answer step of an index: the extractive answer (no model) or an LLM backend, loaded once and kept (the local
backend's prefix cache lives as long as its model)."""

from __future__ import annotations

import os
import threading
import time
from typing import Callable

from docrag.config import Config
from docrag.errors import ConfigError
from docrag.generate.base import LLM, Decoding, OnToken, make_llm
from docrag.generate.extractive import ExtractiveAnswerer
from docrag.generate.llm import LLMAnswerer
from docrag.index.dense import Embedder
from docrag.text.analyzer import Analyzer
from docrag.types import Answer, Hit

DECODING_FIELDS = ("strategy", "max_new_tokens", "num_beams", "length_penalty", "temperature", "top_p", "top_k",
                   "seed")


class Answerer:
    def __init__(self, config: Config, analyzer: Analyzer, sentence_embedder: Callable[[], Embedder | None]):
        """``sentence_embedder``: the embedder whose vectors rank sentences in the extractive answer, or None
        (asked on each answer: an index gains vectors while it is open)."""
        self.config, self.analyzer, self.sentence_embedder = config, analyzer, sentence_embedder
        self._llms: dict[tuple[str, bool], LLM] = {}
        self._lock = threading.Lock()

    def llm(self, spec: str | None = None, prefix_cache: bool | None = None) -> LLM:
        """The LLM backend a spec (default: config ``generate.llm``) names, loaded once."""
        g = self.config.generate
        spec = spec or g.llm
        prefix_cache = g.prefix_cache if prefix_cache is None else prefix_cache
        key = (spec, prefix_cache)
        with self._lock:
            if key not in self._llms:
                self._llms[key] = make_llm(spec, base_url=g.base_url, api_key=os.environ.get(g.api_key_env),
                                           timeout=g.timeout, max_retries=g.max_retries,
                                           context_window=g.context_window, tokenizer=g.tokenizer,
                                           prefix_cache=prefix_cache)
            return self._llms[key]

    def decoding(self, overrides: Decoding | dict | None = None) -> Decoding:
        """Decoding settings from config ``generate``, updated by ``overrides``."""
        if isinstance(overrides, Decoding):
            return overrides
        g = self.config.generate
        base = {f: getattr(g, f) for f in DECODING_FIELDS}
        base["stop"] = tuple(g.stop)
        unknown = set(overrides or {}) - set(base)
        if unknown:
            raise ConfigError(f"unknown decoding option(s): {', '.join(sorted(unknown))}")
        return Decoding(**{**base, **(overrides or {})})

    def answer(self, question: str, hits: list[Hit], *, llm: str | LLM | None = None,
               decoding: Decoding | dict | None = None, prefix_cache: bool | None = None,
               on_token: OnToken | None = None) -> Answer:
        """An answer with numbered citations drawn from ``hits``; ``answer.timings`` has ``generate`` and, when
        this call loaded the model, ``load_model``."""
        t0 = time.perf_counter()
        spec = self.config.generate.llm if llm is None else llm
        if spec == "extractive":
            a = self.config.answer
            answer = ExtractiveAnswerer(self.analyzer, self.sentence_embedder(), a.max_sentences,
                                        a.max_chars).answer(question, hits)
            if on_token and answer.text:
                on_token(answer.text)
        else:
            cached = len(self._llms)
            model = spec if isinstance(spec, LLM) else self.llm(spec, prefix_cache)
            loaded = time.perf_counter()  # loading a model (first use) is not generating
            g = self.config.generate
            answer = LLMAnswerer(model, self.analyzer, self.decoding(decoding), g.language,
                                 g.template).answer(question, hits, on_token)
            if len(self._llms) > cached:
                answer.timings["load_model"] = loaded - t0
            t0 = loaded
        answer.timings = {**answer.timings, "generate": time.perf_counter() - t0}
        return answer
