"""Build the evaluation index: the 4.17M-character news corpus plus the 256 CMRC2018 trial
paragraphs, BM25 + dense, with the real CLI. Slow (dense embedding of all of it: tens of minutes
on 2 cores); resumable if interrupted. Records wall time and throughput of the full run.

    python benchmarks/build_eval_index.py
"""

from __future__ import annotations

import json
import shutil
import sys

from common import DOCRAG, WORK, cmrc_files, news_files, run_child, save


def main() -> None:
    news, cmrc = news_files(), cmrc_files()
    index = WORK / "index-news-cmrc"
    fresh = "--resume" not in sys.argv
    if fresh:
        shutil.rmtree(index, ignore_errors=True)
    run = run_child(DOCRAG + ["ingest", str(news), str(cmrc), "--index", str(index), "-q"])
    info = json.loads(run_child(DOCRAG + ["info", "--index", str(index), "--json"])["stdout"])
    result = {"index": str(index), "fresh": fresh, "wall_seconds": run["seconds"],
              "peak_rss_mib": run["peak_rss_mib"], "documents": info["documents"], "chunks": info["chunks"],
              "chars": info["chars"], "embedded": info["embedded"],
              "chars_per_second": info["chars"] / run["seconds"]}
    print(json.dumps(result, indent=2))
    save("build_eval_index", result)


if __name__ == "__main__":
    main()
