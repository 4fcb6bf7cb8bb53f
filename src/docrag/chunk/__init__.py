"""Chunking strategies, picked by name: ``make_splitter(config).split(doc) -> list[Chunk]``.

Every strategy makes tables and figures chunks of their own (kinds "table" and "figure") and splits
the text between them its own way."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from docrag.chunk.base import Splitter, join_blocks
from docrag.chunk.fixed import FixedSplitter
from docrag.chunk.parent_child import ParentChildSplitter
from docrag.chunk.recursive import RecursiveSplitter
from docrag.chunk.semantic import SemanticSplitter
from docrag.chunk.sentence_window import SentenceWindowSplitter

if TYPE_CHECKING:
    from docrag.models.embed import Embedder

SPLITTERS: dict[str, type[Splitter]] = {cls.name: cls for cls in (
    RecursiveSplitter, FixedSplitter, SentenceWindowSplitter, SemanticSplitter, ParentChildSplitter)}


def make_splitter(config, embedder: Callable[[], Embedder] | None = None, embedder_name: str = "") -> Splitter:
    """``config`` is a ``docrag.config.ChunkConfig``. ``embedder`` returns the embedder that the
    ``semantic`` strategy uses (called only by it, when it first splits); ``embedder_name`` is that
    embedder's name, so that the chunk signature names it without loading the model."""
    cls = SPLITTERS.get(config.strategy)
    if cls is None:
        raise ValueError(f"unknown chunk strategy {config.strategy!r}; choose one of: {', '.join(SPLITTERS)}")
    return cls.from_config(config, embedder=embedder, embedder_name=embedder_name)


__all__ = ["SPLITTERS", "FixedSplitter", "ParentChildSplitter", "RecursiveSplitter", "SemanticSplitter",
           "SentenceWindowSplitter", "Splitter", "join_blocks", "make_splitter"]
