"""Question-answer pairs drawn from an index's chunks (``docrag adapt qa``), to fine-tune the models on the user's
own documents.

With an LLM, a versioned prompt (``templates/questions.{zh,en}.toml``) asks for questions a reader of the document
would ask, in the document's language, answerable from one chunk; a pair is kept only when its answer is supported
by the chunk (the lexical support the evaluation's faithfulness check uses) and its question copies no sentence of
the chunk. Without one (the offline default), pseudo-queries, each labelled by kind so its effect can be measured:

- ``cloze``: a sentence as the query, its chunk without that sentence as the positive (inverse cloze task);
- ``table``: a table cell's row label and column header as the query, the table chunk as the positive;
- ``heading``: the chunk's section heading plus its key terms (highest tf-idf) as the query.

Pairs are split into train and dev by document, never by pair, so a dev question's document is never trained on.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from pathlib import Path

from docrag.atomic import write_text_atomic
from docrag.config import Decoding
from docrag.errors import DocragError
from docrag.evaluate.metrics import rouge_tokens, support
from docrag.evaluate.runner import LEXICAL_SUPPORT
from docrag.generate.prompt import VersionedTemplate, detect_language, passage_text, read_template
from docrag.index.storage import Storage
from docrag.models.llm import LLM, Message
from docrag.text.analyzer import Analyzer, word_spans
from docrag.text.sentences import sentence_spans
from docrag.types import Hit, Progress

TEMPLATES = Path(__file__).parent / "templates"
OFFLINE_KINDS = ("cloze", "table", "heading")
COPY_SUPPORT = 0.8  # a question with this share of its bigrams in one sentence of the chunk copies that sentence
MIN_QUERY_TOKENS = 6  # a cloze sentence shorter than this says too little to find its chunk by
MAX_QUERY_TOKENS = 64
MIN_POSITIVE_TOKENS = 8  # what is left of a chunk after the cloze sentence is cut out
CELLS_PER_TABLE_CHUNK = 2
KEY_TERMS = 3
_QUESTION = re.compile(r"^\s*(?:Q|问|问题)\s*[:：]\s*(.+?)\s*$", re.IGNORECASE)
_ANSWER = re.compile(r"^\s*(?:A|答|答案)\s*[:：]\s*(.+?)\s*$", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


@dataclass
class Pair:
    """A query and the text it should find: ``chunk_id`` (in the index the pair was drawn from), its document and
    first page; ``kind`` says how it was made (cloze, table, heading, llm); ``answer`` and ``prompt`` (the template
    that asked for it) only for LLM pairs."""

    query: str
    positive: str
    chunk_id: int
    doc: str
    page: int | None
    kind: str
    split: str = "train"
    answer: str = ""
    prompt: str = ""


@dataclass
class SynthesisReport:
    """What became of the candidates: made per kind, dropped per filter, kept per kind and per split."""

    chunks: int = 0
    candidates: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    kept: Counter[str] = field(default_factory=Counter)
    splits: Counter[str] = field(default_factory=Counter)
    documents: Counter[str] = field(default_factory=Counter)  # per split
    seconds: float = 0.0

    def to_dict(self) -> dict:
        # not asdict: it rebuilds a Counter from its items, counting them
        return {f.name: dict(v) if isinstance(v := getattr(self, f.name), Counter) else v for f in fields(self)}


@dataclass(frozen=True)
class QuestionTemplate(VersionedTemplate):
    user: str  # {source} {text} {count}


@lru_cache(maxsize=4)
def load_question_template(language: str) -> QuestionTemplate:
    return read_template(TEMPLATES / f"questions.{language}.toml", QuestionTemplate)


def read_pairs(path: Path) -> list[Pair]:
    """The pairs of a JSONL file ``docrag adapt qa`` wrote; a line that is not a pair is an error naming it."""
    names = {f.name for f in fields(Pair)}
    pairs = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DocragError(f"{path}: no such pairs file (make one with `docrag adapt qa`)") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            pair = Pair(**{k: v for k, v in record.items() if k in names})
            if not isinstance(pair.chunk_id, int):  # the index's id; a trainer looks the chunk up by it
                raise TypeError(f"chunk_id {pair.chunk_id!r} is not an index chunk id")
            pairs.append(pair)
        except (ValueError, TypeError) as e:
            raise DocragError(f"{path}:{n}: not a question-answer pair ({e})") from None
    return pairs


def write_pairs(path: Path, pairs: Sequence[Pair]) -> None:
    write_text_atomic(Path(path), "".join(json.dumps(asdict(p), ensure_ascii=False) + "\n" for p in pairs))


def document_splits(docs: Sequence[str], dev_share: float) -> dict[str, str]:
    """Each document's split: ``dev_share`` of the documents (at least one when there are two or more), picked by a
    hash of the path so the split does not change as pairs are added or the index is rebuilt."""
    ordered = sorted(set(docs), key=lambda d: hashlib.sha256(d.encode()).hexdigest())
    n_dev = min(len(ordered) - 1, max(1, round(len(ordered) * dev_share))) if dev_share > 0 else 0
    return {d: "dev" if i < n_dev else "train" for i, d in enumerate(ordered)}


def copies_a_sentence(question: str, text: str) -> bool:
    """Whether the question is (nearly) a sentence of the text: most of its bigrams are in one sentence."""
    return any(support(question, text[s:e]) >= COPY_SUPPORT for s, e in sentence_spans(text))


class PairSynthesizer:
    """``synthesize(store, analyzer)`` -> (pairs, report). ``llm``: ask it for ``per_chunk`` pairs per chunk;
    None: offline pseudo-queries of ``kinds``. ``max_pairs``: a seeded sample of the survivors, at most this many."""

    def __init__(self, llm: LLM | None = None, *, kinds: Sequence[str] = OFFLINE_KINDS, per_chunk: int = 2,
                 dev_share: float = 0.2, max_pairs: int | None = None, seed: int = 0,
                 decoding: Decoding = Decoding()):
        unknown = set(kinds) - set(OFFLINE_KINDS)
        if unknown:
            raise DocragError(f"unknown pair kinds {sorted(unknown)}: use {', '.join(OFFLINE_KINDS)}")
        self.llm, self.kinds, self.per_chunk = llm, tuple(kinds), per_chunk
        self.dev_share, self.max_pairs, self.seed, self.decoding = dev_share, max_pairs, seed, decoding

    def synthesize(self, store: Storage, analyzer: Analyzer,
                   progress: Progress | None = None) -> tuple[list[Pair], SynthesisReport]:
        started = time.perf_counter()
        report = SynthesisReport()
        ids, _ = store.chunk_texts()
        chunks = store.hits([(int(i), 0.0) for i in ids])
        report.chunks = len(chunks)
        rng = random.Random(self.seed)
        terms = _KeyTerms(analyzer, [h.text for h in chunks]) if "heading" in self.kinds and not self.llm else None
        pairs: list[Pair] = []
        seen: set[str] = set()
        for n, hit in enumerate(chunks, 1):
            made = self._from_llm(hit, report) if self.llm else self._offline(hit, rng, terms, report)
            for pair in made:
                key = _SPACES.sub(" ", pair.query.strip().lower())
                if key in seen:
                    report.dropped["duplicate"] += 1
                    continue
                seen.add(key)
                pairs.append(pair)
            if progress:
                progress("pairs", n, len(chunks))
        if self.max_pairs is not None and len(pairs) > self.max_pairs:
            report.dropped["max_pairs"] += len(pairs) - self.max_pairs
            keep = sorted(rng.sample(range(len(pairs)), self.max_pairs))
            pairs = [pairs[i] for i in keep]
        splits = document_splits([p.doc for p in pairs], self.dev_share)
        for pair in pairs:
            pair.split = splits[pair.doc]
            report.kept[pair.kind] += 1
            report.splits[pair.split] += 1
        report.documents = Counter(splits.values())
        report.seconds = time.perf_counter() - started
        return pairs, report

    # --- offline pseudo-queries -------------------------------------------------------------------
    def _offline(self, hit: Hit, rng: random.Random, terms: _KeyTerms | None, report: SynthesisReport) -> list[Pair]:
        made: list[Pair] = []

        def pair(query: str, positive: str, kind: str) -> None:
            report.candidates[kind] += 1
            made.append(Pair(query, positive, hit.chunk_id, hit.doc_path, hit.page, kind))

        if hit.kind == "table":
            if "table" in self.kinds:
                cells = table_cells(hit.text)
                for label, header in rng.sample(cells, min(CELLS_PER_TABLE_CHUNK, len(cells))):
                    pair(f"{label} {header}", hit.text, "table")
            return made
        if hit.kind != "text":  # figures: OCR text and descriptions, rarely a reader's words
            return made
        if "cloze" in self.kinds:
            spans = [(s, e) for s, e in sentence_spans(hit.text)
                     if MIN_QUERY_TOKENS <= len(rouge_tokens(hit.text[s:e])) <= MAX_QUERY_TOKENS]
            s, e = rng.choice(spans) if spans else (0, 0)
            rest = (hit.text[:s].rstrip() + " " + hit.text[e:].lstrip()).strip()
            if spans and len(rouge_tokens(rest)) >= MIN_POSITIVE_TOKENS:
                pair(hit.text[s:e], rest, "cloze")
            else:  # no sentence of a searchable length, or nothing left beside it
                report.dropped["cloze: too short"] += 1
        if terms is not None and hit.section:
            heading = hit.section[-1]
            key = terms.top(hit.text, KEY_TERMS, exclude=heading)
            if key:
                pair(f"{heading} {' '.join(key)}", hit.text, "heading")
        return made

    # --- from an LLM -------------------------------------------------------------------------------
    def _from_llm(self, hit: Hit, report: SynthesisReport) -> list[Pair]:
        assert self.llm is not None
        text = passage_text(hit)
        template = load_question_template(detect_language(text))
        messages: list[Message] = [
            {"role": "system", "content": template.system},
            {"role": "user", "content": template.user.format(source=Path(hit.doc_path).name, text=text,
                                                             count=self.per_chunk)}]
        found = parse_pairs(self.llm.generate(messages, self.decoding).text)[:self.per_chunk]
        if not found:
            report.dropped["unparsed"] += 1
        kept = []
        for question, answer in found:
            report.candidates["llm"] += 1
            if support(answer, hit.text) < LEXICAL_SUPPORT:
                report.dropped["unsupported"] += 1
            elif copies_a_sentence(question, hit.text):
                report.dropped["copied"] += 1
            else:
                kept.append(Pair(question, hit.text, hit.chunk_id, hit.doc_path, hit.page, "llm", answer=answer,
                                 prompt=template.signature))
        return kept


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """(question, answer) pairs from "Q: ... / A: ..." (or 问：/答：) lines; a question without an answer is skipped."""
    pairs, question = [], None
    for line in text.splitlines():
        if m := _QUESTION.match(line):
            question = m.group(1)
        elif (m := _ANSWER.match(line)) and question:
            pairs.append((question, m.group(1)))
            question = None
    return pairs


def table_cells(text: str) -> list[tuple[str, str]]:
    """(row label, column header) of each filled cell in a table chunk's row sentences ("Revenue | 2023: 5.1 |
    2022: 4.8"); rows without a label give none."""
    cells = []
    for line in text.splitlines():
        parts = line.split(" | ")
        if len(parts) < 2 or ": " in parts[0]:
            continue
        label = parts[0].strip()
        for part in parts[1:]:
            header, sep, value = part.partition(": ")
            if sep and header.strip() and value.strip() and label:
                cells.append((label, header.strip()))
    return cells


class _KeyTerms:
    """A chunk's key terms by tf-idf over the index's chunks, as the words the text has them in (not stemmed)."""

    def __init__(self, analyzer: Analyzer, texts: Sequence[str]):
        self.analyzer = analyzer
        df: Counter[str] = Counter()
        for text in texts:
            df.update(set(analyzer.tokenize(text)))
        self.idf: Callable[[str], float] = lambda t: math.log((len(texts) + 1) / (df.get(t, 0) + 1))

    def top(self, text: str, n: int, exclude: str = "") -> list[str]:
        excluded = set(self.analyzer.tokenize(exclude))
        surface: dict[str, str] = {}
        tf: Counter[str] = Counter()
        for s, e in word_spans(text):
            word = text[s:e]
            for term in self.analyzer.tokenize(word):
                if term in excluded or term.replace(".", "").replace(",", "").isdigit():
                    continue
                surface.setdefault(term, word)
                tf[term] += 1
        ranked = sorted(tf, key=lambda t: -tf[t] * self.idf(t))
        return [surface[t] for t in ranked[:n]]
