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

# Structure in retrieval, as a ladder (each configuration adds one thing): flat text, routing, structured tables,
# section headings, glossary, graph expansion; and 1,000-character chunks (BM25; one index per parse/chunk
# setting, cached)
FB=benchmarks/configs/financebench
$DOCRAG eval "financebench:$D/financebench" --build --no-dense --config $FB/flat.toml --config $FB/flat-route.toml \
    --config $FB/structured.toml --config $FB/headings.toml --config $FB/glossary.toml --config $FB/graph.toml \
    --config $FB/chunk1000.toml --out "$OUT/eval-financebench-structure"
# Hybrid on a FinanceBench subset: the 13 PDFs with the most questions per page (490 pages, 35 questions);
# dense embedding of all 52 PDFs (~19M characters) would take hours on 2 cores
SUB="$BENCH/financebench-subset"
mkdir -p "$SUB/pdfs"
ln -sf "$(realpath $D/financebench/financebench_open_source.jsonl)" "$SUB/"
for f in ULTABEAUTY_2023Q4_EARNINGS FOOTLOCKER_2022_8K_dated-2022-05-20 MGMRESORTS_2022Q4_EARNINGS \
         PEPSICO_2023_8K_dated-2023-05-05 AMCOR_2023Q4_EARNINGS PEPSICO_2023Q1_EARNINGS \
         JOHNSON_JOHNSON_2023_8K_dated-2023-08-30 AMCOR_2022_8K_dated-2022-07-01 BESTBUY_2024Q2_10Q \
         JOHNSON_JOHNSON_2022Q4_EARNINGS Pfizer_2023Q2_10Q BESTBUY_2023_10K BOEING_2022_10K; do
    ln -sf "$(realpath $D/financebench/pdfs/$f.pdf)" "$SUB/pdfs/"
done
FS=benchmarks/configs/financebench-subset
$DOCRAG eval "financebench:$SUB" --build --config $FS/bm25.toml --config $FS/dense.toml --config $FS/hybrid.toml \
    --out "$OUT/eval-financebench-subset-hybrid"
# The FinanceBench floor: BM25 over each page's bare text, next to the configurations above
.venv/bin/python -m benchmarks.financebench_page_floor "$OUT/eval-financebench-structure/report.json"
PR=benchmarks/configs/prospectus
$DOCRAG eval "prospectus:$D/prospectus_qa_zh/dev.yaml" --build --no-dense --config $PR/flat.toml \
    --config $PR/structured.toml --config $PR/headings.toml --config $PR/glossary.toml --config $PR/graph.toml \
    --out "$OUT/eval-prospectus-structure"
# Chunking strategies compared on prospectus_qa_zh (semantic embeds every sentence while chunking: the slow one)
CH=benchmarks/configs/chunking
$DOCRAG eval "prospectus:$D/prospectus_qa_zh/dev.yaml" --build --no-dense --config $CH/recursive.toml \
    --config $CH/fixed.toml --config $CH/sentence_window.toml --config $CH/parent_child.toml \
    --config $CH/semantic.toml --out "$OUT/eval-prospectus-chunking"
