"""What a question asks for, and the clause of a sentence that holds it (no model: question words and patterns).

``question_kind`` reads the Chinese or English question word (什么时候/哪一年 when, 多少/几 how many, 谁 who,
哪里 where, 为什么 why, 哪些 which ones) and names the kind of answer: date, number, person, place, reason,
list, or None. ``typed_spans`` finds the spans of that kind in a text (a date, a number with its unit, a
place name by its suffix, a reason by its connective, an enumeration). ``clauses`` cuts a sentence at its
commas, semicolons and colons (never inside brackets, quotes or a number such as 1,750), and ``focus`` picks
the clause(s) that hold the answer: the clause with a span of the asked kind nearest to the question's terms,
else the best-matching clause, with the one after it when the clause mostly restates the question (only the one
after it when it restates nothing else).
"""

from __future__ import annotations

import re
from typing import Callable

_NUM = r"(?:\d+(?:[,.]\d+)*|[零〇一二两三四五六七八九十百千万亿]+)"
_MONTHS = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?"
           r"|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")

KINDS: list[tuple[str, re.Pattern]] = [
    ("date", re.compile(r"什么时候|何时|哪一?年|哪一?天|哪个月|几月|几号|何年|什么时间|什么年代|哪个朝代|年份|日期|"
                        r"\bwhen\b|\bwhat (?:year|date|day|month|time)\b|\bwhich (?:year|date|day|month)\b", re.I)),
    ("number", re.compile(r"多少|几|多大|多长|多高|多重|多远|多久|多深|多宽|"
                          r"\bhow (?:many|much|long|old|far|big|large|high|tall|often)\b|\bwhat (?:percentage|number|"
                          r"amount|share|price|size)\b", re.I)),
    ("person", re.compile(r"谁|哪位|什么人|哪个人|\bwho(?:m|se)?\b", re.I)),
    ("place", re.compile(r"哪里|哪儿|何处|何地|什么地方|哪个国家|哪国|哪座|哪个城市|哪个地区|在哪|\bwhere\b|"
                         r"\bwhich (?:country|city|state|place|town|region)\b", re.I)),
    ("reason", re.compile(r"为什么|为何|原因|怎么会|\bwhy\b", re.I)),
    ("list", re.compile(r"哪些|\bwhich (?:ones|are)\b|\bwhat are\b", re.I)),
]

_SPANS: dict[str, re.Pattern] = {
    "date": re.compile(
        rf"(?:公元前?)?{_NUM}年(?:{_NUM}月)?(?:{_NUM}[日号])?|{_NUM}月(?:{_NUM}[日号])?|{_NUM}世纪(?:{_NUM}年代)?|"
        rf"{_NUM}年代|[\u4e00-\u9fff]{{2}}元年|{_MONTHS}\.? \d{{1,2}}(?:st|nd|rd|th)?,? \d{{4}}|"
        rf"\d{{1,2}} {_MONTHS} \d{{4}}|{_MONTHS} \d{{4}}|\b(?:1[0-9]|20)\d{{2}}s?\b", re.I),
    "number": re.compile(
        rf"(?:约|近|超过|逾)?{_NUM}\s*(?:多|余)?\s*(?:%|％|percent|[a-z]+|[\u4e00-\u9fff]{{1,2}})?|\$\s?\d+(?:[,.]\d+)*\s*"
        r"(?:million|billion|thousand)?", re.I),
    "place": re.compile(r"[\u4e00-\u9fff·]{1,8}(?:省|市|县|区|州|国|镇|村|岛|山|河|湖|港|洲|城|街|路|馆|大学|学院|机场|"
                        r"地区|群岛|半岛|海|湾)|\b(?:in|at|from|near) [A-Z][\w.-]*(?: [A-Z][\w.-]*)*"),
    "reason": re.compile(r"(?:因为|由于|因此|所以|为了|原因|导致|以致|以便|because|due to|since|as a result|"
                         r"in order to|owing to|thanks to)", re.I),
    "list": re.compile(r"[^，,；;：:]*?(?:、[^、，,；;。]+){2,}|[^，,；;：:]*?(?:,\s*[^,;.]+){2,},?\s*and\s+[^,;.]+"),
}

_OPEN, _CLOSE = "（(《“「『【[", "）)》”」』】]"


