#!/usr/bin/env bash
# `docrag eval` on SQLite and on Milvus Lite, same data sets and settings (issue #15: hit@k / recall@k within 0.01).
# Builds are cached per backend (~/.cache/docrag/eval/indexes); reports go to benchmarks/results/eval-milvus/.
# The CMRC2018 trial among the 5,788 news articles is BM25 only (embedding 4.2M characters: ~46 min on 2 cores);
# its 256 paragraphs alone are evaluated in every mode; FinanceBench (52 PDFs) BM25 only.
set -euo pipefail
cd "$(dirname "$0")/.."
D=../shared/data
OUT=benchmarks/results/eval-milvus
NEWS=${DOCRAG_BENCH_DIR:-$HOME/.cache/docrag-bench}/corpus/news  # made by benchmarks/common.py news_files()
DOCRAG="nice -n 10 env PYTHONPATH=src .venv/bin/python -m docrag.cli"
CMRC="squad:$D/cmrc2018_trial/cmrc2018_trial.json"
MILVUS="--set index.backend=milvus"

for backend in sqlite milvus; do
    $DOCRAG eval "$CMRC" --build --corpus "$NEWS" --no-dense --modes bm25 --set index.backend=$backend \
        --out "$OUT/cmrc-news-$backend"
done
$DOCRAG eval "$CMRC" --build --corpus "$NEWS" --no-dense --modes bm25 $MILVUS --set index.milvus_bm25=sparse \
    --out "$OUT/cmrc-news-milvus-sparse"
for backend in sqlite milvus; do
    $DOCRAG eval "$CMRC" --build --modes bm25,dense,hybrid --set index.backend=$backend --out "$OUT/cmrc-$backend"
done
$DOCRAG eval "$CMRC" --build --modes bm25,hybrid $MILVUS --set index.milvus_bm25=sparse --out "$OUT/cmrc-milvus-sparse"
for backend in sqlite milvus; do
    $DOCRAG eval "financebench:$D/financebench" --build --no-dense --set index.backend=$backend \
        --out "$OUT/financebench-$backend"
done
$DOCRAG eval "financebench:$D/financebench" --build --no-dense $MILVUS --set index.milvus_bm25=sparse \
    --out "$OUT/financebench-milvus-sparse"
