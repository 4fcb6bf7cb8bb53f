"""An honest "not found": the same for every answerer.

An answer is *not found* when the retrieved passages do not support one: the extractive answerer decides by how
much of the question the best passage covers (``support``), an LLM by refusing as its prompt allows ("资料中没有找到
答案" / "The documents do not contain the answer"), which ``is_refusal`` detects. Either way ``Answer.found`` is
False, the text says so in the question's language, citations are empty and the closest passages are listed as
``related``.
"""

from __future__ import annotations

import re

from docrag.generate.prompt import detect_language
from docrag.types import Answer, Citation, Hit

MESSAGES = {"zh": "资料中没有找到答案。", "en": "The documents do not contain the answer."}
RELATED = 3  # closest passages listed when nothing is found
_QUOTE = 200

# the template's refusal sentences and their usual paraphrases, at the start of a short reply
_REFUSAL = re.compile(
    r"^\W*(?:(?:抱歉|对不起)[，,。]?\s*)?(?:(?:参考)?资料(?:中|里)?(?:并)?(?:没有|未|无)(?:找到|提供|提到|提及|包含|涉及|给出)?"
    r"(?:相关)?(?:的)?(?:答案|信息|内容|说明)|(?:无法|不能)(?:根据|从)(?:参考)?资料(?:中)?(?:回答|找到|得出)|"
    r"(?:i'?m sorry,?\s*)?(?:the )?(?:documents?|passages?|sources?|context) "
    r"(?:do(?:es)? not|don'?t|did not|provided? no)\s*(?:contain|provide|mention|include|say|give)?|"
    r"(?:i )?(?:cannot|can'?t|could not|am unable to) "
    r"(?:find|answer|determine)|no (?:answer|information) (?:is |was )?(?:found|given|provided))",
    re.I)


def is_refusal(text: str) -> bool:
    """True when a model's reply is a refusal (its first sentence says the passages hold no answer)."""
    plain = re.sub(r"\[\d+\]", "", text).strip()
    return bool(plain) and len(plain) <= 300 and bool(_REFUSAL.search(plain))


def related(hits: list[Hit], n: int = RELATED) -> list[Citation]:
    """The closest passages, numbered in rank order, each quoted from its start."""
    out: list[Citation] = []
    for h in hits[:n]:
        quote = h.text if len(h.text) <= _QUOTE else h.text[:_QUOTE].rstrip() + "…"
        out.append(Citation(number=len(out) + 1, doc_path=h.doc_path, page=h.page, quote=quote, chunk_id=h.chunk_id))
    return out


def not_found(answer: Answer, language: str | None = None, text: str | None = None) -> Answer:
    """Mark ``answer`` not found: the message in the question's language (or ``text``, a model's own refusal),
    no citations, the closest hits as related passages."""
    answer.found = False
    answer.text = text if text is not None else MESSAGES[language or detect_language(answer.question)]
    answer.citations = []
    answer.related = related(answer.hits)
    return answer