def question_kind(question: str) -> str | None:
    """The kind of answer a question asks for, from its question word; None for what/how/other."""
    for kind, pattern in KINDS:
        if pattern.search(question):
            return kind
    return None


def typed_spans(kind: str | None, text: str, question: str = "") -> list[tuple[int, int]]:
    """Spans of ``text`` of the asked kind that are not already in the question (the question's own date or
    number is not its answer)."""
    pattern = _SPANS.get(kind or "")
    if pattern is None:
        return []
    q = re.sub(r"\s+", "", question.lower())
    out = []
    for m in pattern.finditer(text):
        span = m.group(0).strip()
        if not span or (kind == "number" and not re.search(r"\d|[一二两三四五六七八九十百千万亿]", span)):
            continue
        if kind in ("date", "number", "place") and re.sub(r"\s+", "", span.lower()) in q:
            continue
        out.append((m.start(), m.end()))
    return out


def clauses(sentence: str) -> list[tuple[int, int]]:
    """(start, end) of the clauses of a sentence: cut after a comma, semicolon or colon that is outside
    brackets and quotes and is no thousands separator; each clause keeps its punctuation."""
    cuts, depth = [], 0
    for i, ch in enumerate(sentence):
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth = max(depth - 1, 0)
        elif depth == 0 and ch in ",，；;：:":
            thousands = (ch in ",，" and 0 < i < len(sentence) - 3 and sentence[i - 1].isdigit()
                         and sentence[i + 1:i + 4].isdigit() and not sentence[i + 4:i + 5].isdigit())
            year = ch == "," and i > 0 and sentence[i - 1].isdigit() and re.match(r" \d{4}\b", sentence[i + 1:])
            if not thousands and not year:
                cuts.append(i + 1)
    bounds = [0] + cuts + [len(sentence)]
    spans = []
    for s, e in zip(bounds, bounds[1:]):
        while s < e and sentence[s].isspace():
            s += 1
        if e > s:
            spans.append((s, e))
    return spans


def focus(sentence: str, question: str, kind: str | None, match: Callable[[str], float],
          min_chars: int = 4) -> str:
    """The part of ``sentence`` that answers ``question``: one clause, or two adjacent ones.

    ``match(text)`` is the share of the question's terms that ``text`` holds. With an asked kind, the clause
    holding a span of that kind with the best match of itself and its neighbours wins (a reason runs from its
    connective to the sentence end). Otherwise the best-matching clause, joined with the next one when it holds
    little besides the question's own words (the answer follows what the question restates)."""
    spans = clauses(sentence)
    if len(spans) <= 1:
        return sentence
    texts = [sentence[s:e] for s, e in spans]
    ov = [match(t) for t in texts]
    qchars = set(re.sub(r"\W", "", question.lower()))

    def novelty(t: str) -> float:
        chars = re.sub(r"\W", "", t.lower())
        return sum(c not in qchars for c in chars) / (len(chars) or 1)

    def around(i: int) -> float:
        return ov[i] + 0.5 * max(ov[i - 1] if i else 0.0, ov[i + 1] if i + 1 < len(ov) else 0.0)

    typed = [i for i, t in enumerate(texts) if typed_spans(kind, t, question)]
    if typed:
        best = max(typed, key=lambda i: (around(i), -i))
        if kind == "reason":
            return _strip(sentence[spans[best][0]:])
        first, last = best, best
    else:
        best = max(range(len(texts)), key=lambda i: (ov[i] + 0.3 * novelty(texts[i]) * (ov[i] > 0), -i))
        first, last = best, best
        if novelty(texts[best]) < 0.5 and best + 1 < len(texts):
            last = best + 1
            if novelty(texts[best]) < 0.2:  # nothing but the question's own words: the answer is what follows
                first = last
    out = _strip(sentence[spans[first][0]:spans[last][1]])
    while len(re.sub(r"\W", "", out)) < min_chars and (first > 0 or last + 1 < len(spans)):
        if last + 1 < len(spans):
            last += 1
        else:
            first -= 1
        out = _strip(sentence[spans[first][0]:spans[last][1]])
    return out


def _strip(text: str) -> str:
    """A clause without its trailing comma/semicolon/colon or sentence end (it is no longer a sentence)."""
    return re.sub(r"[，,；;：:。.！!？?\s]+$", "", text.strip())
