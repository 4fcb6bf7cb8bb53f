"""`docrag adapt qa` and `docrag adapt embedder` run as a user runs them (subprocesses), end to end on the bundled
sample with tiny random models: pairs, fine-tuning, the manifest record, re-embedding, and searching with the new
model."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from tiny_encoders import build_tiny_bi_encoder

pytest.importorskip("torch")
pytest.importorskip("sentence_transformers")


def docrag(*args):
    return subprocess.run([sys.executable, "-m", "docrag.cli", *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def root(tmp_path_factory, sample_dir):
    root = tmp_path_factory.mktemp("adapt-cli")
    shutil.copytree(sample_dir, root / "docs")
    tiny = build_tiny_bi_encoder(root / "tiny", "mean", prompts={"query": "query: ", "passage": "passage: "})
    r = docrag("ingest", root / "docs", "--index", root / "ix", "--set", f"index.embedder=sentence-transformers:{tiny}")
    assert r.returncode == 0, r.stderr
    return root


def test_qa_then_embedder_then_search_with_the_new_model(root):
    pairs = root / "pairs.jsonl"
    r = docrag("adapt", "qa", "--index", root / "ix", "--out", pairs, "-q")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in pairs.read_text(encoding="utf-8").splitlines()]
    assert f"{pairs}: {len(lines)} pairs" in r.stdout
    assert "candidates -> kept: cloze" in r.stderr and "dev" in r.stderr
    assert {p["kind"] for p in lines} == {"cloze", "table", "heading"}

    model = root / "model"
    tiny = f"sentence-transformers:{root / 'tiny'}"
    r = docrag("adapt", "embedder", "--pairs", pairs, "--index", root / "ix", "--out", model, "--base", tiny,
               "--set", f"index.embedder={tiny}", "--batch-size", "8", "--reembed", "-q")
    assert r.returncode == 0, r.stderr
    assert "epoch 0: (the base) dev_recall@10" in r.stderr and "epoch 1: loss" in r.stderr
    assert "re-embedded" in r.stderr and f"index.embedder=sentence-transformers:{model}" in r.stdout
    manifest = json.loads((root / "ix" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["embedder"]["name"] == f"sentence-transformers:{model}"
    assert manifest["adapt"]["embedder"]["model"] == f"sentence-transformers:{model}"
    assert manifest["adapt"]["embedder"]["train_pairs"] == sum(p["split"] == "train" for p in lines)

    r = docrag("search", "龙井茶", "--index", root / "ix", "--mode", "dense", "--json",
               "--set", f"index.embedder=sentence-transformers:{model}")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)
    r = docrag("search", "龙井茶", "--index", root / "ix", "--mode", "dense", "--set", f"index.embedder={tiny}")
    assert r.returncode == 1 and "embedded with sentence-transformers" in r.stderr  # the old model's vectors are gone

    r = docrag("adapt", "embedder", "--index", root / "ix", "--out", model, "--reembed", "-q")  # re-embedding only
    assert r.returncode == 0, r.stderr
    assert "trained already" in r.stderr and "re-embedded 0 chunks" in r.stderr  # all done the first time


def test_qa_with_an_llm_server(root):
    from fake_openai import FakeOpenAI

    with FakeOpenAI("qwen-test") as server:
        server.answer = lambda messages: "Q: 这段资料讲了什么茶？\nA: 龙井\nQ: What is BM25?\nA: an invented answer xyz"
        r = docrag("adapt", "qa", "--index", root / "ix", "--out", root / "llm.jsonl", "--llm", "openai:qwen-test",
                   "--llm-base-url", server.base_url, "-q")
    assert r.returncode == 0, r.stderr
    assert "unsupported" in r.stderr
    kept = [json.loads(line) for line in (root / "llm.jsonl").read_text(encoding="utf-8").splitlines()]
    assert kept and all(p["kind"] == "llm" and p["answer"] == "龙井" for p in kept)


def test_missing_pairs_are_one_line(root):
    r = docrag("adapt", "embedder", "--pairs", root / "none.jsonl", "--index", root / "ix", "--out", root / "m")
    assert r.returncode == 1 and "no such pairs file" in r.stderr
    r = docrag("adapt", "embedder", "--index", root / "ix", "--out", root / "m")
    assert r.returncode == 2 and "--pairs" in r.stderr
