"""Generator fine-tuning speed (LoRA vs a full fine-tune) and answering with a merged vs an unmerged adapter, on a
small Llama with RANDOM weights (built here, no download): speed and mechanics only, never quality.

Pairs: the CMRC2018 trial questions with their answers and paragraphs, real Chinese question-answer pairs
standing in for `docrag adapt qa` output; the prompts are docrag's own (`ExampleBuilder`: the answerer's
prompt, the source paragraph among others, the cited answer as target). Baselines measured in the same run:
training steps/s of a full fine-tune, and generation by the base model. Configurations alternate across rounds.

    python benchmarks/adapt_generator.py [--hidden 256] [--layers 4] [--steps 8] [--rounds 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time

from common import ROOT, WORK, cmrc, save, table

sys.path.insert(0, str(ROOT / "tests"))
from tiny_llm import build_tiny_llm, record_tokens

TRAIN_CONFIGS = {  # name -> GeneratorOptions fields
    "full fine-tune": {"full": True},
    "LoRA r=8 q,v (auto)": {"rank": 8},
    "LoRA r=8 all linear": {"rank": 8, "target_modules": "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj"},
}


def pairs_from_cmrc(limit: int):
    from docrag.adapt.generator import Pair

    paragraphs = [p for article in cmrc()["data"] for p in article["paragraphs"] if p["qas"]]
    pairs = [Pair(question=q["question"], answer=q["answers"][0]["text"], chunk_id=p["id"],
                  document=f"cmrc/{p['id']}.txt", context=p["context"])
             for p in paragraphs for q in p["qas"][:2]]
    return paragraphs, pairs[:limit]


def time_training(model_dir, examples, options, steps: int) -> dict:
    """Seconds per step (median, first step excluded: warm-up) and the parameter count."""
    from docrag.adapt.generator import add_lora, count_parameters, fit, linear_layers
    from docrag.models.local_llm import TransformersLLM

    llm = TransformersLLM(model_dir, prefix_cache=False)
    if options.full:
        model, count = llm.model, count_parameters(llm.model, None, len(linear_layers(llm.model)))
    else:
        model, count, _ = add_lora(llm.model, options)
    stamps = [time.perf_counter()]
    losses = fit(model, examples[: steps * options.batch_size], options, llm.pad_id, random.Random(0),
                 progress=lambda stage, done, total: stamps.append(time.perf_counter()))
    step_s = [b - a for a, b in zip(stamps[1:], stamps[2:])]
    return {"step_s": statistics.median(step_s), "trainable": count.trainable, "total": count.total,
            "formula": count.formula, "loss_first": losses[0], "loss_last": losses[-1]}


def time_answers(llms: dict, prompts: list, decoding, rounds: int) -> dict:
    recorded = {name: record_tokens(llm) for name, llm in llms.items()}
    for llm in llms.values():  # warm-up, and each backend's system-prompt KV cache
        llm.generate(prompts[0], decoding)
    seconds: dict[str, list[float]] = {name: [] for name in llms}
    names = list(llms)
    for turn in range(rounds):
        for i, messages in enumerate(prompts[1:]):
            for name in names if (turn + i) % 2 == 0 else names[::-1]:
                seconds[name].append(llms[name].generate(messages, decoding).timings["generate"])
    base = recorded[names[0]]
    return {name: {"generate_s": statistics.median(seconds[name]),
                   "same_tokens_as_unmerged": recorded[name] == recorded["adapter unmerged"],
                   "same_tokens_as_base": recorded[name] == base} for name in names}


def main() -> None:
    import torch

    from docrag.adapt.generator import ChunkSource, ExampleBuilder, GeneratorOptions, add_lora, build_examples, fit
    from docrag.config import Decoding
    from docrag.models.local_llm import TransformersLLM

    ap = argparse.ArgumentParser()
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--steps", type=int, default=8, help="training steps timed per configuration and round")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--max-length", type=int, default=1024)
    ap.add_argument("--questions", type=int, default=8, help="answers timed per round")
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads; 0: torch's default")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    paragraphs, pairs = pairs_from_cmrc(args.steps * args.batch_size * 3)  # some are skipped: too long
    corpus = [p["context"] for p in paragraphs] + [q["question"] for p in paragraphs for q in p["qas"]]
    model_dir = build_tiny_llm(WORK / f"tiny-llm-h{args.hidden}-l{args.layers}", hidden=args.hidden,
                               layers=args.layers, heads=args.hidden // 64, vocab_size=8000, max_positions=4096,
                               corpus=corpus)
    llm = TransformersLLM(model_dir, prefix_cache=False)
    llm.context_window = args.max_length
    builder = ExampleBuilder(llm, 3, random.Random(0))
    examples, skipped = build_examples(pairs, builder, ChunkSource())
    train = examples["train"]
    tokens = statistics.median(len(e.prompt_ids) + len(e.target_ids) for e in train)
    print(f"{len(train)} examples (median {tokens:.0f} tokens), skipped {dict(skipped)}", file=sys.stderr)

    runs: dict[str, list[dict]] = {name: [] for name in TRAIN_CONFIGS}
    for turn in range(args.rounds):
        order = list(TRAIN_CONFIGS) if turn % 2 == 0 else list(TRAIN_CONFIGS)[::-1]
        for name in order:
            print(f"training: {name}, round {turn + 1}", file=sys.stderr)
            options = GeneratorOptions(batch_size=args.batch_size, max_length=args.max_length, epochs=1,
                                       **TRAIN_CONFIGS[name])
            runs[name].append(time_training(model_dir, train, options, args.steps))
    training = {name: {**r[0], "step_s": statistics.median(x["step_s"] for x in r)} for name, r in runs.items()}
    full_step = training["full fine-tune"]["step_s"]
    rows = []
    for name, r in training.items():
        r["speedup_vs_full"] = full_step / r["step_s"]
        r["adamw_state_mib"] = 2 * r["trainable"] * 4 / 2**20  # two float32 moments per trainable parameter
        rows.append([name, f"{r['trainable']:,}", f"{r['trainable'] / r['total']:.2%}",
                     "n/a" if r["formula"] is None else ("yes" if r["formula"] == r["trainable"] else "NO"),
                     f"{r['step_s'] * 1000:.0f}", f"{r['speedup_vs_full']:.2f}x", f"{r['adamw_state_mib']:.1f}"])
    print(f"Llama {args.hidden}x{args.layers}, random weights, {torch.get_num_threads()} threads; batch "
          f"{args.batch_size}, median {tokens:.0f} tokens/example; median step over {args.steps} steps x "
          f"{args.rounds} rounds")
    print(table(rows, ["configuration", "trainable", "share", "= r(d+k)", "ms/step", "vs full", "AdamW state MiB"]))

    # answering: the base model vs the adapter merged and unmerged (an adapter trained a few steps: nonzero B)
    options = GeneratorOptions(batch_size=args.batch_size, max_length=args.max_length, epochs=1, lr=1e-2)
    tuned = TransformersLLM(model_dir, prefix_cache=False)
    model, _, _ = add_lora(tuned.model, options)
    fit(model, train[: args.steps * args.batch_size], options, tuned.pad_id, random.Random(0))
    adapter = WORK / f"adapter-h{args.hidden}-l{args.layers}"
    model.save_pretrained(adapter)
    llms = {"base": TransformersLLM(model_dir),
            "adapter merged": TransformersLLM(model_dir, adapter=adapter, merge_adapter=True),
            "adapter unmerged": TransformersLLM(model_dir, adapter=adapter, merge_adapter=False)}
    prompts = [e.messages for e in examples["train"][: args.questions + 1]]
    answering = time_answers(llms, prompts, Decoding(strategy="greedy", max_new_tokens=32), args.rounds)
    base_s = answering["base"]["generate_s"]
    rows = []
    for name, r in answering.items():
        r["vs_base"] = r["generate_s"] / base_s
        rows.append([name, f"{r['generate_s'] * 1000:.0f}", f"{r['vs_base']:.2f}x",
                     "yes" if r["same_tokens_as_unmerged"] else "no"])
    print(f"answering: greedy, 32 new tokens, median over {args.questions} prompts x {args.rounds} rounds")
    print(table(rows, ["model", "ms/answer", "time vs base", "same tokens as unmerged"]))
    print("saved", save("adapt_generator", {
        "model": {"hidden": args.hidden, "layers": args.layers, "vocab": 8000, "weights": "random (speed only)",
                  "dtype": "float32", "device": "cpu", "threads": torch.get_num_threads()},
        "batch_size": args.batch_size, "max_length": args.max_length, "median_tokens": tokens,
        "steps": args.steps, "rounds": args.rounds, "training": training, "answering": answering}))


if __name__ == "__main__":
    main()
