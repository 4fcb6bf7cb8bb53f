"""Follow-up questions: retrieval of a follow-up with and without the rule-based standalone rewrite
(docrag.retrieve.followup, no LLM), and how often a question that already stands alone is changed.

Pairs are made from the dev sets. FinanceBench: a question that names its company (as the index's router finds it)
follows another question about the same company, with the company's name replaced by "it"/"its" ("What is the FY2018
capital expenditure amount for it?"). prospectus_qa_zh: the same with 该公司 / 它 for 江苏爱康太阳能, plus the set's
one real multi-turn question. CMRC2018: a question naming its article's title follows another question of the same
paragraph, the title replaced by 它 (no router entity: file names are paragraph ids).

For each follow-up, hit@5 (gold page, or gold paragraph for CMRC, as `docrag eval` counts it) of: the original
question (the ceiling), the follow-up as asked, the previous question and the follow-up joined (what `docrag eval`
does with multi-turn history), and the rewrite. Standalone questions: each original question after the question
before it (same company) and after a question about another company/article; the share the rewrite changed, and
their hit@5 before and after. Indexes are BM25 only (default configuration, dense=False), cached under
~/.cache/docrag-bench/followup/.

    python benchmarks/followup.py [financebench prospectus cmrc]
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SHARED, WORK, save, table  # noqa: E402

import docrag  # noqa: E402
from docrag.config import Config  # noqa: E402
from docrag.evaluate import metrics  # noqa: E402
from docrag.evaluate.datasets import Dataset, Question, load_dataset  # noqa: E402
from docrag.evaluate.runner import build_index, gold_keys, hit_keys  # noqa: E402
from docrag.retrieve.followup import FollowUp  # noqa: E402

K = 5
SPECS = {"financebench": f"financebench:{SHARED}/financebench",
         "prospectus": f"prospectus:{SHARED}/prospectus_qa_zh/dev.yaml",
         "cmrc": f"squad:{SHARED}/cmrc2018_trial/cmrc2018_trial.json"}
HERE = WORK / "followup"


def pronoun_en(question: str, name: str) -> str:
    """The question with the company's name replaced by its/it."""
    n = re.escape(name)
    q = re.sub(rf"{n}\s*\(formerly known as [^)]*\)", name, question)
    q = re.sub(rf"{n}(?:'s|’s|'|’)(?=\W)", "its", q)
    q = re.sub(rf"(?<![\w-]){n}(?![\w-])", "it", q)
    return q[0].upper() + q[1:] if q else q


def pronoun_zh(question: str, name: str, pronoun: str) -> str:
    return re.sub(re.escape(name) + r"(?:科技股份有限公司|股份有限公司|公司)?", pronoun, question, count=1)


def company_pairs(ds: Dataset, follow: FollowUp, zh: bool) -> tuple[list[dict], list[dict]]:
    """(follow-up pairs, standalone probes) of a set whose questions name a company the router knows."""
    named = []
    for q in ds.questions:
        subjects = follow.routed(q.question)
        if len(subjects) == 1 and not q.history:
            named.append((q, subjects[0], frozenset(follow.router.named(q.question))))  # type: ignore[union-attr]
    pairs, probes = [], []
    for i, (q, name, terms) in enumerate(named):
        same = [p for p in named[:i] + named[i + 1:] if p[2] & terms]
        other = [p for p in named if not p[2] & terms]
        if not same:
            continue
        first = next((p for p in reversed(named[:i]) if p[2] & terms), same[0])[0]  # the one before it, if any
        if zh:
            follow_up = pronoun_zh(q.question, name, "该公司" if i % 2 == 0 else "它")
        else:
            follow_up = pronoun_en(q.question, name)
        if follow_up == q.question:
            continue
        pairs.append({"id": q.id, "history": [first.question], "follow_up": follow_up, "question": q})
        probes.append({"id": q.id, "history": [first.question], "question": q, "after": "same company"})
        if other:
            probes.append({"id": q.id, "history": [other[i % len(other)][0].question], "question": q,
                           "after": "another company"})
    for q in ds.questions:  # the set's own multi-turn questions
        previous = [t["content"] for t in q.history if t.get("role") == "user"]
        if previous:
            pairs.append({"id": q.id, "history": previous, "follow_up": q.question, "question": q, "real": True})
    return pairs, probes


def cmrc_pairs(ds: Dataset, titles: dict[str, str]) -> tuple[list[dict], list[dict]]:
    by_doc: dict[str, list[Question]] = {}
    for q in ds.questions:
        by_doc.setdefault(q.gold[0].doc, []).append(q)
    pairs, probes = [], []
    docs = sorted(by_doc)
    for d, doc in enumerate(docs):
        title = titles.get(doc, "")
        qs = by_doc[doc]
        for i, q in enumerate(qs[1:], 1):
            probes.append({"id": q.id, "history": [qs[i - 1].question], "question": q, "after": "same paragraph"})
            other = by_doc[docs[(d + 1) % len(docs)]][0]
            probes.append({"id": q.id, "history": [other.question], "question": q, "after": "another paragraph"})
            if len(title) >= 2 and title in q.question and title in qs[0].question:
                pairs.append({"id": q.id, "history": [qs[0].question], "question": q,
                              "follow_up": q.question.replace(title, "它", 1)})
    return pairs, probes


