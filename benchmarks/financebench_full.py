"""FinanceBench in full: all 52 PDFs (20.7M characters, 73,034 chunks) with dense vectors, so hybrid search, the
default mode, is measured on the whole set for the first time. Each search mode with the default configuration,
and tables-for-amounts routing (``retrieve.route_kinds``) switched off in hybrid and BM25 mode, and in hybrid mode
searched by hybrid rather than BM25 (``retrieve.table_search = "mode"``, the default before 2026-12-01), with extractive
answers; every metric reported for all questions, for the 13-PDF subset that earlier defaults were looked at
(``common.FINANCEBENCH_SUBSET``), and for the questions on the 39 other PDFs (held out: no default was chosen on them).

The index is docrag eval's cached one (``docrag eval financebench:… --build``); an unfinished embedding resumes.

    nice -n 10 python -m benchmarks.financebench_full
"""

from __future__ import annotations

import ast
import statistics
from pathlib import Path

from benchmarks.common import FINANCEBENCH_SUBSET as SUBSET
from benchmarks.common import RESULTS, SHARED, WORK, need, save, table
from docrag.evaluate import evaluate

VARIANTS = {"bm25": 'mode = "bm25"', "dense": 'mode = "dense"', "hybrid": 'mode = "hybrid"',
            "hybrid, route_kinds off": 'mode = "hybrid"\nroute_kinds = false',
            "hybrid, tables searched by hybrid": 'mode = "hybrid"\ntable_search = "mode"',
            "bm25, route_kinds off": 'mode = "bm25"\nroute_kinds = false'}
METRICS = ("hit@1", "hit@5", "recall@5", "recall@10", "mrr", "answer_in_answer", "numeric", "f1")


def part(row: dict) -> str:
    docs = {Path(ast.literal_eval(g)[0]).stem for g in row["gold"]}
    return "subset" if docs & set(SUBSET) else "held-out"


def main() -> None:
    source = need(SHARED / "financebench")
    folder = WORK / "financebench-full" / "configs"
    folder.mkdir(parents=True, exist_ok=True)
    configs = []
    for name, settings in VARIANTS.items():
        path = folder / f"{name.replace(', ', '-').replace(' ', '-')}.toml"
        path.write_text(f"[retrieve]\n{settings}\n", encoding="utf-8")
        configs.append(path)
    report = evaluate(f"financebench:{source}", build=True, configs=configs, ks=[1, 5, 10],
                      out=RESULTS / "eval-financebench-full-hybrid")
    scores: dict[str, dict[str, dict[str, float | int]]] = {}
    for result, name in zip(report["results"], VARIANTS):
        for split in ("all", "subset", "held-out"):
            rows = [r for r in result["questions"] if split == "all" or part(r) == split]
            scores.setdefault(name, {})[split] = {
                "n": len(rows), **{m: statistics.fmean(r[m] for r in rows if r.get(m) is not None) for m in METRICS},
                "retrieve_ms_p50": result["summary"]["retrieve_ms_p50"]}
    for split in ("all", "subset", "held-out"):
        print(f"\n{split} ({scores['hybrid'][split]['n']} questions)")
        print(table([[name, *(f"{s[split][m]:.3f}" for m in METRICS), f"{s[split]['retrieve_ms_p50']:.0f}"]
                     for name, s in scores.items()], ["variant", *METRICS, "retrieve p50 ms"]))
    save("financebench_full", {"build": report["build"], "variants": VARIANTS, "scores": scores})


if __name__ == "__main__":
    main()
