"""Embedder fine-tuning on a tiny random sentence-transformers model built here: the loss falls, batches never hold
one chunk twice, the best epoch is kept, an interrupted run resumes from its last finished epoch. No quality claims
from random weights."""

from __future__ import annotations

import json
import random

import pytest
from tiny_encoders import build_tiny_bi_encoder

from docrag.adapt.embedder import (
    RECORD,
    EmbedderTrainer,
    Example,
    TrainSettings,
    base_model_dir,
    no_duplicate_batches,
    work_dir,
)
from docrag.errors import DocragError

pytest.importorskip("torch")
pytest.importorskip("sentence_transformers")

WORDS = ("tea green black oolong search lexical ranking function passage query relevant document model retrieval "
         "sentence represent").split()


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return build_tiny_bi_encoder(tmp_path_factory.mktemp("base") / "tiny", "mean",
                                 prompts={"query": "query: ", "passage": "passage: "})


def examples(n: int, seed: int, first_id: int = 0) -> list[Example]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        words = rng.sample(WORDS, 5)
        out.append(Example(" ".join(words[:2]), " ".join(words), " ".join(rng.sample(WORDS, 5)), first_id + i))
    return out


SETTINGS = TrainSettings(epochs=3, batch_size=8, learning_rate=1e-3, patience=3, k=3)


def test_the_loss_falls_and_the_model_is_written_with_its_record(base, tmp_path):
    record = EmbedderTrainer(base, tmp_path / "out", SETTINGS).train(examples(32, 0), examples(8, 1, 100))
    losses = [h["loss"] for h in record["history"][1:]]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert (tmp_path / "out" / "modules.json").is_file() and not work_dir(tmp_path / "out").exists()
    assert json.loads((tmp_path / "out" / RECORD).read_text())["best_epoch"] == record["best_epoch"]
    assert record["history"][0]["loss"] is None  # epoch 0: the base, scored before training
    # trained on texts cut to SETTINGS.max_seq_length (256), saved to embed as the base does
    from docrag.models.st_embed import SentenceTransformerEmbedder

    length = SentenceTransformerEmbedder(str(base)).model.max_seq_length
    assert length != SETTINGS.max_seq_length
    assert SentenceTransformerEmbedder(str(tmp_path / "out")).model.max_seq_length == length


def test_an_interrupted_run_resumes_after_its_last_finished_epoch(base, tmp_path):
    train, dev = examples(16, 0), examples(8, 1, 100)
    settings = TrainSettings(epochs=2, batch_size=8, learning_rate=1e-3, patience=2, k=3)
    steps = len(no_duplicate_batches(train, 8, random.Random(0)))

    def stop_in_epoch_two(stage, done, total):
        if done > steps:
            raise KeyboardInterrupt

    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        EmbedderTrainer(base, out, settings, stop_in_epoch_two).train(train, dev)
    assert not out.exists() and (work_dir(out) / "last" / "trainer.pt").is_file()
    with pytest.raises(DocragError, match="--resume"):
        EmbedderTrainer(base, out, settings).train(train, dev)
    seen = []
    record = EmbedderTrainer(base, out, settings, lambda *a: seen.append(a[1])).train(train, dev, resume=True)
    assert [h["epoch"] for h in record["history"]] == [0, 1, 2]
    assert seen[0] == steps + 1  # epoch 1 was not trained again
    assert out.is_dir() and not work_dir(out).exists()
    with pytest.raises(DocragError, match="exists"):
        EmbedderTrainer(base, out, settings).train(train, dev)


def test_resume_without_a_checkpoint_is_refused(base, tmp_path):
    with pytest.raises(DocragError, match="no checkpoint"):
        EmbedderTrainer(base, tmp_path / "out").train(examples(4, 0), [], resume=True)


def test_batches_never_hold_one_chunk_twice():
    many = examples(40, 0) + [Example(f"q{i}", "p", None, chunk_id=7) for i in range(5)]
    batches = no_duplicate_batches(many, 8, random.Random(0))
    assert sorted(e.query for b in batches for e in b) == sorted(e.query for e in many)
    assert all(len({e.chunk_id for e in b}) == len(b) <= 8 for b in batches)


def test_base_names(base):
    assert base_model_dir(f"sentence-transformers:{base}") == base
    with pytest.raises(DocragError, match="--base"):
        base_model_dir("bert-base")
