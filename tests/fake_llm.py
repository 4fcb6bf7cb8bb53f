"""An in-process LLM for tests of everything around generation: one token per character."""

from __future__ import annotations

from docrag.config import Decoding
from docrag.models.llm import LLM, Generation, Message, OnToken


class ScriptedLLM(LLM):
    """Answers with ``reply`` (a string, or a function of the messages); records every prompt."""

    def __init__(self, reply="答案[1]。", context_window: int = 4096, name: str = "scripted"):
        self.reply, self.context_window, self.name = reply, context_window, name
        self.prompts: list[list[Message]] = []
        self.decodings: list[Decoding] = []

    def count_tokens(self, text: str) -> int:
        return len(text)

    def generate(self, messages: list[Message], decoding: Decoding, on_token: OnToken | None = None) -> Generation:
        self.prompts.append(messages)
        self.decodings.append(decoding)
        text = self.reply(messages) if callable(self.reply) else self.reply
        if on_token:
            for piece in text:
                on_token(piece)
        prompt_tokens = sum(self.count_tokens(m["content"]) for m in messages)
        return Generation(text, usage={"prompt_tokens": prompt_tokens, "completion_tokens": len(text)},
                          timings={"first_token": 0.001, "generate": 0.002})
