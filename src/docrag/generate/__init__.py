"""Answer stage. The default, ``extractive``, needs no LLM; LLM backends share the Answer type."""

from docrag.generate.extractive import ExtractiveAnswerer

__all__ = ["ExtractiveAnswerer"]
