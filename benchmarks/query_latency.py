"""Query latency p50/p95 for bm25, dense and hybrid search on the evaluation index (4.17M-char news
corpus + CMRC2018 paragraphs; build it first with build_eval_index.py), in-process, warm.

The baseline in the same run is bm25s's own retrieve() on the same index, same queries.

    python benchmarks/query_latency.py [--queries 200]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from common import WORK, cmrc, need, save, table


def percentiles(samples: list[float]) -> tuple[float, float]:
    ms = np.array(samples) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def main() -> None:
    import docrag

    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    questions = [q["question"] for a in cmrc()["data"] for p in a["paragraphs"] for q in p["qas"]
                 if q["question"].strip()][: args.queries]
    idx = docrag.Index.open(need(WORK / "index-news-cmrc"))
    info = idx.info()
    for mode in ("bm25", "dense", "hybrid"):  # warm-up: load indexes and the model
        idx.search(questions[0], k=10, mode=mode)

    bm25 = idx.resources.bm25()
    tokens = [idx.resources.analyzer.tokenize(q) for q in questions]
    bare = []
    for t in tokens:
        known = [x for x in t if x in bm25.vocab] or [next(iter(bm25.vocab))]
        t0 = time.perf_counter()
        bm25.retriever.retrieve([known], k=10, show_progress=False)
        bare.append(time.perf_counter() - t0)

    results = {"bm25s retrieve (tokens given)": percentiles(bare)}
    for mode in ("bm25", "dense", "hybrid"):
        samples = []
        for q in questions:
            t0 = time.perf_counter()
            idx.search(q, k=10, mode=mode)
            samples.append(time.perf_counter() - t0)
        results[f"docrag search --mode {mode}"] = percentiles(samples)
    embed = []
    for q in questions[:50]:
        t0 = time.perf_counter()
        idx.resources.embedder().embed_query(q)
        embed.append(time.perf_counter() - t0)
    results["of which: embed the query"] = percentiles(embed)

    base = results["bm25s retrieve (tokens given)"][0]
    rows = [[name, f"{p50:.1f}", f"{p95:.1f}", f"{p50 / base:.1f}"] for name, (p50, p95) in results.items()]
    print(f"\n{info['chunks']:,} chunks, {info['embedded']:,} with vectors, {len(questions)} queries, k=10\n")
    print(table(rows, ["search", "p50 ms", "p95 ms", "p50 x bm25s"]))
    save("query_latency", {"chunks": info["chunks"], "embedded": info["embedded"], "queries": len(questions),
                           "ms": {k: {"p50": a, "p95": b} for k, (a, b) in results.items()}})


if __name__ == "__main__":
    main()
