"""Dense ingest as a pipeline (vectors computed while parsing goes on) against the two phases it replaced (parse and
BM25 first, then embed), in one run.

A few real PDFs (parsing is the heavy side for PDFs: layout, tables, OCR of figures) are ingested into a fresh
index with dense vectors, alternating the two ways, best of ``--repeats``; the parse-only and embed-only times
show the bound a pipeline approaches (the longer of the two) against their sum.

    python benchmarks/ingest_pipeline.py [--repeats 2]
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from common import SHARED, WORK, need, save, table

import docrag
from docrag.config import Config

FILES = [SHARED / "financebench" / "pdfs" / name for name in ("AMCOR_2023Q4_EARNINGS.pdf", "3M_2018_10K.pdf")] + \
        [SHARED / "prospectus_qa_zh" / "distractor_pdfs" / "湖南南岭民用爆破器材股份有限公司.PDF"]


def ingest(files: list[Path], out: Path, pipeline: bool) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    idx = docrag.Index.open(out, create=True, config=Config())  # the defaults, whatever ./docrag.toml says
    try:
        start = time.perf_counter()
        if pipeline:
            report = idx.add(files, workers=1)
            parsed = embedded = None
        else:
            report = idx.add(files, dense=False, workers=1)
            parsed = time.perf_counter() - start
            t = time.perf_counter()
            idx.embed_pending()
            embedded = time.perf_counter() - t
        seconds = time.perf_counter() - start
        assert not report.failed, report.failed
        info = idx.info()
        assert info["embedded"] == info["chunks"]
        return {"seconds": seconds, "parse_bm25": parsed, "embed": embedded, "chunks": info["chunks"],
                "chars": info["chars"]}
    finally:
        idx.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    files = [need(f) for f in FILES]
    best: dict[str, dict] = {}
    for _ in range(args.repeats):
        for name, pipeline in (("two phases (parse + BM25, then embed)", False), ("pipeline", True)):
            run = ingest(files, WORK / "pipeline-bench", pipeline)
            if name not in best or run["seconds"] < best[name]["seconds"]:
                best[name] = run
            print(f"{name}: {run['seconds']:.1f} s", flush=True)
    phases, piped = best["two phases (parse + BM25, then embed)"], best["pipeline"]
    bound = max(phases["parse_bm25"], phases["embed"])
    rows = [["two phases", f"{phases['seconds']:.1f}", f"{phases['parse_bm25']:.1f}", f"{phases['embed']:.1f}", "1.00"],
            ["pipeline", f"{piped['seconds']:.1f}", "", "", f"{piped['seconds'] / phases['seconds']:.2f}"],
            ["bound: the longer phase", f"{bound:.1f}", "", "", f"{bound / phases['seconds']:.2f}"]]
    print(f"{len(files)} PDFs, {phases['chunks']} chunks, {phases['chars']:,} chars; best of {args.repeats}")
    print(table(rows, ["", "wall s", "parse + BM25 s", "embed s", "x two phases"]))
    data = {"files": [f.name for f in files], "repeats": args.repeats, "two_phases": phases, "pipeline": piped,
            "ratio": piped["seconds"] / phases["seconds"], "bound_ratio": bound / phases["seconds"]}
    print(f"wrote {save('ingest_pipeline', data)}")


if __name__ == "__main__":
    main()
