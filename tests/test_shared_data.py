"""End-to-end checks on real public data from ../shared/data (skipped when it is absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import shared_data

import docrag


@pytest.mark.slow
def test_cmrc2018_paragraph_retrieval_with_bm25(tmp_path):
    data = json.loads((shared_data("cmrc2018_trial") / "cmrc2018_trial.json").read_text(encoding="utf-8"))
    docs = tmp_path / "docs"
    docs.mkdir()
    qas = []
    for article in data["data"]:
        for p in article["paragraphs"]:
            (docs / f"{p['id']}.txt").write_text(p["context"], encoding="utf-8")
            qas += [(p["id"], q["question"]) for q in p["qas"] if q["question"].strip()]  # 2 are empty
    idx = docrag.Index.open(tmp_path / "ix", create=True, dense=False)
    report = idx.add(docs)
    assert len(report.added) == 256 and not report.failed
    hits5 = sum(pid in [Path(h.doc_path).stem for h in idx.search(q, k=5, mode="bm25")] for pid, q in qas)
    # 256 paragraphs only (no distractors): BM25 with jieba segmentation finds most gold paragraphs
    assert hits5 / len(qas) > 0.8


@pytest.mark.slow
def test_financebench_pdfs_parse_with_pages():
    pdfs = sorted((shared_data("financebench") / "pdfs").glob("*.pdf"))[:2]
    for pdf in pdfs:
        doc = docrag.parse.parse(pdf)
        pages = {b.page for b in doc.blocks}
        assert min(pages) >= 1 and max(pages) <= doc.metadata["n_pages"] and len(pages) > 10
