#!/usr/bin/env bash
# Baseline evaluation runs behind docs/benchmarks.md (issue: evaluation). Reads ../shared/data;
# reports go to benchmarks/results/eval-<set>/. The CMRC run uses the news+CMRC index that
# benchmarks/build_eval_index.py builds (dense embedding of 4.2M characters: ~40 min on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
D=../shared/data
OUT=benchmarks/results
DOCRAG=".venv/bin/docrag"
BENCH=${DOCRAG_BENCH_DIR:-$HOME/.cache/docrag-bench}

# CMRC2018 trial: 256 paragraphs among 5,788 news articles (bm25, dense, hybrid)
$DOCRAG eval "squad:$D/cmrc2018_trial/cmrc2018_trial.json" --index "$BENCH/index-news-cmrc" --out "$OUT/eval-cmrc"
# RGB zh_fact: positive + negative passages as the corpus
$DOCRAG eval "rgb:$D/rgb/zh_fact.json" --build --out "$OUT/eval-rgb-zh-fact"
# prospectus_qa_zh: 6 prospectus PDFs (1,479 pages), page-level gold
$DOCRAG eval "prospectus:$D/prospectus_qa_zh/dev.yaml" --build --out "$OUT/eval-prospectus"
# FinanceBench: 52 10-K/10-Q PDFs (~5,900 pages) in one index, page-level gold; BM25 only
# (dense embedding of ~18M characters would take hours on 2 cores)
$DOCRAG eval "financebench:$D/financebench" --build --no-dense --out "$OUT/eval-financebench"

# Structure in retrieval: flat text vs routing vs structured tables vs graph expansion (BM25; one index per
# parse setting, cached)
FB=benchmarks/configs/financebench
$DOCRAG eval "financebench:$D/financebench" --build --no-dense --config $FB/flat.toml --config $FB/flat-route.toml \
    --config $FB/structured.toml --config $FB/graph.toml --out "$OUT/eval-financebench-structure"
PR=benchmarks/configs/prospectus
$DOCRAG eval "prospectus:$D/prospectus_qa_zh/dev.yaml" --build --no-dense --config $PR/flat.toml \
    --config $PR/structured.toml --config $PR/graph.toml --out "$OUT/eval-prospectus-structure"
