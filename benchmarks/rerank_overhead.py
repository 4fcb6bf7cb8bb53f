"""Per-query cost of cross-encoder reranking at k=20 and k=50 candidates, next to BM25 search alone.

Corpus: the first 100 CMRC2018 trial paragraphs (about 200 chunks), queries: a question about each of the
first 30 (falls back to examples/sample and examples/questions.jsonl without ../shared/data). The
candidates are the BM25 hits topped up to k with other chunks of the corpus, as the dense half of a hybrid
search would (on 200 chunks BM25 alone matches only ~10). The reranker has random weights (no downloads)
but the shape of cross-encoder/ms-marco-MiniLM-L6-v2: a 6-layer BERT, hidden 384, 12 heads, FFN 1536, max
512 tokens, so its time is that of a real small reranker. Search and rerank are timed on the same
queries in the same run; the reranker's CPU time is reported too, as the figure a busy machine does not
inflate.

    python benchmarks/rerank_overhead.py [--queries 30]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import ROOT, SHARED, cmrc, save, table

PARAGRAPHS = 100
CANDIDATES = (20, 50)
MINILM_L6 = {"hidden_size": 384, "num_layers": 6, "num_heads": 12, "intermediate_size": 1536}


def corpus(docs: Path, n_queries: int) -> tuple[str, list[str]]:
    """Write the documents into ``docs``; return where they came from and the queries."""
    if (SHARED / "cmrc2018_trial").exists():
        paragraphs = [p for a in cmrc()["data"] for p in a["paragraphs"]][:PARAGRAPHS]
        for p in paragraphs:
            (docs / f"{p['id']}.txt").write_text(p["context"].strip() + "\n", encoding="utf-8")
        return "cmrc2018_trial", [p["qas"][0]["question"] for p in paragraphs[:n_queries]]
    for f in (ROOT / "examples" / "sample").iterdir():
        (docs / f.name).write_bytes(f.read_bytes())
    lines = (ROOT / "examples" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    return "examples/sample", [json.loads(line)["question"] for line in lines][:n_queries]


def ms(samples) -> dict[str, float]:
    x = np.array(samples) * 1000
    return {"p50": float(np.percentile(x, 50)), "p95": float(np.percentile(x, 95))}


def candidates(idx, query: str, k: int, rng: np.random.Generator) -> tuple[float, list]:
    """Seconds of the BM25 search, and its hits topped up to k with random other chunks."""
    t0 = time.perf_counter()
    hits = idx.search(query, k=k, mode="bm25")
    seconds = time.perf_counter() - t0
    seen = {h.chunk_id for h in hits}
    others = [int(i) for i in rng.permutation(idx.store.chunk_texts()[0]) if int(i) not in seen]
    return seconds, hits + idx.store.hits([(i, 0.0) for i in others[: k - len(hits)]])


def main() -> None:
    import torch

    import docrag
    from docrag.models.cross_encoder import CrossEncoderReranker
    from docrag.retrieve.rerank import rerank

    sys.path.insert(0, str(ROOT / "tests"))  # the tiny random-weight model builders live with the tests
    from tiny_encoders import build_tiny_cross_encoder, tiny_tokenizer

    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=int, default=30)
    args = ap.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        docs.mkdir()
        source, queries = corpus(docs, args.queries)
        idx = docrag.Index.open(Path(tmp) / "index", create=True, dense=False)
        idx.add([docs])
        chunks = idx.info()["chunks"]
        reranker = CrossEncoderReranker(str(build_tiny_cross_encoder(Path(tmp) / "minilm-l6-shape", **MINILM_L6)))
        tokenizer = tiny_tokenizer()
        rng = np.random.default_rng(0)
        rerank(reranker, queries[0], candidates(idx, queries[0], CANDIDATES[0], rng)[1], k=5)  # warm-up

        # both k for each query in turn, so the two see the same load from other processes
        samples = {k: {"search": [], "rerank": [], "rerank_cpu": [], "bm25_hits": [], "candidates": [], "tokens": []}
                   for k in CANDIDATES}
        for q in queries:
            for k in CANDIDATES:
                seconds, hits = candidates(idx, q, k, rng)
                t0, cpu0 = time.perf_counter(), time.process_time()
                rerank(reranker, q, hits, k=5)  # rerank()'s default batch size (16) and no time budget
                got = samples[k]
                got["rerank"].append(time.perf_counter() - t0)
                got["rerank_cpu"].append(time.process_time() - cpu0)
                got["search"].append(seconds)
                got["bm25_hits"].append(sum(1 for h in hits if h.score > 0))
                got["candidates"].append(len(hits))
                got["tokens"] += [len(ids) for ids in tokenizer([q] * len(hits), [h.text for h in hits],
                                                               truncation=True, max_length=512)["input_ids"]]
        results, rows = {}, []
        for k, got in samples.items():
            search, both = ms(got["search"]), ms(np.add(got["search"], got["rerank"]))
            r = {"search_ms": search, "search_rerank_ms": both, "overhead_ms": ms(got["rerank"]),
                 "overhead_cpu_ms": ms(got["rerank_cpu"]),
                 "ratio_p50": both["p50"] / search["p50"], "mean_bm25_hits": float(np.mean(got["bm25_hits"])),
                 "mean_candidates": float(np.mean(got["candidates"])),
                 "mean_pair_tokens": float(np.mean(got["tokens"]))}
            r["overhead_ms_per_candidate_p50"] = r["overhead_ms"]["p50"] / r["mean_candidates"]
            results[f"k={k}"] = r
            rows.append([k, f"{r['mean_candidates']:.0f}", f"{r['mean_bm25_hits']:.0f}", f"{r['mean_pair_tokens']:.0f}",
                         f"{search['p50']:.1f} / {search['p95']:.1f}", f"{both['p50']:.0f} / {both['p95']:.0f}",
                         f"{r['overhead_ms']['p50']:.0f} / {r['overhead_ms']['p95']:.0f}",
                         f"{r['overhead_ms_per_candidate_p50']:.1f}", f"{r['ratio_p50']:.0f}x",
                         f"{r['overhead_cpu_ms']['p50']:.0f}"])
        idx.close()
    load_after = os.getloadavg()[0]

    print(f"\n{source}: {chunks} chunks, {len(queries)} queries; reranker: random-weight BERT "
          f"{MINILM_L6['num_layers']}x{MINILM_L6['hidden_size']} (MiniLM-L6 shape), max 512 tokens, "
          f"CPU, {torch.get_num_threads()} torch threads, load average {load_before:.1f} -> {load_after:.1f}\n")
    print(table(rows, ["k", "candidates", "of which bm25", "tokens/pair", "bm25 search ms p50 / p95",
                       "search+rerank ms p50 / p95", "overhead ms p50 / p95", "ms/candidate", "x search",
                       "overhead CPU ms p50"]))
    save("rerank_overhead", {"corpus": source, "chunks": chunks, "queries": len(queries),
                             "reranker": {"shape": MINILM_L6, "max_length": 512, "batch_size": 16,
                                          "weights": "random (tests/tiny_encoders.py)",
                                          "torch_threads": torch.get_num_threads()},
                             # other processes on the machine slow the reranker (it uses every core): its CPU
                             # time (overhead_cpu_ms, all threads) is the figure that load does not inflate
                             "load_average": {"before": load_before, "after": load_after},
                             "results": results})


if __name__ == "__main__":
    main()
