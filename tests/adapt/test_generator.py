"""Generator fine-tuning (``docrag adapt generator``) and LoRA adapters in the local backend, on tiny random-weight
Llamas the tests build: the training prompt is the answerer's, the loss falls, LoRA adds r·(d+k) parameters per
d×k weight, adapters round-trip and merge exactly enough, the prefix cache never crosses adapter states, and bad
options are named. No quality claims: the weights are random."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import replace

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

import torch
from test_cli import docrag
from test_cli_failures import one_line_error
from tiny_llm import build_tiny_llm, record_tokens

from docrag import Index
from docrag.adapt.generator import (
    NO_ANSWER,
    ChunkSource,
    ExampleBuilder,
    GeneratorOptions,
    add_lora,
    build_examples,
    cite,
    fit,
    lora_targets,
    train_generator,
)
from docrag.adapt.pairs import Pair, write_pairs
from docrag.config import Config, Decoding
from docrag.errors import BackendError, ConfigError, DocragError
from docrag.generate.llm import LLMAnswerer
from docrag.models.llm import make_llm
from docrag.models.local_llm import ADAPTER_MANIFEST, TransformersLLM
from docrag.text.analyzer import Analyzer

pytestmark = pytest.mark.usefixtures("torch_one_thread")
HIDDEN, LAYERS, HEADS = 64, 2, 4  # tiny_llm's defaults: 2 key-value heads of 16 dimensions
GREEDY = Decoding(strategy="greedy", max_new_tokens=8)


def llm_pairs(count: int = 12, dev: int = 2) -> list[Pair]:
    """Pairs as `docrag adapt qa --llm` writes them: the whole chunk as the positive, the answer copied from it."""
    pairs = []
    for i in range(count):
        zh = i % 2 == 1
        pairs.append(Pair(
            query=f"第{i}号工厂的净利润是多少？" if zh else f"what did item {i} revenue do?",
            positive=(f"年度报告：第{i}号工厂净利润为百分之{i}，成本下降。" if zh
                      else f"the report says item {i} revenue grew {i * 3} percent while costs fell."),
            chunk_id=100 + i, doc=f"/docs/report{i % 3}.pdf", page=i % 4 + 1, kind="llm",
            split="dev" if i >= count - dev else "train",
            answer=f"第{i}号工厂净利润为百分之{i}。" if zh else f"item {i} revenue grew {i * 3} percent.",
            prompt="questions.zh/1" if zh else "questions.en/1"))
    return pairs


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return build_tiny_llm(tmp_path_factory.mktemp("base"))


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    path = tmp_path_factory.mktemp("pairs") / "pairs.jsonl"
    write_pairs(path, llm_pairs())
    return path


@pytest.fixture(scope="module")
def trained(base, pairs, tmp_path_factory):
    """An adapter trained through the library entry point, and its report."""
    out = tmp_path_factory.mktemp("trained") / "adapter"
    report = train_generator(pairs, f"transformers:{base}", out, GeneratorOptions(epochs=5, lr=5e-3, seed=1))
    return out, report


def examples_for(llm, pairs, passages=3, seed=0):
    llm.context_window = 1024
    return build_examples(pairs, ExampleBuilder(llm, passages, random.Random(seed)), ChunkSource())


def logits(model, ids):
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids], device=model.device)).logits[0].cpu()


def test_the_training_prompt_is_the_answerers_prompt(base, monkeypatch):
    llm = TransformersLLM(base, prefix_cache=False)
    rows = llm_pairs()
    examples, skipped = examples_for(llm, rows, passages=3)
    assert not skipped and len(examples["train"]) == 10 and len(examples["dev"]) == 2
    seen = []

    def generate(inputs, **kwargs):  # what the backend feeds the model at answer time
        seen.append(inputs[0].tolist())
        return inputs

    monkeypatch.setattr(llm.model, "generate", generate)
    for row, example in list(zip(rows, examples["train"]))[:4]:  # one English, one Chinese, ...
        hits = [p.hit for p in example.passages]
        assert len(hits) == 3
        LLMAnswerer(llm, Analyzer(), Decoding()).answer(row.query, hits)
        assert seen[-1] == example.prompt_ids
        # the target cites the source passage's number, then ends the turn
        assert example.passages[example.cited - 1].text == row.positive
        assert llm.decode(example.target_ids[:-1]) == cite(row.answer, example.cited)
        assert example.target_ids[-1] in llm.eos_ids


def test_the_source_passage_takes_every_position(base):
    llm = TransformersLLM(base, prefix_cache=False)
    rows = llm_pairs(24, dev=0)
    examples, _ = examples_for(llm, rows, passages=3)
    assert {e.cited for e in examples["train"]} == {1, 2, 3}
    for e in examples["train"]:  # the others are different chunks
        assert len({(p.hit.doc_path, p.hit.chunk_id) for p in e.passages}) == 3


def test_pairs_without_a_positive_read_their_chunk_from_the_index(base, sample_dir, tmp_path):
    idx = Index.open(tmp_path / "idx", create=True, dense=False)
    idx.add([sample_dir])
    ids, texts = idx.store.chunk_texts()
    pairs = [Pair("这段讲了什么？", "", cid, "", None, "llm", answer=text[:12])
             for cid, text in list(zip(ids.tolist(), texts))[:4]]
    pairs.append(Pair("q", "", 999999, "", None, "llm", answer="a"))
    llm = TransformersLLM(base, prefix_cache=False)
    llm.context_window = 2048
    examples, skipped = build_examples(pairs, ExampleBuilder(llm, 2, random.Random(0)), ChunkSource(idx))
    assert skipped == {"chunk not in the index": 1} and len(examples["train"]) == 4
    for pair, example in zip(pairs, examples["train"]):
        source = example.passages[example.cited - 1].hit
        assert source.chunk_id == pair.chunk_id and source.doc_path.startswith(str(sample_dir))
    idx.close()


def test_adapt_qa_pairs_train_on_those_with_an_answer(base, tmp_path):
    """A pairs file as `docrag adapt qa` writes it: the LLM pair becomes an example, the cloze pseudo-query (a
    sentence as the query, its chunk without it as the positive, no answer) is skipped and counted."""
    path = tmp_path / "pairs.jsonl"
    answered = llm_pairs(1, dev=0)[0]
    cloze = Pair("the report says costs fell sharply in the second half of the year.",
                 "Revenue grew five percent. Margins held steady across the segments and regions.",
                 chunk_id=7, doc="/docs/report1.pdf", page=2, kind="cloze")
    write_pairs(path, [answered, cloze])
    report = train_generator(path, f"transformers:{base}", tmp_path / "out", GeneratorOptions(epochs=1))
    assert report.examples == {"train": 1} and report.skipped == {NO_ANSWER: 1}
    write_pairs(path, [cloze])
    with pytest.raises(ConfigError, match="none of its 1 pairs has an answer.*docrag adapt qa --llm"):
        train_generator(path, f"transformers:{base}", tmp_path / "out")


def test_cite_puts_the_number_before_the_full_stop():
    assert cite("Revenue grew 5%.", 2) == "Revenue grew 5% [2]."
    assert cite("收入增长了百分之五。", 3) == "收入增长了百分之五[3]。"
    assert cite("twelve percent", 1) == "twelve percent [1]"


def test_the_loss_falls_and_the_adapter_is_saved_with_its_manifest(trained, base, pairs):
    out, report = trained
    losses = report.losses
    assert len(losses) == 5 * 3  # 10 training examples in batches of 4, 5 epochs
    assert sum(losses[-3:]) / 3 < 0.9 * sum(losses[:3]) / 3
    assert report.dev_loss is not None and report.dev_loss[1] < report.dev_loss[0]
    assert {"adapter_config.json", "adapter_model.safetensors", ADAPTER_MANIFEST} <= {p.name for p in out.iterdir()}
    manifest = json.loads((out / ADAPTER_MANIFEST).read_text(encoding="utf-8"))
    assert manifest["pairs_sha256"] == hashlib.sha256(pairs.read_bytes()).hexdigest()
    assert manifest["kind"] == "lora" and manifest["options"]["rank"] == 8 and manifest["target_modules"]
    assert manifest["examples"] == {"train": 10, "dev": 2}


@pytest.mark.parametrize("rank,modules", [(8, "auto"), (4, "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj")])
def test_lora_adds_r_times_d_plus_k_parameters_per_weight(base, rank, modules):
    llm = TransformersLLM(base, prefix_cache=False)
    model, count, targets = add_lora(llm.model, GeneratorOptions(rank=rank, target_modules=modules))
    kv = HIDDEN // HEADS * max(1, HEADS // 2)  # key/value projection width
    sizes = {"q_proj": (HIDDEN, HIDDEN), "k_proj": (HIDDEN, kv), "v_proj": (HIDDEN, kv), "o_proj": (HIDDEN, HIDDEN),
             "gate_proj": (HIDDEN, 2 * HIDDEN), "up_proj": (HIDDEN, 2 * HIDDEN), "down_proj": (2 * HIDDEN, HIDDEN)}
    expected = LAYERS * sum(rank * (d + k) for name, (d, k) in sizes.items() if name in targets)
    assert count.trainable == count.formula == expected
    assert count.layers == LAYERS * len(targets)
    assert count.total == sum(p.numel() for p in model.parameters())
    assert targets == (["q_proj", "v_proj"] if modules == "auto" else modules.split(","))


def test_adapter_round_trips_and_merging_keeps_the_logits(base, tmp_path):
    llm = TransformersLLM(base, prefix_cache=False)
    examples, _ = examples_for(llm, llm_pairs(8, dev=0))
    plain = logits(llm.model, examples["train"][0].prompt_ids)
    model, _, _ = add_lora(llm.model, GeneratorOptions())
    fit(model, examples["train"], GeneratorOptions(epochs=2, lr=1e-2), llm.pad_id, random.Random(0))
    ids = examples["train"][1].prompt_ids + examples["train"][1].target_ids
    tuned = logits(model, ids)
    model.save_pretrained(tmp_path / "adapter")

    loaded = TransformersLLM(base, adapter=tmp_path / "adapter", merge_adapter=False)
    unmerged = logits(loaded.model, ids)
    assert torch.allclose(unmerged, tuned, atol=1e-5)  # the saved adapter is the trained one
    assert not torch.allclose(unmerged, logits(TransformersLLM(base).model, ids), atol=1e-3)  # and it does something
    loaded.set_adapter("merged")
    assert torch.allclose(logits(loaded.model, ids), unmerged, atol=1e-4)
    loaded.set_adapter("off")
    assert torch.allclose(logits(loaded.model, examples["train"][0].prompt_ids), plain, atol=1e-5)
    loaded.set_adapter("unmerged")  # unmerging subtracts what merging added: equal up to rounding
    assert torch.allclose(logits(loaded.model, ids), unmerged, atol=1e-5)


def chat(question):
    return [{"role": "system", "content": "Answer only from the numbered passages and cite them like [1]. " * 4},
            {"role": "user", "content": question}]


def test_the_adapter_loads_through_the_registry_and_generates(trained, base):
    out, _ = trained
    llm = make_llm(f"transformers:{base}+lora:{out}", Config())
    assert isinstance(llm, TransformersLLM) and llm.name == f"transformers:{base}+lora:{out}"
    assert llm.adapter_state == "merged"  # generate.merge_adapter defaults to true
    generation = llm.generate(chat("what did revenue do?"), GREEDY)
    assert generation.usage["completion_tokens"] > 0
    unmerged = make_llm(f"transformers:{base}+lora:{out}", Config().updated(generate__merge_adapter=False))
    assert unmerged.adapter_state == "unmerged"
    assert unmerged.generate(chat("what did revenue do?"), GREEDY).text == generation.text


def test_the_prefix_cache_is_keyed_by_the_adapter(trained, base, monkeypatch):
    out, _ = trained
    llm = TransformersLLM(base, adapter=out, merge_adapter=False)
    plain = TransformersLLM(base)
    tokens, reference = record_tokens(llm, monkeypatch.setattr), record_tokens(plain, monkeypatch.setattr)
    question = chat("第3号工厂的净利润是多少？")
    assert llm.generate(question, GREEDY).usage["cached_tokens"] == 0
    assert llm.generate(question, GREEDY).usage["cached_tokens"] > 0
    llm.set_adapter("off")  # the base weights: the adapter's cached prefix must not be used
    assert llm.generate(question, GREEDY).usage["cached_tokens"] == 0
    plain.generate(question, GREEDY)
    assert tokens[-1] == reference[-1]
    llm.set_adapter("merged")
    assert llm.generate(question, GREEDY).usage["cached_tokens"] == 0
    llm.set_adapter("unmerged")  # its own prefix is still cached
    assert llm.generate(question, GREEDY).usage["cached_tokens"] > 0
    assert tokens[-1] == tokens[0]
    assert {key[0] for key in llm.prefixes} == {"unmerged", "off", "merged"}


def test_an_adapter_for_other_base_weights_is_refused(trained, tmp_path):
    out, _ = trained
    other = build_tiny_llm(tmp_path / "other", seed=1)
    with pytest.raises(BackendError, match="trained on other base weights"):
        TransformersLLM(other, adapter=out)
    with pytest.raises(BackendError, match="not a LoRA adapter.*use transformers:"):
        TransformersLLM(other, adapter=other)
    with pytest.raises(BackendError, match="no such adapter directory"):
        TransformersLLM(other, adapter=tmp_path / "nowhere")
    with pytest.raises(BackendError, match="no LoRA adapter loaded"):
        TransformersLLM(other).set_adapter("merged")


def test_full_fine_tune_trains_every_weight_and_saves_a_model(base, pairs, tmp_path):
    out = tmp_path / "full"
    report = train_generator(pairs, f"transformers:{base}", out, GeneratorOptions(full=True, epochs=1))
    assert report.parameters.trainable == report.parameters.total and report.parameters.formula is None
    assert report.kind == "full"
    tuned = TransformersLLM(out)  # a whole model directory, tokenizer included
    assert tuned.generate(chat("what did revenue do?"), GREEDY).usage["completion_tokens"] > 0
    again = train_generator(pairs, f"transformers:{base}", out, GeneratorOptions(full=True, epochs=1, seed=3))
    assert again.losses != report.losses  # the directory it wrote is replaced
    assert json.loads((out / ADAPTER_MANIFEST).read_text(encoding="utf-8"))["options"]["seed"] == 3


@pytest.mark.parametrize("options,named", [
    (GeneratorOptions(rank=0), "--rank 0"),
    (GeneratorOptions(dropout=1.0), "--dropout 1.0"),
    (GeneratorOptions(epochs=0), "--epochs 0"),
    (GeneratorOptions(max_length=10), "--max-length 10"),
])
def test_bad_options_are_named(options, named, pairs, base, tmp_path):
    with pytest.raises(ConfigError, match=named):
        train_generator(pairs, f"transformers:{base}", tmp_path / "out", options)


def test_unknown_target_modules_are_named(base):
    llm = TransformersLLM(base, prefix_cache=False)
    with pytest.raises(ConfigError, match="no linear layer named nope.*it has down_proj"):
        lora_targets(llm.model, "q_proj,nope")


def test_bad_inputs_are_named(base, pairs, tmp_path):
    with pytest.raises(DocragError, match="missing.jsonl: no such pairs file"):
        train_generator(tmp_path / "missing.jsonl", f"transformers:{base}", tmp_path / "out")
    broken = tmp_path / "broken.jsonl"
    write_pairs(broken, llm_pairs(1))
    broken.write_text(broken.read_text(encoding="utf-8") + "{not json\n", encoding="utf-8")
    with pytest.raises(DocragError, match="broken.jsonl:2: not a question-answer pair"):
        train_generator(broken, f"transformers:{base}", tmp_path / "out")
    with pytest.raises(ConfigError, match="--base 'openai:gpt': fine-tuning needs a local model"):
        train_generator(pairs, "openai:gpt", tmp_path / "out")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="--out .*taken: exists and is not an adapter docrag wrote"):
        train_generator(pairs, f"transformers:{base}", tmp_path / "taken")
    with pytest.raises(ConfigError, match="missing.toml: prompt template not found"):
        train_generator(pairs, f"transformers:{base}", tmp_path / "out", template=str(tmp_path / "missing.toml"))
    no_positive = tmp_path / "no_positive.jsonl"
    write_pairs(no_positive, [replace(p, positive="") for p in llm_pairs(2)])
    with pytest.raises(ConfigError, match="has no positive text: give --index"):
        train_generator(no_positive, f"transformers:{base}", tmp_path / "out")


def test_cli_end_to_end(base, pairs, tmp_path):
    out = tmp_path / "adapter"
    r = docrag("adapt", "generator", "--pairs", pairs, "--base", f"transformers:{base}", "--out", out,
               "--epochs", "1", "--rank", "4", "--target-modules", "q_proj,o_proj", "--quiet")
    assert r.returncode == 0, r.stderr
    formula = LAYERS * 4 * (HIDDEN + HIDDEN) * 2
    assert f"trainable parameters: {formula:,} of" in r.stdout
    assert f"= r·(d+k) summed over {2 * LAYERS} weights (q_proj, o_proj): {formula:,}" in r.stdout
    assert "examples: 10 train, 2 dev" in r.stdout and f"+lora:{out}" in r.stdout
    assert (out / "adapter_model.safetensors").is_file()
    again = docrag("adapt", "generator", "--pairs", pairs, "--base", f"transformers:{base}", "--out", out,
                   "--epochs", "1", "--rank", "0")
    one_line_error(again, 1, "--rank 0: must be at least 1")
    assert (out / "adapter_model.safetensors").is_file()  # a refused run changes nothing
    missing = docrag("adapt", "generator", "--pairs", tmp_path / "none.jsonl", "--base", f"transformers:{base}",
                     "--out", out)
    one_line_error(missing, 1, "none.jsonl: no such pairs file")
