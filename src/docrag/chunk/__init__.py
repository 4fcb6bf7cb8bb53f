"""Chunking strategies, picked by name: ``make_splitter(config).split(doc) -> list[Chunk]``."""

from docrag.chunk.base import Splitter, join_blocks
from docrag.chunk.fixed import FixedSplitter
from docrag.chunk.recursive import RecursiveSplitter
from docrag.chunk.sentences import sentence_spans, split_sentences

SPLITTERS: dict[str, type[Splitter]] = {cls.name: cls for cls in (RecursiveSplitter, FixedSplitter)}


def make_splitter(config) -> Splitter:
    """``config`` is a ``docrag.config.ChunkConfig``."""
    return SPLITTERS[config.strategy](size=config.size, overlap=config.overlap, unit=config.unit)


__all__ = ["SPLITTERS", "FixedSplitter", "RecursiveSplitter", "Splitter", "join_blocks", "make_splitter",
           "sentence_spans", "split_sentences"]
