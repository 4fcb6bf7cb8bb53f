"""The answer step of an index: the extractive answer (no model) or an LLM backend, loaded once and kept (the local
backend's prefix cache lives as long as its model)."""

from __future__ import annotations

import threading
import time
from typing import Callable

from docrag.config import Config, Decoding
from docrag.errors import ConfigError
from docrag.generate.extractive import ExtractiveAnswerer
from docrag.generate.llm import LLMAnswerer
from docrag.models.embed import Embedder
from docrag.models.llm import LLM, OnToken, make_llm
from docrag.text.analyzer import Analyzer
from docrag.types import Answer, Hit


class Answerer:
    def __init__(self, config: Config, analyzer: Analyzer, sentence_embedder: Callable[[], Embedder | None]):
        """``sentence_embedder``: the embedder whose vectors rank sentences in the extractive answer, or None
        (asked on each answer: an index gains vectors while it is open)."""
        self.config, self.analyzer, self.sentence_embedder = config, analyzer, sentence_embedder
        self._llms: dict[tuple[str, bool], LLM | None] = {}
        self._lock = threading.Lock()

    def llm(self, spec: str | None = None, prefix_cache: bool | None = None) -> LLM | None:
        """The LLM backend a spec (default: config ``generate.llm``) names, loaded once; None for ``extractive``."""
        g = self.config.generate
        spec = spec or g.llm
        prefix_cache = g.prefix_cache if prefix_cache is None else prefix_cache
        key = (spec, prefix_cache)
        with self._lock:
            if key not in self._llms:
                self._llms[key] = make_llm(spec, self.config.updated(generate__prefix_cache=prefix_cache))
            return self._llms[key]

    def decoding(self, overrides: Decoding | dict | None = None) -> Decoding:
        """Decoding settings from config ``generate``, updated by ``overrides`` (validated as the configuration is)."""
        if isinstance(overrides, Decoding):
            return overrides
        unknown = set(overrides or {}) - set(Decoding.model_fields)
        if unknown:
            raise ConfigError(f"unknown decoding option(s): {', '.join(sorted(unknown))}")
        g = self.config.updated(**{f"generate__{key}": value for key, value in (overrides or {}).items()}).generate
        return Decoding(**g.model_dump(include=set(Decoding.model_fields)))

    def answer(self, question: str, hits: list[Hit], *, llm: str | LLM | None = None,
               decoding: Decoding | dict | None = None, prefix_cache: bool | None = None,
               on_token: OnToken | None = None) -> Answer:
        """An answer with numbered citations drawn from ``hits``; ``answer.timings`` has ``generate`` and, when
        this call loaded the model, ``load_model``."""
        t0 = time.perf_counter()
        spec = self.config.generate.llm if llm is None else llm
        cached = len(self._llms)
        model = spec if isinstance(spec, LLM) else self.llm(spec, prefix_cache)
        loaded = time.perf_counter()  # loading a model (first use) is not generating
        if model is None:
            a = self.config.answer
            answer = ExtractiveAnswerer(self.analyzer, self.sentence_embedder(), a.max_sentences, a.max_chars,
                                        trim=a.trim, min_support=a.min_support,
                                        kind_bonus=a.kind_bonus).answer(question, hits)
            if on_token and answer.text:
                on_token(answer.text)
        else:
            g = self.config.generate
            answer = LLMAnswerer(model, self.analyzer, self.decoding(decoding), g.language,
                                 g.template).answer(question, hits, on_token)
            if len(self._llms) > cached:
                answer.timings["load_model"] = loaded - t0
        answer.timings = {**answer.timings, "generate": time.perf_counter() - loaded}
        return answer
