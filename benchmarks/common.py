"""Shared helpers for the benchmarks: data preparation from ../shared/data and child-process timing.

Benchmarks print a table and write JSON to benchmarks/results/. Every speed is reported next to
a baseline measured in the same run (these machines are noisy), as a ratio.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
WORK = Path(os.environ.get("DOCRAG_BENCH_DIR", Path.home() / ".cache" / "docrag-bench"))
DOCRAG = [sys.executable, "-m", "docrag.cli"]
# the 13 FinanceBench PDFs of benchmarks/eval_baselines.sh, where earlier routing and fusion choices were looked at
FINANCEBENCH_SUBSET = [
    "ULTABEAUTY_2023Q4_EARNINGS", "FOOTLOCKER_2022_8K_dated-2022-05-20", "MGMRESORTS_2022Q4_EARNINGS",
    "PEPSICO_2023_8K_dated-2023-05-05", "AMCOR_2023Q4_EARNINGS", "PEPSICO_2023Q1_EARNINGS",
    "JOHNSON_JOHNSON_2023_8K_dated-2023-08-30", "AMCOR_2022_8K_dated-2022-07-01", "BESTBUY_2024Q2_10Q",
    "JOHNSON_JOHNSON_2022Q4_EARNINGS", "Pfizer_2023Q2_10Q", "BESTBUY_2023_10K",
    "BOEING_2022_10K",
]


def eval_index(spec: str, config=None):
    """A data set written out where ``docrag eval`` writes it, and its index from ``docrag eval``'s cache (built there
    if missing): (dataset, index path, build info). One folder for every benchmark, so they share one index per
    data set and configuration (the cache is keyed by the files' names and contents, not their folder)."""
    import docrag
    from docrag.evaluate.datasets import load_dataset
    from docrag.evaluate.runner import build_index
    from docrag.models.e5_onnx import cache_root

    dataset = load_dataset(spec, cache_root() / "eval" / "datasets")
    path, built = build_index(dataset, dataset.corpus, config or docrag.Config(), cache_root() / "eval" / "indexes",
                              dense=True)
    return dataset, path, built


def need(path: Path) -> Path:
    if not path.exists():
        sys.exit(f"{path} not found: the benchmarks read ../shared/data beside the repository")
    return path


def news_files() -> Path:
    """crud_news/news_4m.txt split one article per file (news/00001.txt ...), made once."""
    out = WORK / "corpus" / "news"
    if not (out / ".done").exists():
        out.mkdir(parents=True, exist_ok=True)
        lines = need(SHARED / "crud_news" / "news_4m.txt").read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if line.strip():
                (out / f"{i:05d}.txt").write_text(line.strip() + "\n", encoding="utf-8")
        (out / ".done").touch()
    return out


def news16_files() -> Path:
    """news_4m.txt and news_more_12m.txt (16.1M characters) one article per file (news16/00001.txt ...,
    news16/m00000.txt ...: 23,152 files), made once."""
    out = WORK / "corpus" / "news16"
    if not (out / ".done").exists():
        out.mkdir(parents=True, exist_ok=True)
        for prefix, name in (("", "news_4m.txt"), ("m", "news_more_12m.txt")):
            lines = need(SHARED / "crud_news" / name).read_text(encoding="utf-8").splitlines()
            for i, line in enumerate(lines):
                if line.strip():
                    (out / f"{prefix}{i:05d}.txt").write_text(line.strip() + "\n", encoding="utf-8")
        (out / ".done").touch()
    return out


def cmrc() -> dict:
    return json.loads(need(SHARED / "cmrc2018_trial" / "cmrc2018_trial.json").read_text(encoding="utf-8"))


def cmrc_files() -> Path:
    """Each CMRC2018 trial paragraph as one document (cmrc/<paragraph id>.txt), made once."""
    out = WORK / "corpus" / "cmrc"
    if not (out / ".done").exists():
        out.mkdir(parents=True, exist_ok=True)
        for article in cmrc()["data"]:
            for p in article["paragraphs"]:
                (out / f"{p['id']}.txt").write_text(p["context"].strip() + "\n", encoding="utf-8")
        (out / ".done").touch()
    return out


def bare_text_pages(pdf) -> int:
    """The floor of PDF parsing: pypdfium2's text of every page of an open PdfDocument, nothing else.
    Returns the page count."""
    for i in range(len(pdf)):
        page = pdf[i]
        textpage = page.get_textpage()
        textpage.get_text_range()
        textpage.close()
        page.close()
    return len(pdf)


def run_child(cmd: list[str], env: dict | None = None) -> dict:
    """Run a command; wall seconds, peak RSS (MiB) and exit code of that child alone."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    out, err = proc.stdout.read().decode(), proc.stderr.read().decode()
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 3):
        sys.exit(f"{' '.join(map(str, cmd))} failed ({code}):\n{err[-2000:]}")
    return {"seconds": wall, "peak_rss_mib": usage.ru_maxrss / 1024, "exit": code, "stdout": out}


def machine() -> dict:
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
            "date": time.strftime("%Y-%m-%d %H:%M")}


def save(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **data}, ensure_ascii=False, indent=2))
    return path


def table(rows: list[list], header: list[str]) -> str:
    cells = [header] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), rule] + [line(r) for r in cells[1:]])
