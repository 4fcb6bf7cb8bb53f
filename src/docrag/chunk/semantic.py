"""Semantic chunking: cut where the topic changes, found by embedding adjacent sentences.

Each sentence is embedded; where the cosine similarity of two adjacent sentences falls below the
document's mean similarity by more than ``threshold`` standard deviations, a chunk ends (the
"standard_deviation" breakpoint rule of LangChain's SemanticChunker, stated on similarities rather
than distances). A chunk also ends where the next sentence would make it longer than ``size``, and
before a heading. Sentences are never cut, except one longer than ``size`` on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from docrag.chunk.base import DocText, Draft, Segment, Splitter

if TYPE_CHECKING:
    from docrag.models.embed import Embedder

EMBED_BATCH = 64  # sentences per embed_passages call: bounds memory on long documents


class SemanticSplitter(Splitter):
    name = "semantic"

    def __init__(self, size: int = 400, overlap: int = 50, unit: str = "chars", *,
                 embedder: Callable[[], Embedder], embedder_name: str = "", threshold: float = 0.25):
        """``embedder`` is called once, when the first document is split; ``embedder_name`` (its
        ``Embedder.name``) lets ``signature()`` name it without loading the model."""
        super().__init__(size, overlap, unit)
        if threshold < 0:
            raise ValueError(f"threshold ({threshold}) must not be negative")
        self.threshold = threshold
        self._make_embedder = embedder
        self._embedder: Embedder | None = None
        self._embedder_name = embedder_name

    @classmethod
    def from_config(cls, config, embedder: Callable[[], Embedder] | None = None, embedder_name: str = "",
                    **context) -> SemanticSplitter:
        if embedder is None:
            raise ValueError("chunk strategy 'semantic' needs an embedder: make_splitter(config, embedder=...)")
        return cls(size=config.size, overlap=config.overlap, unit=config.unit, embedder=embedder,
                   embedder_name=embedder_name, threshold=config.semantic_threshold)

    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = self._make_embedder()
        return self._embedder

    def signature(self) -> str:
        from docrag.models.embed import vector_model  # engines of the same vectors chunk alike: one signature

        embedder = vector_model(self._embedder_name or self.embedder().name)
        return f"{super().signature()}:threshold={self.threshold}:embedder={embedder}"

    def split_runs(self, dt: DocText, runs: list[list[Segment]]) -> list[list[Draft]]:
        units = [self.sentence_units(dt, run) for run in runs]
        headings = [self._opens_section(dt, run_units) for run_units in units]
        # only runs of two or more sentences have a gap to measure
        texts = [dt.text[s:e] for run_units in units if len(run_units) > 1 for s, e, _ in run_units]
        vectors = iter(self._embed(texts))
        similarities: list[np.ndarray] = []  # per run: each sentence's similarity to the one before (0 for the first)
        for run_units in units:
            sims = np.zeros(len(run_units))
            if len(run_units) > 1:
                v = np.stack([next(vectors) for _ in run_units])
                sims[1:] = np.einsum("ij,ij->i", v[1:], v[:-1])
            similarities.append(sims)
        # the document's statistics, over the gaps that may become breakpoints (not those before a heading)
        gaps = np.concatenate([sims[1:][~opens[1:]] for sims, opens in zip(similarities, headings)] or [np.zeros(0)])
        cut_below = gaps.mean() - self.threshold * gaps.std() if len(gaps) else -np.inf
        return [self._pack(dt, run_units, sims < cut_below, opens)
                for run_units, sims, opens in zip(units, similarities, headings)]

    def _pack(self, dt: DocText, units: list[Segment], breakpoint: np.ndarray, heading: np.ndarray) -> list[Draft]:
        drafts: list[Draft] = []
        start, end = units[0].start, units[0].end
        for k in range(1, len(units)):
            s, e, _ = units[k]
            if breakpoint[k] or heading[k] or self.length(dt.text[start:e]) > self.size:
                drafts.append(Draft(start, end))
                start = s
            end = e
        drafts.append(Draft(start, end))
        return drafts

    @staticmethod
    def _opens_section(dt: DocText, units: list[Segment]) -> np.ndarray:
        """Which units start with a heading: a chunk always ends before one."""
        return np.array([dt.blocks[b].kind == "heading" and s == dt.starts[b] for s, _, b in units], dtype=bool)

    def _embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        embedder = self.embedder()
        v = np.concatenate([np.asarray(embedder.embed_passages(texts[i:i + EMBED_BATCH]), dtype=np.float32)
                            for i in range(0, len(texts), EMBED_BATCH)])
        norms = np.linalg.norm(v, axis=1, keepdims=True)
        return v / np.where(norms > 0, norms, 1.0)
