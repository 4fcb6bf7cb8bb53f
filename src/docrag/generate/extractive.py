"""Extractive answers: no LLM, the answer is the few sentences of the top chunks that best match.

Each candidate sentence is scored by
  0.45 * lexical   (mean of: share of the question's terms it contains, terms weighted by length;
                    and share of the question's character bigrams, robust to segmentation mismatches)
+ 0.45 * dense     (cosine similarity of sentence and question embeddings, when an embedder is given)
+ 0.10 * rank      (1 / (1 + rank) of the chunk it came from)
(with an embedder, only the 12 best candidates by lexical + rank score are embedded and ranked).
+ kind_bonus (0.15; 0 turns it off) when the question asks for a kind of answer (a date, a
         number, a place, a reason, a list: ``focus``) and the sentence holds a span of that kind that
         the question does not already state.
The best sentence, and the next ones while they score at least 85% of it (up to ``max_sentences``
and ``max_chars``), become the answer, each followed by its citation number. With ``trim``, each sentence is cut
to the clause that holds what the question asks for (``focus.focus``).

Not found: when no retrieved passage covers at least ``min_support`` of the question (``support``: the lexical
match below, of the whole passage), the answer says so and lists the closest passages as related
(``notfound``).
"""

from __future__ import annotations

import re

import numpy as np

from docrag.generate.focus import focus, question_kind, typed_spans
from docrag.generate.notfound import not_found
from docrag.models.embed import Embedder
from docrag.text.analyzer import Analyzer
from docrag.text.sentences import sentence_spans
from docrag.types import Answer, Citation, Hit

_CJK_END = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]$")
_MIN_SENTENCE = 6
_DENSE_SHORTLIST = 12
_KEEP_RATIO = 0.85  # further sentences only while they score within 85% of the best one
# A sentence that announces what follows ("主要有两个原因。", "as follows:") is no answer by itself:
# when it is the best, the sentences after it are added — as many as it announces ("两个" -> 2), else one.
_ANNOUNCES = re.compile(r"(?:[:：]|(?:原因|方面|步骤|几点|如下|以下|下列|两点|三点)[。.]?|(?:following|follows)[.:]?)$",
                        re.I)
_COUNT = re.compile(r"(两|二|三|四|[2-4]|two|three|four)\s*(?:个|种|项|条|点|方面|步|reasons?|ways?|steps?|points?)",
                    re.I)
_COUNTS = {"两": 2, "二": 2, "三": 3, "四": 4, "2": 2, "3": 3, "4": 4, "two": 2, "three": 3, "four": 4}
# both chosen on CMRC-derived and RGB sets (kind bonus: +11 of 1,000 CMRC answers): docs/benchmarks.md,
# "Quality defaults"; config answer.kind_bonus / answer.min_support carry the same defaults
KIND_BONUS = 0.15
MIN_SUPPORT = 0.3
_ENDS_SENTENCE = re.compile(r"[。！？!?.;；…」』”\"')）:：]$")


def _bigrams(text: str) -> set[str]:
    s = re.sub(r"\s+", "", text.lower())
    return {s[i:i + 2] for i in range(len(s) - 1)}


