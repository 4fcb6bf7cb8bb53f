"""Quality defaults (issue #14): abstention ("not found") and sharper extractive answers, measured on
every affordable set side by side, from one cached retrieval per question (BM25-only indexes: dense
embedding of the 4M-character news corpus takes ~45 min on 2 cores).

Sets (built once under ~/.cache/docrag-bench/quality/):
- cmrc: the 256 CMRC2018 trial paragraphs among the 5,788 news articles; questions split by paragraph
  (sha1 of the paragraph id, even = "dev" half developed on, odd = "test" half held out).
- cmrc-removed: the same index without the test half's paragraphs: dev questions stay answerable,
  test questions become unanswerable (their gold paragraph is gone).
- rgb-zh / rgb-en: RGB zh_fact / en_fact, positive + negative passages (answerable);
  rgb-zh-neg / rgb-en-neg: the negative passages only (unanswerable: noise about the same events).

    python benchmarks/quality.py [variant ...]      # prints tables, writes benchmarks/results/quality.json
"""

from __future__ import annotations

import hashlib
import json
import pickle
import sys
import time
from pathlib import Path

from common import RESULTS, SHARED, WORK, cmrc, news_files, save, table

import docrag
from docrag.evaluate import metrics
from docrag.generate.extractive import ExtractiveAnswerer
from docrag.types import Hit

Q = WORK / "quality"
TOP = 5


def dev_half(pid: str) -> bool:
    return int(hashlib.sha1(pid.encode()).hexdigest(), 16) % 2 == 0


def cmrc_questions() -> list[dict]:
    out = []
    for article in cmrc()["data"]:
        for p in article["paragraphs"]:
            for qa in p["qas"]:
                if qa["question"].strip():
                    out.append({"id": qa["id"], "q": qa["question"], "answers": [a["text"] for a in qa["answers"]],
                                "gold": f"{p['id']}.txt", "half": "dev" if dev_half(p["id"]) else "test"})
    return out


def write_corpus(folder: Path, docs: dict[str, str]) -> Path:
    if not (folder / ".done").exists():
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in docs.items():
            (folder / name).write_text(text + "\n", encoding="utf-8")
        (folder / ".done").touch()
    return folder


def cmrc_corpus(halves: tuple[str, ...]) -> Path:
    docs = {f"{p['id']}.txt": p["context"].strip() for a in cmrc()["data"] for p in a["paragraphs"]
            if ("dev" if dev_half(p["id"]) else "test") in halves}
    return write_corpus(Q / f"corpus-cmrc-{'-'.join(halves)}", docs)


def rgb(lang: str) -> tuple[list[dict], dict[str, str], dict[str, str]]:
    """Questions, positive passages and negative passages of RGB {lang}_fact."""
    pos: dict[str, str] = {}
    neg: dict[str, str] = {}
    qs = []

    def name(t: str) -> str:
        return hashlib.sha1(t.strip().encode()).hexdigest()[:16] + ".txt"

    def flat(x):
        if isinstance(x, list):
            for y in x:
                yield from flat(y)
        else:
            yield str(x)

    for line in (SHARED / "rgb" / f"{lang}_fact.json").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        gold = []
        for t in flat(row["positive"]):
            if t.strip():
                pos[name(t)] = t.strip()
                gold.append(name(t))
        for t in row.get("negative") or []:
            if t.strip():
                neg[name(t)] = t.strip()
        qs.append({"id": str(row["id"]), "q": row["query"], "answers": list(dict.fromkeys(flat(row["answer"]))),
                   "gold": gold, "half": "all"})
    neg = {k: v for k, v in neg.items() if k not in pos}
    return qs, pos, neg


def index(name: str, paths: list[Path]) -> docrag.Index:
    idx = docrag.Index.open(Q / f"index-{name}", create=True, dense=False)
    idx.add(paths)
    return idx


