"""Fitting retrieved passages into the model's context window.

The budget is the window minus the answer's ``max_new_tokens`` minus the fixed part of the prompt
(system message, question, chat-template overhead), counted with the backend's own tokenizer.
Passages go in best first. When one does not fit it is trimmed around the sentences that match the
question best (not cut at its end); no passage may take more than half the budget when there are
others; what still does not fit is left out and counted, and the prompt says so.
"""

from __future__ import annotations

from typing import Callable

from docrag.errors import ConfigError
from docrag.generate.extractive import QuestionMatch
from docrag.generate.prompt import Passage, Template, build_messages, passage_text, render_passage
from docrag.models.llm import CHAT_OVERHEAD
from docrag.text.analyzer import Analyzer
from docrag.text.sentences import sentence_spans
from docrag.types import Hit

CountTokens = Callable[[str], int]
MIN_PASSAGE_TOKENS = 48  # a trimmed passage shorter than this is not worth its place
ELLIPSIS = "…"


def prompt_budget(template: Template, question: str, count: CountTokens, window: int, max_new_tokens: int) -> int:
    """Tokens left for passages."""
    fixed = sum(count(m["content"]) for m in build_messages(template, question, [])) + CHAT_OVERHEAD
    available = window - max_new_tokens - fixed
    if available < MIN_PASSAGE_TOKENS:
        raise ConfigError(f"context window of {window} tokens leaves no room for passages after the prompt "
                          f"({fixed}) and the answer ({max_new_tokens}); lower generate.max_new_tokens")
    return available


def fit_passages(hits: list[Hit], question: str, template: Template, count: CountTokens, budget: int,
                 analyzer: Analyzer) -> tuple[list[Passage], int]:
    """Passages numbered 1..n in rank order, and how many hits were left out."""
    cap = budget // 2 if len(hits) > 1 else budget
    match = QuestionMatch(analyzer, question)
    passages: list[Passage] = []
    left, omitted = budget, 0
    for hit in hits:
        number = len(passages) + 1
        overhead = count(render_passage(template, number, hit, "")) + 2  # label and blank line
        room = min(cap, left) - overhead
        full = passage_text(hit)
        text = full if count(full) <= room else trim_around_match(full, room, count, match)
        if not text:
            omitted += 1
            continue
        passages.append(Passage(number, hit, text))
        left -= overhead + count(text)
    return passages, omitted


def trim_around_match(text: str, budget: int, count: CountTokens, match: QuestionMatch) -> str:
    """The best-matching sentence and its neighbours (after, then before, alternately) that fit in
    ``budget`` tokens, then as much of the next sentence as still fits, with … where text was cut;
    '' when under MIN_PASSAGE_TOKENS fit."""
    if budget < MIN_PASSAGE_TOKENS:
        return ""
    spans = sentence_spans(text)
    if not spans:
        return ""
    best = max(range(len(spans)), key=lambda i: match.score(text[spans[i][0]:spans[i][1]]))
    lo = hi = best

    def render(a: int, b: int) -> str:
        return (ELLIPSIS if a > 0 else "") + text[spans[a][0]:spans[b][1]] + (ELLIPSIS if b < len(spans) - 1 else "")

    if count(render(lo, hi)) > budget:  # one sentence longer than the budget: keep its start
        return _longest_prefix(render(lo, hi).rstrip(ELLIPSIS), budget, count)
    grew = True
    while grew:
        grew = False
        if hi + 1 < len(spans) and count(render(lo, hi + 1)) <= budget:
            hi, grew = hi + 1, True
        if lo > 0 and count(render(lo - 1, hi)) <= budget:
            lo, grew = lo - 1, True
    if hi + 1 == len(spans):
        return render(lo, hi)
    # fill what is left with the start of the next sentence (never shorter than render(lo, hi), which fits)
    head = ELLIPSIS if lo > 0 else ""
    return head + _longest_prefix(text[spans[lo][0]:spans[hi + 1][1]], budget - count(head), count)


def _longest_prefix(text: str, budget: int, count: CountTokens) -> str:
    """The longest start of ``text`` that, with a trailing …, fits ``budget`` tokens ('' if none does)."""
    lo, hi = 0, len(text)
    while lo < hi:  # binary search: token counts grow with the prefix length
        mid = (lo + hi + 1) // 2
        if count(text[:mid] + ELLIPSIS) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + ELLIPSIS if lo else ""
