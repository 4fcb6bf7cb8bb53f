"""Evaluation reports a person can read: report.md (best value per column in bold), report.json
(every number and every per-question result, so two runs can be diffed) and PNG plots."""

from __future__ import annotations

import json
import logging
import os
import re
from collections import defaultdict
from pathlib import Path

from docrag.atomic import write_text_atomic

log = logging.getLogger(__name__)

# (summary key, heading, higher is better) of the two tables; {k} expands to each cut-off
RETRIEVAL = [("hit@{k}", "hit@{k}", True), ("recall@{k}", "recall@{k}", True),
             ("answer_recall@{k}", "ans-recall@{k}", True), ("context_recall", "ctx-recall", True),
             ("mrr", "MRR", True), ("ndcg@10", "nDCG@10", True),
             ("retrieve_ms_p50", "search p50 ms", False), ("retrieve_ms_p95", "search p95 ms", False)]
ANSWER = [("em", "EM", True), ("f1", "F1", True), ("rouge1", "ROUGE-1", True), ("rouge2", "ROUGE-2", True),
          ("rougeL", "ROUGE-L", True), ("numeric", "numeric", True), ("answer_in_answer", "contains answer", True),
          ("answered", "answered", True), ("faithfulness", "faithful", True), ("citation_precision", "cite-prec", True),
          ("answer_ms_p50", "answer p50 ms", False), ("answer_ms_p95", "answer p95 ms", False)]


def columns(spec: list[tuple[str, str, bool]], ks: list[int]) -> list[tuple[str, str, bool]]:
    out = []
    for key, head, higher in spec:
        out += [(key.format(k=k), head.format(k=k), higher) for k in ks] if "{k}" in key else [(key, head, higher)]
    return out


def markdown_table(results: list[dict], ks: list[int], spec: list[tuple[str, str, bool]] = RETRIEVAL) -> str:
    """One row per configuration; the best value of each column in bold."""
    cols = [c for c in columns(spec, ks) if any(r["summary"].get(c[0]) is not None for r in results)]
    best = {}
    for key, _, higher in cols:
        values = [r["summary"][key] for r in results if r["summary"].get(key) is not None]
        if len(values) > 1:
            best[key] = max(values) if higher else min(values)
    lines = ["| configuration | n | " + " | ".join(h for _, h, _ in cols) + " |",
             "|---|---:|" + "---:|" * len(cols)]
    for r in results:
        cells = []
        for key, _, _ in cols:
            v = r["summary"].get(key)
            text = "–" if v is None else (f"{v:.0f}" if "_ms_" in key else f"{v:.3f}")
            cells.append(f"**{text}**" if v is not None and best.get(key) == v else text)
        name = r["name"] + (" (interrupted)" if r.get("interrupted") else "")
        lines.append(f"| {name} | {r['summary']['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_type(results: list[dict], metric: str) -> dict[str, dict[str, float]]:
    """metric averaged per question type, per configuration: {type: {config: value}}."""
    table: dict[str, dict[str, float]] = defaultdict(dict)
    for r in results:
        groups = defaultdict(list)
        for q in r["questions"]:
            if q.get(metric) is not None:
                groups[q["type"] or "(none)"].append(q[metric])
        for t, values in groups.items():
            table[t][r["name"]] = sum(values) / len(values)
    return dict(table)


def write_report(data: dict, out: Path) -> list[Path]:
    """Write report.md, report.json and plots into ``out``; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    ks = data["ks"]
    results = data["results"]
    written = [write_text_atomic(out / "report.json", json.dumps(data, ensure_ascii=False, indent=1))]
    plots = _plots(results, ks, out)
    md = [f"# Evaluation: {data['dataset']}", "",
          f"{data['n_questions']} questions · gold level: {data['gold_level']} · index: `{data['index']}`"
          + _build_note(data.get("build")), ""]
    md += [f"- {note}" for note in data.get("notes", [])]
    md += ["", "## Retrieval", "", markdown_table(results, ks, RETRIEVAL), "",
           "hit@k: a gold item among the top k · recall@k: share of the gold items in the top k · "
           f"ans-recall@k: a gold answer string occurs in the top-k text · MRR over the top {max(ks)} · "
           "best value per column in bold.", "",
           "## Answers", "", markdown_table(results, ks, ANSWER), "",
           "EM/F1/ROUGE: the answer against the gold answers (character level for Chinese, words for English) · "
           "numeric: a number in the answer equals a gold number (1% tolerance, units scaled) · "
           "contains answer: a gold answer string occurs in the answer · "
           "faithful: share of answer sentences supported by the passage they cite · "
           "cite-prec: share of citations that point at gold evidence.", ""]
    types = per_type(results, f"hit@{min(5, max(ks))}")
    if len(types) > 1:
        names = [r["name"] for r in results]
        md += [f"## hit@{min(5, max(ks))} by question type", "",
               "| type | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
        for t, row in sorted(types.items()):
            md.append(f"| {t} | " + " | ".join(f"{row.get(n, float('nan')):.3f}" for n in names) + " |")
        md.append("")
    md += [f"![{p.stem}]({p.name})" for p in plots]
    written.append(write_text_atomic(out / "report.md", "\n".join(md) + "\n"))
    return written + plots


# fonts with simplified Chinese glyphs, most preferred first (question types can be Chinese)
_CJK_FONTS = ("Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "SimHei",
              "Microsoft YaHei", "PingFang SC", "Noto Serif CJK SC", "Noto Sans CJK JP")


def _build_note(build: dict | None) -> str:
    if not build:
        return ""
    return " (from the build cache)" if build["cached"] else f" (built in {build['seconds']:.0f} s)"


def _plots(results: list[dict], ks: list[int], out: Path) -> list[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib import font_manager
    except ImportError:
        return []  # plots need the [eval] extra; the tables are complete without them
    installed = {f.name for f in font_manager.fontManager.ttflist}
    cjk = [name for name in _CJK_FONTS if name in installed]
    if cjk:
        plt.rcParams["font.sans-serif"] = cjk[:1] + plt.rcParams["font.sans-serif"]
    elif any(re.search(r"[\u4e00-\u9fff]", q["type"]) for r in results for q in r["questions"]):
        log.warning("no CJK font found: Chinese labels in plots will not render (install fonts-noto-cjk)")
    files = []
    fig, ax = plt.subplots(figsize=(6, 4))
    for r in results:
        ax.plot(ks, [r["summary"][f"recall@{k}"] for k in ks], marker="o", label=r["name"])
    ax.set(xlabel="k", ylabel="recall@k", title="Retrieval recall@k", ylim=(0, 1.02), xticks=ks)
    ax.grid(alpha=0.3)
    ax.legend()
    files.append(_save(fig, out / "recall_at_k.png"))
    metric = f"hit@{min(5, max(ks))}"
    types = per_type(results, metric)
    if len(types) > 1:
        names = [r["name"] for r in results]
        fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(types)), 4))
        width = 0.8 / len(names)
        for i, name in enumerate(names):
            ax.bar([j + i * width for j in range(len(types))], [types[t].get(name, 0) for t in sorted(types)],
                   width, label=name)
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(types))], sorted(types), rotation=20)
        ax.set(ylabel=metric, title=f"{metric} by question type", ylim=(0, 1.02))
        ax.legend()
        files.append(_save(fig, out / "by_type.png"))
    plt.close("all")
    return files


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.png")
    fig.savefig(tmp, dpi=120)
    os.replace(tmp, path)
    return path
