"""BM25-side scale from 4M to 16M characters on SQLite and Milvus Lite (issue #15).

Corpora: news (news_4m.txt, 5,788 articles, 4.2M characters) and news16 (news_4m + news_more_12m, 23,152
articles, 16.1M characters), one file per article (benchmarks/common.py). Each is ingested with dense vectors off
into a fresh index on each backend by ``docrag ingest`` in a child process (wall seconds, peak RSS), the index
folder's size measured, then ``Index.search(mode="bm25")`` timed warm over the first CMRC2018 trial questions
(each asked twice, the second timed; benchmarks/milvus_search.py's ``percentiles``). Growth = 16M / 4M.

    python benchmarks/milvus_16m.py [--backends sqlite,milvus] [--corpora news,news16] [--timed 200]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from common import DOCRAG, news16_files, news_files, run_child, save, table
from milvus_search import disk_mb, open_index, percentiles, questions


def measure(corpus: Path, backend: str, work: Path, qs: list[str]) -> dict:
    ix = work / f"{corpus.name}-{backend}"
    shutil.rmtree(ix, ignore_errors=True)
    run = run_child(DOCRAG + ["ingest", str(corpus), "--index", str(ix), "-q", "--set", "index.dense=false",
                              "--set", f"index.backend={backend}"])
    idx = open_index(ix, backend, create=False)
    chunks = idx.store.counts()["chunks"]
    p50, p95 = percentiles(lambda q: idx.search(q, k=10, mode="bm25"), qs)
    idx.close()
    return {"chunks": chunks, "ingest_s": run["seconds"], "ingest_peak_rss_mib": run["peak_rss_mib"],
            "disk_mb": disk_mb(ix), "bm25_search_p50_ms": p50, "bm25_search_p95_ms": p95}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backends", default="sqlite,milvus")
    ap.add_argument("--corpora", default="news,news16")
    ap.add_argument("--timed", type=int, default=200, help="CMRC trial questions timed")
    args = ap.parse_args()
    corpora = {"news": news_files, "news16": news16_files}
    qs = questions(args.timed)
    out: dict = {"timed": len(qs), "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.corpora.split(","):
            folder = corpora[name]()
            for backend in args.backends.split(","):
                out["runs"][f"{name}/{backend}"] = measure(folder, backend, Path(tmp), qs)
                print(name, backend, out["runs"][f"{name}/{backend}"], flush=True)
                save("milvus_16m", out)  # each run as it ends: a long run that is stopped keeps what it measured
    runs = out["runs"]
    keys = ["ingest_s", "ingest_peak_rss_mib", "disk_mb", "bm25_search_p50_ms", "bm25_search_p95_ms"]
    out["growth_16m_over_4m"] = {b: {k: runs[f"news16/{b}"][k] / runs[f"news/{b}"][k] for k in keys}
                                 for b in args.backends.split(",") if f"news/{b}" in runs and f"news16/{b}" in runs}
    rows = [[key, r["chunks"], f"{r['ingest_s']:.1f}", f"{r['ingest_peak_rss_mib']:.0f}", f"{r['disk_mb']:.1f}",
             f"{r['bm25_search_p50_ms']:.1f}", f"{r['bm25_search_p95_ms']:.1f}"] for key, r in runs.items()]
    print(table(rows, ["corpus/backend", "chunks", "ingest s", "peak RSS MiB", "disk MB", "bm25 p50 ms",
                       "bm25 p95 ms"]))
    print(save("milvus_16m", out))


if __name__ == "__main__":
    main()
