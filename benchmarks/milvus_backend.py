"""The Milvus backend against SQLite, same run: BM25 scored by Milvus (its BM25 function over docrag's analysed
terms) against docrag's own (bm25s over the SQLite store), top-10 overlap on the CMRC2018 trial questions; then
ingest time and query p50 (bm25s over each store, and Milvus's own BM25) on a corpus (default: the CMRC
paragraphs; ``--news``: the 4M-character news set too).

    python benchmarks/milvus_backend.py [--news] [--queries 500]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from common import cmrc, cmrc_files, news_files, save, table


def ingest(root: Path, backend: str, corpus: Path):
    import docrag

    idx = docrag.Index.open(root / backend, create=True, config=docrag.Config(), index__backend=backend, dense=False)
    t0 = time.perf_counter()
    report = idx.add([corpus])
    seconds = time.perf_counter() - t0
    assert not report.failed, report.failed[:3]
    return idx, seconds


def p50(fn, queries: list[str]) -> float:
    fn(queries[0])
    samples = []
    for q in queries:
        t0 = time.perf_counter()
        fn(q)
        samples.append(time.perf_counter() - t0)
    return float(np.percentile(np.array(samples) * 1000, 50))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--news", action="store_true", help="also the 4M-character news set (slow)")
    ap.add_argument("--queries", type=int, default=0, help="questions to use (0: all)")
    args = ap.parse_args()
    questions = [q["question"] for a in cmrc()["data"] for p in a["paragraphs"] for q in p["qas"]
                 if q["question"].strip()]
    if args.queries:
        questions = questions[: args.queries]
    corpora = [("cmrc", cmrc_files())] + ([("news", news_files())] if args.news else [])
    out: dict = {"questions": len(questions)}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, corpus in corpora:
            root = Path(tmp) / name
            sq, sq_s = ingest(root, "sqlite", corpus)
            mv, mv_s = ingest(root, "milvus", corpus)
            analyzer = sq.resources.analyzer
            overlap, exact = [], 0
            for q in questions:
                ours = [i for i, _ in sq.searcher.retriever("bm25").search(q, 10)]
                theirs = [i for i, _ in mv.store.bm25_search(analyzer.tokenize(q), 10)]  # type: ignore[attr-defined]
                if ours:
                    overlap.append(len(set(ours) & set(theirs)) / len(ours))
                    exact += ours == theirs
            timing = {
                "sqlite bm25 (bm25s)": p50(lambda q: sq.search(q, k=10, mode="bm25"), questions[:200]),
                "milvus bm25 (bm25s over the store)": p50(lambda q: mv.search(q, k=10, mode="bm25"), questions[:200]),
                "milvus bm25 (Milvus scores)": p50(
                    lambda q: mv.store.bm25_search(analyzer.tokenize(q), 10), questions[:200]),  # type: ignore
            }
            chunks = sq.store.counts()["chunks"]
            out[name] = {"chunks": chunks, "ingest_s": {"sqlite": sq_s, "milvus": mv_s},
                         "top10_overlap": float(np.mean(overlap)), "same_order": exact / len(overlap),
                         "query_p50_ms": timing}
            rows.append([name, chunks, f"{sq_s:.1f}", f"{mv_s:.1f} ({mv_s / sq_s:.2f}x)", f"{np.mean(overlap):.4f}",
                         f"{exact / len(overlap):.3f}"] + [f"{v:.1f}" for v in timing.values()])
            sq.close()
            mv.close()
            shutil.rmtree(root, ignore_errors=True)
    print(table(rows, ["corpus", "chunks", "ingest sqlite s", "ingest milvus lite s", "BM25 top-10 overlap",
                       "same top-10 order", "p50 ms sqlite bm25", "p50 ms milvus+bm25s", "p50 ms milvus BM25"]))
    print(save("milvus_backend", out))


if __name__ == "__main__":
    main()