class QuestionMatch:
    """Lexical match of a sentence to a question: the mean of the share of the question's terms it
    contains (weighted by length) and the share of the question's character bigrams (robust to
    segmentation mismatches). In [0, 1]."""

    def __init__(self, analyzer: Analyzer, question: str):
        self.analyzer = analyzer
        self.terms = set(analyzer.tokenize(question))
        self.weight = sum(len(t) for t in self.terms) or 1
        self.bigrams = _bigrams(question)

    def score(self, sentence: str) -> float:
        terms = set(self.analyzer.tokenize(sentence))
        term_score = sum(len(t) for t in self.terms & terms) / self.weight
        bigram_score = len(self.bigrams & _bigrams(sentence)) / (len(self.bigrams) or 1)
        return 0.5 * (term_score + bigram_score)


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(self, analyzer: Analyzer, embedder: Embedder | None = None, max_sentences: int = 3,
                 max_chars: int = 300, trim: bool = False, min_support: float = MIN_SUPPORT,
                 kind_bonus: float = KIND_BONUS):
        self.analyzer, self.embedder = analyzer, embedder
        self.max_sentences, self.max_chars = max_sentences, max_chars
        self.trim, self.min_support, self.kind_bonus = trim, min_support, kind_bonus

    def support(self, question: str, hits: list[Hit]) -> float:
        """How well the best passage covers the question, in [0, 1] (``QuestionMatch`` of the whole passage)."""
        match = QuestionMatch(self.analyzer, question)
        return max((match.score(h.text) for h in hits), default=0.0)

    def answer(self, question: str, hits: list[Hit]) -> Answer:
        cands = []  # (rank, hit, sentence, the sentences after it in the chunk)
        for rank, hit in enumerate(hits):
            sents = [hit.text[s:e] for s, e in sentence_spans(hit.text)]
            for j, sent in enumerate(sents):
                # headings and labels (short, no sentence end) are not answers
                if len(sent) >= _MIN_SENTENCE and (_ENDS_SENTENCE.search(sent) or len(sent) >= 40):
                    cands.append((rank, hit, sent, sents[j + 1:j + 5]))
        answer = Answer(text="", citations=[], question=question, mode=self.name, hits=hits)
        if not cands or self.support(question, hits) < self.min_support:
            return not_found(answer)
        scores = self._scores(question, cands)
        kind = question_kind(question)
        if self.kind_bonus and kind:
            scores = scores + self.kind_bonus * np.array([bool(typed_spans(kind, c[2], question)) for c in cands])
        match = QuestionMatch(self.analyzer, question)
        chosen: list[tuple[int, str]] = []  # (candidate, sentence)
        used_chars, seen = 0, set()
        order = np.argsort(-scores, kind="stable")
        floor = _KEEP_RATIO * scores[order[0]]
        for i in order:
            rank, hit, sent, after = cands[i]
            if not chosen and _ANNOUNCES.search(sent):
                sent = self._with_announced(sent, after)
            elif self.trim:
                sent = focus(sent, question, kind, match.score)
            key = re.sub(r"\W+", "", sent)
            if scores[i] < floor:
                break
            if key in seen or (chosen and used_chars + len(sent) > self.max_chars):
                continue
            chosen.append((i, sent))
            seen.add(key)
            used_chars += len(sent)
            if len(chosen) == self.max_sentences or used_chars >= self.max_chars:
                break

        numbers: dict[int, int] = {}  # chunk id -> citation number, in order of first use
        quotes: dict[int, list[str]] = {}
        parts: list[str] = []
        previous = ""
        for i, sent in chosen:
            hit = cands[i][1]
            n = numbers.setdefault(hit.chunk_id, len(numbers) + 1)
            quotes.setdefault(hit.chunk_id, []).append(sent)
            sep = "" if not parts or _CJK_END.search(previous) else " "
            parts.append(f"{sep}{sent}[{n}]")
            previous = sent
        by_id = {h.chunk_id: h for h in hits}
        citations = [Citation(number=n, doc_path=by_id[cid].doc_path, page=by_id[cid].page,
                              quote=" … ".join(quotes[cid]), chunk_id=cid) for cid, n in numbers.items()]
        answer.text, answer.citations = "".join(parts), citations
        return answer

    def _with_announced(self, sentence: str, following: list[str]) -> str:
        count = _COUNT.search(sentence)
        for nxt in following[: _COUNTS[count.group(1).lower()] if count else 1]:
            if len(sentence) + len(nxt) > self.max_chars:
                break
            sentence += nxt
        return sentence

    def _scores(self, question: str, cands: list[tuple[int, Hit, str, list[str]]]) -> np.ndarray:
        match = QuestionMatch(self.analyzer, question)
        lexical = np.array([match.score(c[2]) for c in cands])
        rank = np.array([1.0 / (1 + c[0]) for c in cands])
        lexical_only = 0.9 * lexical + 0.1 * rank
        if self.embedder is None:
            return lexical_only
        # embedding is the slow part (~1,750 chars/s): only the best lexical candidates are embedded
        shortlist = np.argsort(-lexical_only, kind="stable")[:_DENSE_SHORTLIST]
        dense = self.embedder.embed_for_scoring([cands[i][2] for i in shortlist]) @ self.embedder.embed_query(question)
        scores = np.full(len(cands), -np.inf)
        scores[shortlist] = 0.45 * lexical[shortlist] + 0.45 * np.clip(dense, 0, 1) + 0.1 * rank[shortlist]
        return scores
