"""Fusion of BM25 and dense lists, compared offline on every dev set with dense vectors (issue #14, item 1).

Each question is searched once per retriever (the BM25 and dense retrievers of the default configuration,
glossaries included, top 100 each: the lists the hybrid retriever fuses); the fusion rules are then applied to the same
two lists, so they differ only in the rule. ``hybrid`` is the engine's own hybrid search (RRF 1:1, with routing
and collapse on top), ``hybrid, rrf-peak`` the same with ``retrieve.fusion = "rrf-peak"``, ``hybrid, tables
searched by hybrid`` with ``retrieve.table_search = "mode"`` (the table search before BM25 became its default). On
all 52 FinanceBench PDFs the questions on the 39 PDFs outside the subset are also scored apart
(``financebench held-out``).

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
from docrag.evaluate.runner import gold_keys, hit_keys, query_text
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


# the engine's hybrid search (routing and collapse on top): the default, and one setting changed
ENGINE = {"hybrid": {}, "hybrid, rrf-peak": {"retrieve__fusion": "rrf-peak"},
          "hybrid, tables searched by hybrid": {"retrieve__table_search": "mode"}}
METRICS = ("hit1", "hit5", "recall5", "mrr")


def run_set(name: str) -> dict[str, dict]:
    """The set's scores, plus (all 52 FinanceBench PDFs) those of the questions on PDFs outside the subset."""
    dataset, path, _ = eval_index(SETS[name])
    rules = [*RULES, *ENGINE]
    scores: dict[str, dict[str, list[float]]] = {r: {m: [] for m in METRICS} for r in rules}
    held_out: list[bool] = []
    engines = {row: docrag.Index.open(path, readonly=True, **settings) for row, settings in ENGINE.items()}
    idx = engines["hybrid"]
    try:
        for q in dataset.questions:
            held_out.append(not {Path(g.doc).stem for g in q.gold} & set(FINANCEBENCH_SUBSET))
            gold = gold_keys(dataset, q)
            # the retrievers' own lists, as the hybrid retriever fuses them (before routing and collapse)
            question = query_text(q)  # as docrag eval asks it: a follow-up with the turn before it
            lists = [idx.searcher.retriever(mode).search(question, DEPTH) for mode in ("bm25", "dense")]
            ranked = {rule: idx.store.hits(fuse(lists)[:10]) for rule, fuse in RULES.items()}
            ranked.update({row: engine.search(question, k=10, mode="hybrid") for row, engine in engines.items()})
            for rule, hits in ranked.items():
                keys = hit_keys(dataset, hits)
                scores[rule]["hit1"].append(metrics.hit_at_k(keys, gold, 1))
                scores[rule]["hit5"].append(metrics.hit_at_k(keys, gold, 5))
                scores[rule]["recall5"].append(metrics.recall_at_k(keys, gold, 5))
                scores[rule]["mrr"].append(metrics.reciprocal_rank(keys, gold, 10))
    finally:
        for engine in engines.values():
            engine.close()
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
    rows = [[rule, *(" / ".join(f"{r['rules'][rule][m]:.3f}" for m in METRICS) for r in results.values())]
            for rule in [*RULES, *ENGINE]]
    print(table(rows, ["rule", *(f"{n} ({r['questions']} q) hit@1 / @5 / R@5 / MRR" for n, r in results.items())]))
    save("fusion", {"depth": DEPTH, "sets": results})


if __name__ == "__main__":
    main()