def sets() -> dict[str, dict]:
    """name -> {"index": path, "questions": [...], "answerable": bool}"""
    out = {}
    cq = cmrc_questions()
    news = news_files()
    out["cmrc"] = {"paths": [news, cmrc_corpus(("dev", "test"))], "questions": cq, "answerable": True}
    out["cmrc-removed"] = {"paths": [news, cmrc_corpus(("dev",))], "questions": cq, "answerable": None}
    for lang in ("zh", "en"):
        qs, pos, neg = rgb(lang)
        out[f"rgb-{lang}"] = {"paths": [write_corpus(Q / f"corpus-rgb-{lang}-all", {**pos, **neg})], "questions": qs,
                              "answerable": True}
        out[f"rgb-{lang}-neg"] = {"paths": [write_corpus(Q / f"corpus-rgb-{lang}-neg", neg)], "questions": qs,
                                  "answerable": False}
    return out


def cached_hits(name: str, spec: dict) -> list[list[Hit]]:
    path = Q / f"hits-{name}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    idx = index(name, spec["paths"])
    hits = [idx.search(q["q"], k=TOP) for q in spec["questions"]]
    idx.close()
    path.write_bytes(pickle.dumps(hits))
    return hits


def answerable(spec: dict, q: dict) -> bool:
    if spec["answerable"] is None:  # cmrc-removed: the dev half's paragraphs are still there
        return q["half"] == "dev"
    return spec["answerable"]


def run(variant: str, make, data: dict[str, dict], hits: dict[str, list[list[Hit]]]) -> dict:
    analyzer = docrag.Index.open(Q / "index-rgb-en", dense=False).resources.analyzer
    answerer = make(analyzer)
    out: dict[str, dict] = {}
    for name, spec in data.items():
        rows = []
        for q, hs in zip(spec["questions"], hits[name]):
            t0 = time.perf_counter()
            a = answerer.answer(q["q"], hs)
            ms = (time.perf_counter() - t0) * 1000
            found = getattr(a, "found", True) and bool(a.text)
            gold = set(q["gold"] if isinstance(q["gold"], list) else [q["gold"]])
            cited = {Path(c.doc_path).name for c in a.citations}
            rows.append({"half": q["half"], "answerable": answerable(spec, q), "found": found, "ms": ms,
                         "contains": metrics.answer_recall_at_k([a.plain_text], q["answers"], 1),
                         "f1": metrics.f1(a.plain_text, q["answers"]),
                         "em": metrics.exact_match(a.plain_text, q["answers"]),
                         "numeric": metrics.numeric_match(a.plain_text, q["answers"]),
                         "cites_gold": float(bool(cited & gold)),
                         "hit@1": float(bool(hs) and Path(hs[0].doc_path).name in gold),
                         "hit@5": float(any(Path(h.doc_path).name in gold for h in hs)), "chars": len(a.plain_text),
                         "signal": answerer.support(q["q"], hs), "answer": a.plain_text})
        out[name] = rows
    return out


def summary(rows: list[dict], half: str | None = None) -> dict:
    import numpy as np
    rows = [r for r in rows if half in (None, r["half"])]
    if not rows:
        return {"n": 0}
    ans = [r for r in rows if r["answerable"]]
    un = [r for r in rows if not r["answerable"]]
    s = {"n": len(rows)}
    if ans:
        for k in ("hit@1", "hit@5", "contains", "f1", "em", "numeric", "cites_gold", "found"):
            s[k] = float(np.mean([r[k] for r in ans]))
        s["chars"] = float(np.median([r["chars"] for r in ans]))
    if un:
        s["refused"] = float(np.mean([not r["found"] for r in un]))
    s["ms_p50"] = float(np.percentile([r["ms"] for r in rows], 50))
    return s


VARIANTS = {
    # today's default: whole sentences, no kind bonus, every question answered
    "today": lambda an: ExtractiveAnswerer(an, None, 2, 200, min_support=0.0, kind_bonus=0.0),
    "kind": lambda an: ExtractiveAnswerer(an, None, 2, 200, min_support=0.0, kind_bonus=0.15),
    "trim": lambda an: ExtractiveAnswerer(an, None, 2, 200, trim=True, min_support=0.0, kind_bonus=0.15),
    "kind+trim1": lambda an: ExtractiveAnswerer(an, None, 1, 200, trim=True, min_support=0.0, kind_bonus=0.15),
    "kind+abstain": lambda an: ExtractiveAnswerer(an, None, 2, 200, kind_bonus=0.15),
    "new default (abstain)": lambda an: ExtractiveAnswerer(an, None, 2, 200),
}
THRESHOLDS = [0.0, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6]


