"""Answers written by an LLM from the retrieved passages, with checked [n] citations."""

from __future__ import annotations

import re
import time

from docrag.generate.budget import fit_passages, prompt_budget
from docrag.generate.citations import resolve_citations
from docrag.generate.notfound import is_refusal, not_found
from docrag.generate.prompt import Passage, build_messages, detect_language, load_template
from docrag.models.llm import LLM, Decoding, Message, OnToken
from docrag.text.analyzer import Analyzer
from docrag.types import Answer, Hit

_NOTES = {
    "zh": {"omitted": "另有 {n} 段相关资料因上下文窗口所限未提供给模型。",
           "dropped": "模型引用了未提供的资料编号 {nums}，已删除。"},
    "en": {"omitted": "{n} relevant passages were left out to fit the model's context window.",
           "dropped": "The model cited passages it was not given ({nums}); those citations were removed."},
}


class LLMAnswerer:
    def __init__(self, llm: LLM, analyzer: Analyzer, decoding: Decoding, language: str = "auto",
                 template_path: str | None = None):
        self.llm, self.analyzer, self.decoding = llm, analyzer, decoding
        self.language, self.template_path = language, template_path

    def language_of(self, question: str) -> str:
        return detect_language(question) if self.language == "auto" else self.language

    def prompt(self, question: str, hits: list[Hit]) -> tuple[list[Message], list[Passage], int]:
        """(the messages the model is given, the passages numbered in them, how many hits were left out to fit
        the context window). Generator fine-tuning trains on exactly these prompts."""
        template = load_template(self.language_of(question), self.template_path)
        budget = prompt_budget(template, question, self.llm.count_tokens, self.llm.context_window,
                               self.decoding.max_new_tokens)
        passages, omitted = fit_passages(hits, question, template, self.llm.count_tokens, budget, self.analyzer)
        messages = build_messages(template, question, passages, omitted)
        # passages were counted one by one; the rendered prompt can differ by a few tokens (chat template,
        # merges across boundaries): check it whole and drop the lowest-ranked passages until it fits
        limit = self.llm.context_window - self.decoding.max_new_tokens
        while len(passages) > 1 and self.llm.count_prompt_tokens(messages) > limit:
            passages.pop()
            omitted += 1
            messages = build_messages(template, question, passages, omitted)
        return messages, passages, omitted

    def answer(self, question: str, hits: list[Hit], on_token: OnToken | None = None) -> Answer:
        language = self.language_of(question)
        answer = Answer(text="", citations=[], question=question, mode=self.llm.name, hits=hits)
        if not hits:
            return not_found(answer, language)
        t0 = time.perf_counter()
        messages, passages, omitted = self.prompt(question, hits)
        t1 = time.perf_counter()
        generation = self.llm.generate(messages, self.decoding, on_token)
        answer.text, answer.citations, dropped = resolve_citations(generation.text, passages)
        answer.usage = generation.usage
        answer.timings = {"prompt": t1 - t0, **generation.timings}
        answer.omitted_passages, answer.dropped_citations = omitted, len(dropped)
        if is_refusal(generation.text):  # the prompt lets the model refuse: reported as every answerer does
            not_found(answer, language, text=re.sub(r"\s*\[\d+\]", "", generation.text).strip())
            dropped = []
            answer.dropped_citations = 0
        notes = _NOTES[language]
        if omitted:
            answer.notes.append(notes["omitted"].format(n=omitted))
        if dropped:
            answer.notes.append(notes["dropped"].format(nums=", ".join(f"[{n}]" for n in dropped)))
        return answer
