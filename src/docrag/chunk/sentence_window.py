from __future__ import annotations

from docrag.chunk.base import DocText, Draft, Segment, Splitter


class SentenceWindowSplitter(Splitter):
    """One chunk per sentence, so that a match is precise; each carries in ``extra["window"]`` the text
    from ``window`` sentences before it to ``window`` sentences after it (itself included), never
    across a table or figure, for the LLM to read in its place.

    Sentences follow Chinese and English ends; a very short one (a heading, "Yes.") is joined to the
    next, and one longer than ``size`` is cut into pieces."""

    name = "sentence_window"

    def __init__(self, size: int = 400, overlap: int = 50, unit: str = "chars", *, window: int = 2):
        super().__init__(size, overlap, unit)
        if window < 0:
            raise ValueError(f"window ({window}) must not be negative")
        self.window = window

    @classmethod
    def from_config(cls, config, **context) -> SentenceWindowSplitter:
        return cls(size=config.size, overlap=config.overlap, unit=config.unit, window=config.window)

    def signature(self) -> str:
        return f"{super().signature()}:window={self.window}"

    def split_run(self, dt: DocText, run: list[Segment]) -> list[Draft]:
        units = self.sentence_units(dt, run)
        last = len(units) - 1
        return [Draft(s, e, extra={"window": dt.text[units[max(0, k - self.window)].start:
                                                     units[min(last, k + self.window)].end]})
                for k, (s, e, _) in enumerate(units)]