PAIRS = {"cmrc (zh, gold removed)": ("cmrc-removed", "dev", "cmrc-removed", "test"),
         "rgb zh (negatives only)": ("rgb-zh", "all", "rgb-zh-neg", "all"),
         "rgb en (negatives only)": ("rgb-en", "all", "rgb-en-neg", "all")}


def abstention_curve(per: dict[str, list[dict]]) -> dict:
    """For each threshold on the support signal: answerable questions still answered (and still containing
    the gold answer), unanswerable ones refused, per pair of sets. Prints a table, draws a PNG."""
    curve: dict[str, list[dict]] = {}
    for label, (a, ha, u, hu) in PAIRS.items():
        ans = [r for r in per[a] if r["half"] == ha]
        un = [r for r in per[u] if r["half"] == hu]
        curve[label] = [{"threshold": t, "answered": sum(r["signal"] >= t for r in ans) / len(ans),
                         "contains": sum(r["contains"] * (r["signal"] >= t) for r in ans) / len(ans),
                         "refused": sum(r["signal"] < t for r in un) / len(un)} for t in THRESHOLDS]
    rows = [[t] + [f"{c[i]['answered']:.2f} / {c[i]['contains']:.2f} / {c[i]['refused']:.2f}" for c in curve.values()]
            for i, t in enumerate(THRESHOLDS)]
    print("abstention: answerable answered / still containing gold / unanswerable refused")
    print(table(rows, ["min_support"] + list(curve)))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(5.5, 4))
        for label, points in curve.items():
            ax.plot([p["refused"] for p in points], [p["answered"] for p in points], marker="o", label=label)
            for p in points:
                if p["threshold"] in (0.35, 0.5):
                    ax.annotate(f"{p['threshold']}", (p["refused"], p["answered"]), fontsize=7)
        ax.set_xlabel("unanswerable questions refused")
        ax.set_ylabel("answerable questions answered")
        ax.set_title("extractive 'not found' by min_support (BM25 top 5)")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(RESULTS / "quality_abstention.png", dpi=110)
    except ImportError:
        pass
    return curve


def main() -> None:
    data = sets()
    hits = {name: cached_hits(name, spec) for name, spec in data.items()}
    chosen = sys.argv[1:] or list(VARIANTS)
    results = {}
    for v in chosen:
        results[v] = run(v, VARIANTS[v], data, hits)
    rows = []
    for v, per in results.items():
        for name, rs in per.items():
            for half in ([None, "dev", "test"] if name.startswith("cmrc") else [None]):
                s = summary(rs, half)
                rows.append([v, name + (f"/{half}" if half else ""), s["n"]] + [
                    f"{s[k]:.3f}" if k in s else "" for k in
                    ("hit@1", "hit@5", "contains", "f1", "em", "numeric", "cites_gold", "found", "refused")]
                    + [f"{s['ms_p50']:.2f}", s.get("chars", "")])
    print(table(rows, ["variant", "set", "n", "hit@1", "hit@5", "contains", "F1", "EM", "numeric", "cites gold",
                       "answered", "refused (unans.)", "answer ms p50", "chars p50"]))
    curve = abstention_curve(results.get("today") or next(iter(results.values())))
    Q.joinpath("rows.pkl").write_bytes(pickle.dumps(results))
    halves = (None, "dev", "test")
    save("quality", {"abstention_curve": curve, "variants": {v: {n: {h or "all": summary(rs, h) for h in halves
                                                                      if summary(rs, h)["n"]}
                                      for n, rs in per.items()} for v, per in results.items()}})


if __name__ == "__main__":
    main()
