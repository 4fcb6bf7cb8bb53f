"""Retrieval, answer-quality and faithfulness metrics for Chinese, English and mixed text.

- Retrieval: hit@k, recall@k, reciprocal rank and nDCG@k (binary relevance) over gold keys
  (documents or pages); several chunks can map to one key, so only a key's first rank counts.
- Answers: exact match and token F1 as in SQuAD v1.1 for English and CMRC2018 for Chinese
  (one token per Chinese character), ROUGE-1/2/L, and a unit-aware numeric match.
- Faithfulness: lexical support of a sentence by a passage (share of its token bigrams found
  there); the runner adds embedding similarity on top.

All text is NFKC-normalised first, so full-width letters and digits ("ＧＰＴ４", "２０２３")
compare equal to their half-width forms.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Hashable, Sequence

# Han ideographs: basic block, extension A, compatibility ideographs, extensions B-G.
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_CJK_CHAR = re.compile(f"[{_CJK}]")
_ROUGE_TOKEN = re.compile(f"[{_CJK}]|[a-z0-9]+")
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_WHITESPACE = re.compile(r"\s+")

# A number with its sign and unit: "-$1,577.00", "(1,577)", "1.577 billion", "47,295.60 万元".
_NUMBER = re.compile(
    r"(?P<open>\()?"
    r"(?:(?<![a-z0-9.])(?P<minus>[-\u2212]))?"  # not the hyphen of "gpt-4" or "2019-2020"
    r"(?:[$€£¥]\s*)?"
    r"(?<![\d.])(?P<digits>\d+(?:,\d{3})*(?:\.\d+)?)(?!\d)"
    r"(?:\s*(?P<scale>thousand|million|billion|trillion|mn|bn|[kmb](?![a-z])|百万|千万|万|亿|千))?"
    r"(?P<close>\))?"
)
_SCALES = {
    "thousand": 1e3, "k": 1e3, "千": 1e3,
    "million": 1e6, "mn": 1e6, "m": 1e6, "百万": 1e6,
    "billion": 1e9, "bn": 1e9, "b": 1e9,
    "trillion": 1e12,
    "万": 1e4, "千万": 1e7, "亿": 1e8,
}


# ---------------------------------------------------------------- retrieval


def _first_occurrences(ranked: Sequence[Hashable], k: int | None = None) -> list[Hashable]:
    """Keys in rank order with repeats dropped (chunks of one document share its key), cut to k."""
    keys = list(dict.fromkeys(ranked))
    return keys if k is None else keys[: max(k, 0)]


def hit_at_k(ranked: Sequence[Hashable], gold: Collection[Hashable], k: int) -> float:
    """1.0 if any gold key is among the top-k distinct keys."""
    return float(any(key in gold for key in _first_occurrences(ranked, k)))


def recall_at_k(ranked: Sequence[Hashable], gold: Collection[Hashable], k: int) -> float:
    """Share of the gold keys found among the top-k distinct keys (0.0 without gold)."""
    gold = set(gold)
    return len(gold.intersection(_first_occurrences(ranked, k))) / len(gold) if gold else 0.0


def reciprocal_rank(ranked: Sequence[Hashable], gold: Collection[Hashable], k: int | None = None) -> float:
    """1/rank of the first gold key among the distinct keys (within k if given), else 0.0."""
    for rank, key in enumerate(_first_occurrences(ranked, k), start=1):
        if key in gold:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: Sequence[Hashable], gold: Collection[Hashable], k: int) -> float:
    """Normalised DCG with binary relevance: sum of 1/log2(rank+1) over gold keys in the top k,
    divided by the same sum with min(|gold|, k) gold keys ranked first."""
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(set(gold)), k) + 1))
    if ideal == 0.0:
        return 0.0
    dcg = sum(
        1.0 / math.log2(rank + 1)
        for rank, key in enumerate(_first_occurrences(ranked, k), start=1)
        if key in gold
    )
    return dcg / ideal


def _normalise_for_containment(text: str) -> str:
    """Full-width to half-width, lower-case, "1,577" to "1577", all whitespace removed."""
    return _WHITESPACE.sub("", _THOUSANDS.sub("", unicodedata.normalize("NFKC", text).lower()))


def answer_recall_at_k(texts: Sequence[str], answers: Sequence[str], k: int) -> float:
    """1.0 if some gold answer string occurs in one of the top-k retrieved texts.

    Needs no gold documents, so it scores retrieval on reading-comprehension sets that only
    have answers; empty answers are ignored because they occur everywhere.
    """
    needles = [n for n in map(_normalise_for_containment, answers) if n]
    haystacks = [_normalise_for_containment(t) for t in texts[: max(k, 0)]]
    return float(any(n in h for n in needles for h in haystacks))


# ---------------------------------------------------------------- tokenisation


def _is_punctuation(ch: str) -> bool:
    """Unicode punctuation or symbol: every ASCII string.punctuation character plus "，。（）《》¥" etc."""
    return unicodedata.category(ch)[0] in "PS"


def tokens(text: str) -> list[str]:
    """Tokens for exact match and F1.

    English follows SQuAD v1.1's normalize_answer: lower-case, delete punctuation ("U.S." ->
    "us"), drop the articles a/an/the, split on whitespace. Each Han character is a token, as in
    the CMRC2018 evaluation script, and Latin/digit runs around them stay whole words
    ("GPT-4 模型" -> gpt4 模 型). Unlike SQuAD, non-ASCII punctuation (“”，。) is deleted too.
    """
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(ch for ch in text if not _is_punctuation(ch))
    text = _CJK_CHAR.sub(r" \g<0> ", text)
    return _ARTICLES.sub(" ", text).split()


def rouge_tokens(text: str) -> list[str]:
    """Tokens for ROUGE and lexical support: each Han character, and lower-cased [a-z0-9]+ runs.

    On English this is rouge-score's default tokenizer (no stemming), which would instead drop
    every Chinese character; hence our own.
    """
    return _ROUGE_TOKEN.findall(unicodedata.normalize("NFKC", text).lower())


# ---------------------------------------------------------------- answer quality


def _f_measure(precision: float, recall: float) -> float:
    """Harmonic mean, 0.0 when both are 0."""
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    """1.0 if the prediction's tokens equal some answer's tokens."""
    predicted = tokens(prediction)
    return float(any(predicted == tokens(answer) for answer in answers))


def _token_f1(predicted: list[str], reference: list[str]) -> float:
    """F1 of the multiset overlap; when either side is empty, 1.0 only if both are (SQuAD v2)."""
    if not predicted or not reference:
        return float(predicted == reference)
    same = sum((Counter(predicted) & Counter(reference)).values())
    return _f_measure(same / len(predicted), same / len(reference))


def f1(prediction: str, answers: Sequence[str]) -> float:
    """Best token F1 of the prediction against any answer (SQuAD-style bag-of-tokens overlap)."""
    predicted = tokens(prediction)
    return max((_token_f1(predicted, tokens(answer)) for answer in answers), default=0.0)


def _ngrams(toks: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    """Counts of the n-grams of a token sequence."""
    return Counter(tuple(toks[i : i + n]) for i in range(len(toks) - n + 1))


def rouge_n(prediction: str, reference: str, n: int) -> tuple[float, float, float]:
    """ROUGE-N (precision, recall, F) over rouge_tokens, computed as rouge-score does."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    predicted, expected = _ngrams(rouge_tokens(prediction), n), _ngrams(rouge_tokens(reference), n)
    overlap = sum((predicted & expected).values())
    precision = overlap / max(sum(predicted.values()), 1)
    recall = overlap / max(sum(expected.values()), 1)
    return precision, recall, _f_measure(precision, recall)


