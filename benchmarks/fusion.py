"""Fusion of BM25 and dense lists, compared offline on every dev set with dense vectors (issue #14, item 1).

Each question is searched once per retriever (the BM25 and dense retrievers of the default configuration,
glossaries included, top 100 each: the lists the hybrid retriever fuses); the fusion rules are then applied to the same
two lists, so they differ only in the rule. ``hybrid`` is the engine's own hybrid search (RRF 1:1, with routing
and collapse on top).

    python benchmarks/fusion.py [--sets cmrc,rgb-zh,rgb-en,prospectus,financebench-subset]
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable

import numpy as np
from common import SHARED, WORK, eval_index, save, table

import docrag
from docrag.evaluate import metrics
from docrag.evaluate.runner import gold_keys, hit_keys
from docrag.retrieve.fusion import Ranked, reciprocal_rank_fusion, weighted_fusion

SETS = {
    "cmrc": f"squad:{SHARED}/cmrc2018_trial/cmrc2018_trial.json",
    "rgb-zh": f"rgb:{SHARED}/rgb/zh_fact.json",
    "rgb-en": f"rgb:{SHARED}/rgb/en_fact.json",
    "prospectus": f"prospectus:{SHARED}/prospectus_qa_zh/dev.yaml",
    # the 13-PDF subset of benchmarks/eval_baselines.sh, as `docrag adapt`'s benchmark links it
    "financebench-subset": f"financebench:{WORK}/adapt/fb-subset",
    "financebench": f"financebench:{SHARED}/financebench",  # all 52 PDFs, 107 questions (slow to index the first time)
}
DEPTH = 100


def peak(ranked: Ranked) -> float:
    """How far a list's best score stands above the rest of its top 10, in their standard deviations: a list whose
    first hit stands out is surer of it (scale-free, so BM25 scores and cosines compare)."""
    scores = np.array([s for _, s in ranked[:10]])
    if len(scores) < 3:
        return 0.0
    rest = scores[1:]
    return float(max(scores[0] - rest.mean(), 0.0) / (rest.std() + 1e-9))


def by_peak(lists: list[Ranked]) -> Ranked:
    peaks = [peak(r) for r in lists]
    total = sum(peaks)
    weights = [2 * p / total for p in peaks] if total > 0 else [1.0, 1.0]
    return reciprocal_rank_fusion(lists, 60, weights)


RULES: dict[str, Callable[[list[Ranked]], Ranked]] = {
    "bm25": lambda lists: lists[0],
    "dense": lambda lists: lists[1],
    "rrf 1:1 (default)": lambda lists: reciprocal_rank_fusion(lists, 60, [1.0, 1.0]),
    "rrf 1:2": lambda lists: reciprocal_rank_fusion(lists, 60, [1.0, 2.0]),
    "rrf 2:1": lambda lists: reciprocal_rank_fusion(lists, 60, [2.0, 1.0]),
    "rrf k=10": lambda lists: reciprocal_rank_fusion(lists, 10, [1.0, 1.0]),
    "weighted min-max 1:1": lambda lists: weighted_fusion(lists, [0.5, 0.5]),
    "rrf by peak": by_peak,
}


def run_set(name: str) -> dict:
    dataset, path, _ = eval_index(SETS[name])
    scores: dict[str, dict[str, list[float]]] = {r: {"hit1": [], "hit5": [], "mrr": []} for r in [*RULES, "hybrid"]}
    with docrag.Index.open(path, readonly=True) as idx:
        for q in dataset.questions:
            gold = gold_keys(dataset, q)
            # the retrievers' own lists, as the hybrid retriever fuses them (before routing and collapse)
            lists = [idx.searcher.retriever(mode).search(q.question, DEPTH) for mode in ("bm25", "dense")]
            ranked = {rule: idx.store.hits(fuse(lists)[:10]) for rule, fuse in RULES.items()}
            ranked["hybrid"] = idx.search(q.question, k=10, mode="hybrid")
            for rule, hits in ranked.items():
                keys = hit_keys(dataset, hits)
                scores[rule]["hit1"].append(metrics.hit_at_k(keys, gold, 1))
                scores[rule]["hit5"].append(metrics.hit_at_k(keys, gold, 5))
                scores[rule]["mrr"].append(metrics.reciprocal_rank(keys, gold, 10))
    return {"questions": len(dataset.questions), "index": str(path),
            "rules": {r: {m: round(statistics.fmean(v), 4) for m, v in s.items()} for r, s in scores.items()}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default=",".join(SETS))
    args = ap.parse_args()
    results = {name: run_set(name) for name in args.sets.split(",")}
    rows = [[rule, *(f"{r['rules'][rule]['hit1']:.3f} / {r['rules'][rule]['hit5']:.3f}" for r in results.values())]
            for rule in [*RULES, "hybrid"]]
    print(table(rows, ["rule", *(f"{n} ({r['questions']} q) hit@1 / @5" for n, r in results.items())]))
    save("fusion", {"depth": DEPTH, "sets": results})


if __name__ == "__main__":
    main()
