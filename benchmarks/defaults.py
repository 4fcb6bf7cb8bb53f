"""Quality defaults chosen per question and per corpus (issue #14, items 1 and 4): retrieval of every dev set under
today's default, each automatic choice alone, and the new default, side by side. BM25 only (dense vectors for the
PDF sets and the 4M-character news corpus are not affordable on 2 cores); cached indexes, built with the default
parse/chunk settings (the retrieval settings compared here do not change an index).

Sets: FinanceBench (107 q, 52 PDFs, page gold), prospectus_qa_zh (10 q, 6 PDFs, page gold), CMRC2018 trial among
5,788 news articles (1,000 q, paragraph gold), RGB zh_fact / en_fact (100 q each, positive + negative passages,
passage gold).

    python benchmarks/defaults.py [set ...]   # retrieval defaults, BM25 (results/defaults.json)
    python benchmarks/defaults.py fusion      # BM25 / dense / fusions on the sets small enough to embed
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SHARED, WORK, cmrc_files, save, table  # noqa: E402
from quality import sets as quality_sets  # noqa: E402

import docrag  # noqa: E402
from docrag.config import Config  # noqa: E402
from docrag.evaluate import metrics  # noqa: E402
from docrag.evaluate.datasets import load_dataset  # noqa: E402
from docrag.evaluate.runner import gold_keys, hit_keys, query_text  # noqa: E402
from docrag.retrieve.fusion import Ranked, reciprocal_rank_fusion, weighted_fusion  # noqa: E402
from docrag.retrieve.profile import resolve  # noqa: E402

K = 10
FOLLOWUP = WORK / "followup" / "indexes"
PDF_SETS = {"financebench": (f"financebench:{SHARED}/financebench", FOLLOWUP / "financebench-83821532fdb079ad"),
            "prospectus": (f"prospectus:{SHARED}/prospectus_qa_zh/dev.yaml",
                           FOLLOWUP / "prospectus_qa_zh_dev-62506fcfae76b453")}
TEXT_SETS = {"cmrc": "cmrc", "rgb-zh": "rgb-zh", "rgb-en": "rgb-en"}  # benchmarks/quality.py's sets and indexes

# name -> retrieve overrides; "today" is the configuration before this work, each "+" row adds one choice to it
TODAY = {"route_kinds": False, "glossaries": [], "route_name_weight": 1.0}
VARIANTS: dict[str, dict] = {
    "today": TODAY,
    "+ names dropped in routed search (weight 0)": {**TODAY, "route_name_weight": 0.0},
    "+ names kept at 0.25 in routed search": {**TODAY, "route_name_weight": 0.25},
    "+ tables auto": {**TODAY, "route_kinds": "auto"},
    "+ tables always (route_kinds=true)": {**TODAY, "route_kinds": True},
    "+ glossary auto": {**TODAY, "glossaries": ["auto"]},
    "new default": {},
    "new default, tables always": {"route_kinds": True},
    "new default, tables off": {"route_kinds": False},
    "new default, names dropped (weight 0)": {"route_name_weight": 0.0},
    "new default, names weight 0.5": {"route_name_weight": 0.5},
    "new default + finance-zh": {"glossaries": ["auto", "finance-zh"]},
}

def questions(name: str) -> tuple[Path, list[tuple[str, str, set]]]:
    """(index, [(id, query, gold keys)])"""
    if name in PDF_SETS:
        spec, path = PDF_SETS[name]
        ds = load_dataset(spec, WORK / "followup" / "datasets")
        return path, [(q.id, query_text(q), gold_keys(ds, q)) for q in ds.questions]
    spec = quality_sets()[TEXT_SETS[name]]
    return WORK / "quality" / f"index-{TEXT_SETS[name]}", [(q["id"], q["q"], set(q["gold"] if isinstance(
        q["gold"], list) else [q["gold"]])) for q in spec["questions"]]


class _Page:  # hit_keys wants a dataset with gold_level
    def __init__(self, level: str):
        self.gold_level = level


def run(name: str, variant: str, overrides: dict) -> dict:
    path, qs = questions(name)
    level = _Page("page" if name in PDF_SETS else "doc")
    cfg = Config().updated(dense=False, mode="bm25", **{f"retrieve__{k}": v for k, v in overrides.items()})
    idx = docrag.Index.open(path, config=cfg, readonly=True)
    rows, t0 = [], time.perf_counter()
    for qid, query, gold in qs:
        ranked = hit_keys(level, idx.search(query, k=K))  # type: ignore[arg-type]
        rows.append({"id": qid, "hit@1": metrics.hit_at_k(ranked, gold, 1), "hit@5": metrics.hit_at_k(ranked, gold, 5),
                     "recall@5": metrics.recall_at_k(ranked, gold, 5),
                     "recall@10": metrics.recall_at_k(ranked, gold, 10),
                     "mrr": metrics.reciprocal_rank(ranked, gold, K)})
    seconds = time.perf_counter() - t0
    profile = idx.resources.profile()
    glossaries = idx.resources.glossary() and resolve(cfg.retrieve.glossaries, idx.resources.profile)
    idx.close()
    n = len(rows)
    summary = {m: sum(r[m] for r in rows) / n for m in ("hit@1", "hit@5", "recall@5", "recall@10", "mrr")}
    return {"set": name, "variant": variant, "questions": n, **summary, "ms_per_q": 1000 * seconds / n,
            "profile": profile,
            "glossaries": glossaries or [], "rows": rows}


def main() -> None:
    if sys.argv[1:] == ["fusion"]:
        save("defaults_fusion", {"results": run_fusion()})
        return
    names = sys.argv[1:] or [*PDF_SETS, *TEXT_SETS]
    results = []
    for name in names:
        for variant, overrides in VARIANTS.items():
            r = run(name, variant, overrides)
            results.append(r)
            print(f"{name:12} {variant:34} r@5 {r['recall@5']:.3f} r@10 {r['recall@10']:.3f} "
                  f"hit@1 {r['hit@1']:.3f} mrr {r['mrr']:.3f}  {r['ms_per_q']:.1f} ms/q", flush=True)
    print(table([[r["set"], r["variant"], r["questions"], f"{r['hit@1']:.3f}", f"{r['recall@5']:.3f}",
                  f"{r['recall@10']:.3f}", f"{r['mrr']:.3f}"] for r in results],
                ["set", "variant", "q", "hit@1", "recall@5", "recall@10", "MRR"]))
    save("defaults" if not sys.argv[1:] else "defaults-" + "-".join(names), {"results": results})



# --- fusion: BM25 vs dense vs their fusion, where dense vectors are affordable ------------------------------------
# RGB zh/en (943 / 969 passages) and the 256 CMRC2018 trial paragraphs alone (the 4M-character news corpus and the
# PDF sets would take hours to embed on 2 cores); indexes with vectors built once under ~/.cache/docrag-bench/defaults
FUSION_SETS = {"cmrc-trial": "cmrc-trial", "rgb-zh": "rgb-zh", "rgb-en": "rgb-en"}
FUSION_VARIANTS: dict[str, Callable[[Ranked, Ranked], Ranked]] = {
    "bm25": lambda b, d: b,
    "dense": lambda b, d: d,
    "hybrid rrf k=60 1:1 (default)": lambda b, d: reciprocal_rank_fusion([b, d], 60, [0.5, 0.5]),
    "hybrid rrf k=60 bm25:dense 1:2": lambda b, d: reciprocal_rank_fusion([b, d], 60, [1 / 3, 2 / 3]),
    "hybrid rrf k=60 bm25:dense 2:1": lambda b, d: reciprocal_rank_fusion([b, d], 60, [2 / 3, 1 / 3]),
    "hybrid rrf k=10 1:1": lambda b, d: reciprocal_rank_fusion([b, d], 10, [0.5, 0.5]),
    "hybrid weighted 1:1": lambda b, d: weighted_fusion([b, d], [0.5, 0.5]),
    "hybrid weighted bm25:dense 1:2": lambda b, d: weighted_fusion([b, d], [1 / 3, 2 / 3]),
    "hybrid weighted bm25:dense 2:1": lambda b, d: weighted_fusion([b, d], [2 / 3, 1 / 3]),
}


def fusion_questions(name: str) -> tuple[Path, list[tuple[str, str, set]]]:
    index = WORK / "defaults" / f"index-{name}-dense"
    if name == "cmrc-trial":
        from quality import cmrc_questions
        return index, [(q["id"], q["q"], {q["gold"]}) for q in cmrc_questions()]
    return index, questions(name)[1]


def run_fusion() -> list[dict]:
    """Each question's BM25 and dense lists (retrieve.candidates deep) are taken once and fused by every variant
    with docrag's own fusion functions (what HybridRetriever does; the default variant is checked against
    Index.search). Indexes with vectors are built on first use (minutes per set on 2 cores)."""
    results = []
    for name in FUSION_SETS:
        index, qs = fusion_questions(name)
        if name == "cmrc-trial":
            paths = [cmrc_files()]
        else:
            paths = quality_sets()[TEXT_SETS[name]]["paths"]
        with docrag.Index.open(index, create=True) as idx:
            idx.add(paths)
        idx = docrag.Index.open(index, config=Config().updated(mode="hybrid"), readonly=True)
        bm25, dense = idx.searcher.retriever("bm25"), idx.searcher.retriever("dense")
        ids = idx.resources.bm25().chunk_ids
        doc = {h.chunk_id: Path(h.doc_path).name for h in idx.store.hits([(int(i), 0.0) for i in ids])}
        n = idx.config.retrieve.candidates
        lists = [(gold, bm25.search(query, n), dense.search(query, n)) for _, query, gold in qs]
        check = sum(metrics.hit_at_k([Path(h.doc_path).name for h in idx.search(query, k=1)], gold, 1)
                    for _, query, gold in qs) / len(qs)
        idx.close()
        for variant, fuse in FUSION_VARIANTS.items():
            rows = []
            for gold, b, d in lists:
                ranked = [doc[c] for c, _ in fuse(b, d)][:50]
                rows.append({"hit@1": metrics.hit_at_k(ranked, gold, 1),
                             "recall@5": metrics.recall_at_k(ranked, gold, 5),
                             "recall@10": metrics.recall_at_k(ranked, gold, 10),
                             "mrr": metrics.reciprocal_rank(ranked, gold, K)})
            r = {"set": name, "variant": variant, "questions": len(rows),
                 **{m: sum(x[m] for x in rows) / len(rows) for m in ("hit@1", "recall@5", "recall@10", "mrr")}}
            if variant.endswith("(default)"):
                r["hit@1 of Index.search (check)"] = check
            print(f"{name:10} {variant:34} hit@1 {r['hit@1']:.3f} r@5 {r['recall@5']:.3f} r@10 {r['recall@10']:.3f} "
                  f"mrr {r['mrr']:.3f}", flush=True)
            results.append(r)
    return results

if __name__ == "__main__":
    main()
