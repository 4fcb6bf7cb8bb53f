"""Fusion of BM25 and dense lists, compared offline on every dev set with dense vectors (issue #14, item 1).

Each question is searched once per retriever (the BM25 and dense retrievers of the default configuration,
glossaries included, top 100 each: the lists the hybrid retriever fuses); the fusion rules are then applied to the same
two lists, so they differ only in the rule. ``hybrid`` is the engine's own hybrid search (RRF 1:1, with routing
and collapse on top), ``hybrid, rrf-peak`` the same with ``retrieve.fusion = "rrf-peak"``. On all 52 FinanceBench
PDFs the questions on the 39 PDFs outside the subset are also scored apart (``financebench held-out``).

    python benchmarks/fusion.py [--sets cmrc,rgb-zh,rgb-en,prospectus,financebench-subset,financebench]
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable
from pathlib import Path

from common import FINANCEBENCH_SUBSET, SHARED, WORK, eval_index, save, table

import docrag
from docrag.evaluate import metrics
from docrag.evaluate.runner import gold_keys, hit_keys
from docrag.retrieve.fusion import Ranked, peak_weighted_rrf, reciprocal_rank_fusion, weighted_fusion

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


RULES: dict[str, Callable[[list[Ranked]], Ranked]] = {
    "bm25": lambda lists: lists[0],
    "dense": lambda lists: lists[1],
    "rrf 1:1 (default)": lambda lists: reciprocal_rank_fusion(lists, 60, [1.0, 1.0]),
    "rrf 1:2": lambda lists: reciprocal_rank_fusion(lists, 60, [1.0, 2.0]),
    "rrf 2:1": lambda lists: reciprocal_rank_fusion(lists, 60, [2.0, 1.0]),
    "rrf k=10": lambda lists: reciprocal_rank_fusion(lists, 10, [1.0, 1.0]),
    "weighted min-max 1:1": lambda lists: weighted_fusion(lists, [0.5, 0.5]),
    "rrf by peak": lambda lists: peak_weighted_rrf(lists, 60, [1.0, 1.0]),
}


ENGINE = {"hybrid": "rrf", "hybrid, rrf-peak": "rrf-peak"}  # the engine's hybrid search, by retrieve.fusion


def run_set(name: str) -> dict[str, dict]:
    """The set's scores, plus (all 52 FinanceBench PDFs) those of the questions on PDFs outside the subset."""
    dataset, path, _ = eval_index(SETS[name])
    rules = [*RULES, *ENGINE]
    scores: dict[str, dict[str, list[float]]] = {r: {"hit1": [], "hit5": [], "mrr": []} for r in rules}
    held_out: list[bool] = []
    with docrag.Index.open(path, readonly=True) as idx, \
            docrag.Index.open(path, readonly=True, retrieve__fusion="rrf-peak") as peak_idx:
        for q in dataset.questions:
            held_out.append(not {Path(g.doc).stem for g in q.gold} & set(FINANCEBENCH_SUBSET))
            gold = gold_keys(dataset, q)
            # the retrievers' own lists, as the hybrid retriever fuses them (before routing and collapse)
            lists = [idx.searcher.retriever(mode).search(q.question, DEPTH) for mode in ("bm25", "dense")]
            ranked = {rule: idx.store.hits(fuse(lists)[:10]) for rule, fuse in RULES.items()}
            ranked["hybrid"] = idx.search(q.question, k=10, mode="hybrid")
            ranked["hybrid, rrf-peak"] = peak_idx.search(q.question, k=10, mode="hybrid")
            for rule, hits in ranked.items():
                keys = hit_keys(dataset, hits)
                scores[rule]["hit1"].append(metrics.hit_at_k(keys, gold, 1))
                scores[rule]["hit5"].append(metrics.hit_at_k(keys, gold, 5))
                scores[rule]["mrr"].append(metrics.reciprocal_rank(keys, gold, 10))
    def summary(keep: list[bool]) -> dict:
        return {"questions": sum(keep), "index": str(path), "rules": {
            r: {m: round(statistics.fmean(x for x, k in zip(v, keep) if k), 4) for m, v in s.items()}
            for r, s in scores.items()}}

    out = {name: summary([True] * len(held_out))}
    if name == "financebench":
        out[f"{name} held-out"] = summary(held_out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default=",".join(SETS))
    args = ap.parse_args()
    results = {part: r for name in args.sets.split(",") for part, r in run_set(name).items()}
    rows = [[rule, *(f"{r['rules'][rule]['hit1']:.3f} / {r['rules'][rule]['hit5']:.3f}" for r in results.values())]
            for rule in [*RULES, *ENGINE]]
    print(table(rows, ["rule", *(f"{n} ({r['questions']} q) hit@1 / @5" for n, r in results.items())]))
    save("fusion", {"depth": DEPTH, "sets": results})


if __name__ == "__main__":
    main()
