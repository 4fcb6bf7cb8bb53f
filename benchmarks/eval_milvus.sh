#!/usr/bin/env bash
# `docrag eval` on SQLite and on Milvus Lite, same data sets and settings (issue #15: hit@k / recall@k within 0.01).
# Builds are cached per backend (~/.cache/docrag/eval/indexes); reports go to benchmarks/results/eval-milvus/
# (report.md kept in the repository) and the retrieval summaries to benchmarks/results/eval_milvus.json.
# The CMRC2018 trial among the 5,788 news articles is BM25 only (embedding 4.2M characters: ~46 min on 2 cores);
# its 256 paragraphs alone are evaluated in every mode (on Milvus with Milvus's own dense search); FinanceBench
# (52 PDFs) BM25 only. Milvus-scored BM25 (index.milvus_bm25 = "sparse") on the same Milvus indexes.
set -euo pipefail
cd "$(dirname "$0")/.."
D=../shared/data
OUT=benchmarks/results/eval-milvus
NEWS=${DOCRAG_BENCH_DIR:-$HOME/.cache/docrag-bench}/corpus/news  # made by benchmarks/common.py news_files()
DOCRAG="nice -n 10 env PYTHONPATH=src .venv/bin/python -m docrag.cli"
CMRC="squad:$D/cmrc2018_trial/cmrc2018_trial.json"
FB="financebench:$D/financebench"
MILVUS="--set index.backend=milvus"

$DOCRAG eval "$CMRC" --build --corpus "$NEWS" --no-dense --modes bm25 --out "$OUT/cmrc-news-sqlite"
$DOCRAG eval "$CMRC" --build --corpus "$NEWS" --no-dense --modes bm25 $MILVUS --out "$OUT/cmrc-news-milvus"
$DOCRAG eval "$CMRC" --build --corpus "$NEWS" --no-dense --modes bm25 $MILVUS --set index.milvus_bm25=sparse \
    --out "$OUT/cmrc-news-milvus-sparse"
$DOCRAG eval "$CMRC" --build --modes bm25,dense,hybrid --out "$OUT/cmrc-sqlite"
$DOCRAG eval "$CMRC" --build --modes bm25,dense,hybrid $MILVUS --set index.milvus_dense=milvus --out "$OUT/cmrc-milvus"
$DOCRAG eval "$FB" --build --no-dense --out "$OUT/financebench-sqlite"
$DOCRAG eval "$FB" --build --no-dense $MILVUS --out "$OUT/financebench-milvus"
$DOCRAG eval "$FB" --build --no-dense $MILVUS --set index.milvus_bm25=sparse --out "$OUT/financebench-milvus-sparse"

.venv/bin/python - "$OUT" <<'PY'
import json
import sys
from pathlib import Path

out = {d.name: {r["name"]: {k: v for k, v in r["summary"].items() if k.startswith(("hit@", "recall@", "retrieve_ms"))}
                for r in json.loads((d / "report.json").read_text(encoding="utf-8"))["results"]}
       for d in sorted(Path(sys.argv[1]).iterdir()) if (d / "report.json").exists()}
Path("benchmarks/results/eval_milvus.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
PY
