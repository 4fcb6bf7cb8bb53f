"""What chunk boxes (``Chunk.extra["boxes"]``, per-line places of PDF blocks) cost at ingest, in one run.

`Index.add` of a few real PDFs on a fresh index (no dense vectors, one process), with boxes and without them
(the per-line places and the chunk boxes switched off), alternating, best of ``--repeats``; also the size of
the chunks' stored extra data.

    python benchmarks/chunk_boxes.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import time
from pathlib import Path

from common import SHARED, WORK, need, save, table

import docrag
from docrag.chunk import base
from docrag.config import Config
from docrag.parse import pdf
from docrag.resources import DB_NAME

FILES = [SHARED / "financebench" / "pdfs" / name for name in
         ("AMCOR_2023Q4_EARNINGS.pdf", "3M_2018_10K.pdf", "ADOBE_2022_10K.pdf")] + \
        [SHARED / "prospectus_qa_zh" / "distractor_pdfs" / "湖南南岭民用爆破器材股份有限公司.PDF"]


def ingest(files: list[Path], out: Path) -> tuple[float, int, int]:
    """Seconds of one `Index.add`, the number of chunks with boxes, and the bytes of all chunks' extra data."""
    shutil.rmtree(out, ignore_errors=True)
    idx = docrag.Index.open(out, create=True, config=Config())  # the defaults, whatever ./docrag.toml says
    try:
        start = time.perf_counter()
        report = idx.add(files, dense=False, workers=1)
        seconds = time.perf_counter() - start
        assert not report.failed, report.failed
    finally:
        idx.close()
    db = sqlite3.connect(out / DB_NAME)
    boxed, size = db.execute("SELECT SUM(extra LIKE '%\"boxes\"%'), SUM(LENGTH(extra)) FROM chunks").fetchone()
    db.close()
    return seconds, boxed or 0, size or 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    files = [need(f) for f in FILES]
    on = (base.DocText.boxes, pdf._line_places)
    off = (lambda *a: [], lambda *a: [])
    best: dict[str, tuple[float, int, int]] = {}
    for _ in range(args.repeats):
        for name, (boxes, places) in (("without boxes", off), ("with boxes", on)):
            base.DocText.boxes, pdf._line_places = boxes, places  # type: ignore[method-assign]
            run = ingest(files, WORK / "boxes-bench")
            if name not in best or run[0] < best[name][0]:
                best[name] = run
    base.DocText.boxes, pdf._line_places = on  # type: ignore[method-assign]
    ratio = best["with boxes"][0] / best["without boxes"][0]
    rows = [[name, f"{s:.2f}", str(n), f"{size / 1e6:.2f}"] for name, (s, n, size) in best.items()]
    print(table(rows, ["", "best s", "chunks with boxes", "extra MB"]))
    print(f"\ncost ratio (with / without): {ratio:.3f}")
    data = {"files": [f.name for f in files], "seconds": {k: v[0] for k, v in best.items()},
            "extra_bytes": {k: v[2] for k, v in best.items()}, "ratio": ratio}
    print(f"wrote {save('chunk_boxes', data)}")


if __name__ == "__main__":
    main()
