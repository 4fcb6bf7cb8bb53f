"""`docrag ingest --workers N`: parsing and chunking in worker processes, 1 vs 2 workers, in one run.

  news         crud_news/news_4m.txt as 5,788 article files (text: the BM25 build and commits dominate)
  financebench the 52 FinanceBench PDFs, 5,923 pages (PDF parsing dominates)

Each row: `docrag ingest DIR --no-dense --workers N` on a fresh index, as a child process (start-up and imports
count), best of ``--repeats`` runs; the speed-up is 1 worker's time over N workers'.

    python benchmarks/ingest_workers.py [--repeats 2] [--only news|financebench]
"""

from __future__ import annotations

import argparse
import shutil

from common import DOCRAG, SHARED, WORK, need, news_files, run_child, save, table


def corpora(only: str | None) -> dict:
    found = {"news": news_files(), "financebench": need(SHARED / "financebench" / "pdfs")}
    return {k: v for k, v in found.items() if only in (None, k)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--only", choices=["news", "financebench"])
    args = ap.parse_args()
    out = WORK / "workers-bench"
    rows, data = [], {}
    for name, folder in corpora(args.only).items():
        seconds = {}
        for _ in range(args.repeats):
            for workers in (1, 2):  # alternating, so that a slow spell of the machine hits both
                shutil.rmtree(out, ignore_errors=True)
                run = run_child(DOCRAG + ["ingest", str(folder), "--index", str(out / "ix"), "--no-dense", "-q",
                                          "--workers", str(workers)])
                seconds[workers] = min(seconds.get(workers, float("inf")), run["seconds"])
        data[name] = {"seconds": seconds, "speedup": seconds[1] / seconds[2]}
        for workers in (1, 2):
            rows.append([name, str(workers), f"{seconds[workers]:.1f}", f"{seconds[1] / seconds[workers]:.2f}"])
    print(table(rows, ["corpus", "workers", "best s", "speed-up"]))
    print(f"\nwrote {save('ingest_workers', data)}")


if __name__ == "__main__":
    main()
