"""The FinanceBench retrieval floor the PDF/table issue is measured against: BM25 over the bare text of
each page (pypdfium2, one page = one document, docrag's analyzer), evidence-page recall@5/@10, next to
docrag's own configurations scored by ``docrag eval`` in the same run (pass their report.json files).

    python benchmarks/financebench_page_floor.py [benchmarks/results/eval-financebench-structure/report.json]
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import bm25s
import numpy as np
import pypdfium2 as pdfium

from benchmarks.common import SHARED, need, save, table
from docrag.evaluate import metrics
from docrag.evaluate.datasets import load_dataset
from docrag.text.analyzer import Analyzer

KS = (5, 10)


def page_texts(folder: Path) -> tuple[list[tuple[str, int]], list[str]]:
    keys, texts = [], []
    for path in sorted(folder.glob("*.pdf")):
        pdf = pdfium.PdfDocument(path)
        try:
            for i in range(len(pdf)):
                page = pdf[i]
                textpage = page.get_textpage()
                keys.append((path.name, i + 1))
                texts.append(textpage.get_text_range())
                textpage.close()
                page.close()
        finally:
            pdf.close()
    return keys, texts


def main() -> None:
    folder = need(SHARED / "financebench")
    dataset = load_dataset(f"financebench:{folder}", Path(tempfile.mkdtemp()))
    keys, texts = page_texts(folder / "pdfs")
    analyzer = Analyzer()
    retriever = bm25s.BM25(method="lucene")
    retriever.index([analyzer.tokenize(t) for t in texts], show_progress=False)
    recalls = {k: [] for k in KS}
    for q in dataset.questions:
        terms = [t for t in analyzer.tokenize(q.question) if t in retriever.vocab_dict]
        scores = retriever.get_scores(terms) if terms else np.zeros(len(keys))
        ranked = [keys[i] for i in np.argsort(-scores)[: max(KS)]]
        gold = {(g.doc, g.page) for g in q.gold}
        for k in KS:
            recalls[k].append(metrics.recall_at_k(ranked, gold, k))
    floor = {k: float(np.mean(v)) for k, v in recalls.items()}
    rows = [["floor: BM25 over each page's bare text", *(f"{floor[k]:.3f}" for k in KS), "1.00"]]
    results = {"floor": {"pages": len(keys), "questions": len(dataset.questions),
                         **{f"recall@{k}": floor[k] for k in KS}}, "configurations": {}}
    for report in sys.argv[1:]:
        for result in json.loads(Path(report).read_text(encoding="utf-8"))["results"]:
            summary = result["summary"]
            results["configurations"][result["name"]] = {f"recall@{k}": summary[f"recall@{k}"] for k in KS}
            rows.append([f"docrag: {result['name']}", *(f"{summary[f'recall@{k}']:.3f}" for k in KS),
                         f"{summary['recall@5'] / floor[5]:.2f}"])
    print(f"FinanceBench: {len(dataset.questions)} questions, {len(keys):,} pages")
    print(table(rows, ["configuration", "recall@5", "recall@10", "recall@5 × floor"]))
    print(f"wrote {save('financebench_page_floor', results)}")


if __name__ == "__main__":
    main()