def hit(idx: docrag.Index, ds: Dataset, q: Question, query: str, cache: dict) -> float:
    if query not in cache:
        cache[query] = hit_keys(ds, idx.search(query, k=K))
    return metrics.hit_at_k(cache[query], gold_keys(ds, q), K)


def measure(name: str) -> dict:
    ds = load_dataset(SPECS[name], HERE / "datasets")
    config = Config.load(None, dense=False)
    t0 = time.perf_counter()
    path, build = build_index(ds, ds.corpus, config, HERE / "indexes", dense=False)
    idx = docrag.Index.open(path, config=config)
    follow = FollowUp(idx.resources.router(), idx.resources.analyzer)
    if name == "cmrc":
        from common import cmrc
        titles = {f"{p['id']}.txt": a["title"] for a in cmrc()["data"] for p in a["paragraphs"]}
        pairs, probes = cmrc_pairs(ds, titles)
    else:
        pairs, probes = company_pairs(ds, follow, zh=name == "prospectus")
    cache: dict = {}
    rows = []
    t1 = time.perf_counter()
    for p in pairs:
        q, history, follow_up = p["question"], p["history"], p["follow_up"]
        rewritten = follow.standalone(follow_up, history)
        joined = f"{history[-1]} {follow_up}"
        rows.append({"id": p["id"], "history": history, "follow_up": follow_up, "rewritten": rewritten,
                     "original": q.question, "real": p.get("real", False),
                     **{f"hit@{K} {kind}": hit(idx, ds, q, query, cache) for kind, query in
                        (("original", q.question), ("as asked", follow_up), ("joined", joined),
                         ("rewritten", rewritten))}})
    rewrite_ms = (time.perf_counter() - t1) * 1000 / max(len(rows), 1)
    probe_rows = []
    for p in probes:
        q = p["question"]
        rewritten = follow.standalone(q.question, p["history"])
        probe_rows.append({"id": p["id"], "after": p["after"], "history": p["history"], "question": q.question,
                           "rewritten": rewritten, "changed": rewritten != q.question,
                           f"hit@{K} as asked": hit(idx, ds, q, q.question, cache),
                           f"hit@{K} joined": hit(idx, ds, q, f"{p['history'][-1]} {q.question}", cache),
                           f"hit@{K} rewritten": hit(idx, ds, q, rewritten, cache)})
    idx.close()
    mean = lambda rs, key: sum(r[key] for r in rs) / len(rs) if rs else None  # noqa: E731
    kinds = ("original", "as asked", "joined", "rewritten")
    summary = {"pairs": len(rows), **{f"hit@{K} {kind}": mean(rows, f"hit@{K} {kind}") for kind in kinds},
               "follow_ups_rewritten": mean([{"c": r["rewritten"] != r["follow_up"]} for r in rows], "c"),
               "standalone_probes": len(probe_rows),
               "standalone_changed": mean([{"c": r["changed"]} for r in probe_rows], "c"),
               f"standalone hit@{K} as asked": mean(probe_rows, f"hit@{K} as asked"),
               f"standalone hit@{K} joined": mean(probe_rows, f"hit@{K} joined"),
               f"standalone hit@{K} rewritten": mean(probe_rows, f"hit@{K} rewritten"),
               "rule_rewrite_ms": rewrite_ms, "index": str(path), "index_build_seconds": time.perf_counter() - t0,
               "index_cached": build["cached"]}
    # every pair, and the standalone questions the rewrite changed (all of them would make the file large)
    return {"summary": summary, "pairs": rows, "standalone_changed": [r for r in probe_rows if r["changed"]]}


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def main() -> None:
    names = sys.argv[1:] or list(SPECS)
    results = {name: measure(name) for name in names}
    header = ["set", "pairs", f"hit@{K} original", "as asked", "joined", "rewritten", "follow-ups changed",
              "standalone probes", "standalone changed", f"standalone hit@{K} as asked / joined / rewritten"]
    rows = []
    for name, r in results.items():
        s = r["summary"]
        rows.append([name, s["pairs"], pct(s[f"hit@{K} original"]), pct(s[f"hit@{K} as asked"]),
                     pct(s[f"hit@{K} joined"]), pct(s[f"hit@{K} rewritten"]), pct(s["follow_ups_rewritten"]),
                     s["standalone_probes"], pct(s["standalone_changed"]),
                     " / ".join(pct(s[f"standalone hit@{K} {kind}"]) for kind in ("as asked", "joined", "rewritten"))])
    print(table(rows, header))
    path = save("followup", {"k": K, "command": "python benchmarks/followup.py " + " ".join(names),
                             "results": results})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