def _lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence, by dynamic programming over one row."""
    row = [0] * (len(b) + 1)
    for x in a:
        diagonal = 0
        for j, y in enumerate(b, start=1):
            diagonal, row[j] = row[j], (diagonal + 1 if x == y else max(row[j], row[j - 1]))
    return row[-1]


def rouge_l(prediction: str, reference: str) -> tuple[float, float, float]:
    """ROUGE-L (precision, recall, F) from the LCS of the two token sequences (rouge-score's rougeL)."""
    predicted, expected = rouge_tokens(prediction), rouge_tokens(reference)
    if not predicted or not expected:
        return 0.0, 0.0, 0.0
    lcs = _lcs_length(expected, predicted)
    precision, recall = lcs / len(predicted), lcs / len(expected)
    return precision, recall, _f_measure(precision, recall)


def rouge(prediction: str, answers: Sequence[str]) -> dict[str, float]:
    """Best ROUGE-1, ROUGE-2 and ROUGE-L F-measures over the answers (0.0 without answers)."""
    scores = [
        (rouge_n(prediction, a, 1)[2], rouge_n(prediction, a, 2)[2], rouge_l(prediction, a)[2])
        for a in answers
    ]
    return {
        name: max((s[i] for s in scores), default=0.0)
        for i, name in enumerate(("rouge1", "rouge2", "rougeL"))
    }


def _numbers(text: str) -> set[float]:
    """Every number in the text, both as written and multiplied by its unit.

    Both forms are kept because answers often omit the unit the question states: "$1577.00"
    (in USD millions) should match "1,577 million" as well as "1577". "(1,577)" is -1577, as in
    accounts; a "%" is ignored, so "12.5%" is 12.5.
    """
    values = set()
    for m in _NUMBER.finditer(unicodedata.normalize("NFKC", text).lower()):
        value = float(m["digits"].replace(",", ""))
        if m["minus"] or (m["open"] and m["close"]):
            value = -value
        values.add(value)
        if m["scale"]:
            values.add(value * _SCALES[m["scale"]])
    return values


def numeric_match(prediction: str, answers: Sequence[str], rel_tol: float = 0.01) -> float:
    """1.0 if a number in the prediction equals a number in some answer within rel_tol.

    Units, thousands separators, currency signs and full-width digits are normalised away
    ("1,526.45万元" = "1526.45万元", "1,577 million" = "$1.577 billion"); 0.0 if no answer has a number.
    """
    predicted = _numbers(prediction)
    return float(
        any(
            math.isclose(p, a, rel_tol=rel_tol)
            for answer in answers
            for a in _numbers(answer)
            for p in predicted
        )
    )


# ---------------------------------------------------------------- faithfulness


def support(sentence: str, passage: str) -> float:
    """Share of the sentence's token bigrams (Han characters, Latin words) found in the passage.

    1.0 for a sentence copied from the passage, 0.0 for an empty one; a one-token sentence is
    judged on that token alone.
    """
    toks = rouge_tokens(sentence)
    if not toks:
        return 0.0
    n = min(len(toks), 2)
    grams = _ngrams(toks, n)
    found = _ngrams(rouge_tokens(passage), n)
    return sum(count for gram, count in grams.items() if gram in found) / sum(grams.values())
