"""Time to first token with and without the local backend's prefix KV-cache reuse, same run, interleaved.

The model is a small Llama with RANDOM weights (built here, no download; its text is noise): only the
speed matters, and whether reuse changes any generated token (it must not). Its byte-level BPE is
trained on the CMRC2018 trial paragraphs, so Chinese token counts are realistic (~1.3 chars/token).
Prompts are docrag's own: build_messages with the zh template, one ~300-token CMRC paragraph as the
passage, then its question. Two system prompts: the bundled template as is, and the same template with
two worked examples appended (~700 tokens of instructions, as custom templates with few-shot
examples have). The baseline is the same backend with prefix_cache=False.

    python benchmarks/prefix_cache.py [--repeats 3] [--hidden 512] [--layers 6] [--threads N]

--threads 1 keeps the ratios meaningful on a machine other jobs are using (default: torch's choice).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys

from common import ROOT, WORK, cmrc, save, table

sys.path.insert(0, str(ROOT / "tests"))
from tiny_llm import build_tiny_llm, record_tokens

CONTEXT_CHARS = 400  # ~300 tokens of CMRC paragraph
EXAMPLES = 2  # paragraphs used as worked examples in the long system prompt (not asked)
QUESTIONS = 10


def long_system(template, examples: list[dict]) -> str:
    """The template's rules followed by worked examples: passage, question, cited answer."""
    shots = [f"示例 {i}：\n参考资料：\n[1] {p['id']}.txt\n{p['context'][:CONTEXT_CHARS]}\n\n"
             f"问题：{p['qas'][0]['question']}\n"
             f"回答：{p['qas'][0]['answers'][0]['text']} [1]" for i, p in enumerate(examples, 1)]
    return template.system + "\n\n" + "\n\n".join(shots)


def measure(llms: dict[bool, object], prompts: list[list[dict]], decoding, repeats: int) -> dict:
    """Median time to first token and total per setting; reuse first on even turns, last on odd ones."""
    recorded = {reuse: record_tokens(llm) for reuse, llm in llms.items()}
    for llm in llms.values():  # warm-up; also computes the system prompt's KV cache once, as at startup
        llm.generate(prompts[0], decoding)
    times = {reuse: {"first_token": [], "generate": []} for reuse in llms}
    usage = {reuse: [] for reuse in llms}
    for turn in range(repeats):
        for i, messages in enumerate(prompts[1:]):
            for reuse in (True, False) if (turn + i) % 2 == 0 else (False, True):
                generation = llms[reuse].generate(messages, decoding)
                for key in times[reuse]:
                    times[reuse][key].append(generation.timings[key])
                usage[reuse].append(generation.usage)
    return {
        "prompt_tokens": statistics.median(u["prompt_tokens"] for u in usage[True]),
        "cached_tokens": statistics.median(u["cached_tokens"] for u in usage[True]),
        "completion_tokens": statistics.median(u["completion_tokens"] for u in usage[True]),
        **{f"{key}_{'reuse' if reuse else 'no_reuse'}_s": statistics.median(values)
           for reuse in llms for key, values in times[reuse].items()},
        "tokens_identical": recorded[True] == recorded[False],
    }


def main() -> None:
    import torch

    from docrag.config import Decoding
    from docrag.generate.prompt import Passage, build_messages, load_template
    from docrag.models.local_llm import TransformersLLM
    from docrag.types import Hit

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads; 0: torch's default")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    paragraphs = [p for article in cmrc()["data"] for p in article["paragraphs"] if p["qas"]]
    corpus = [p["context"] for p in paragraphs] + [q["question"] for p in paragraphs for q in p["qas"]]
    model_dir = build_tiny_llm(WORK / f"tiny-llm-h{args.hidden}-l{args.layers}", hidden=args.hidden,
                               layers=args.layers, heads=args.hidden // 64, vocab_size=8000, max_positions=4096,
                               corpus=corpus)
    llms = {reuse: TransformersLLM(model_dir, prefix_cache=reuse) for reuse in (True, False)}
    template = load_template("zh")
    examples, asked = paragraphs[:EXAMPLES], paragraphs[EXAMPLES:EXAMPLES + QUESTIONS + 1]  # +1: warm-up
    decoding = Decoding(strategy="greedy", max_new_tokens=args.max_new_tokens)

    def prompts(system_template) -> list[list[dict]]:
        out = []
        for p in asked:
            text = p["context"][:CONTEXT_CHARS]
            hit = Hit(chunk_id=0, text=text, doc_path=f"cmrc/{p['id']}.txt", score=1.0)
            out.append(build_messages(system_template, p["qas"][0]["question"], [Passage(1, hit, text)]))
        return out

    scenarios = {"docrag answer.zh": template,
                 "answer.zh + 2 worked examples": dataclasses.replace(template, system=long_system(template, examples))}
    results = {}
    for name, system_template in scenarios.items():
        print(f"measuring {name} ...", file=sys.stderr)
        results[name] = measure(llms, prompts(system_template), decoding, args.repeats)

    rows = []
    for name, r in results.items():
        ttft_ratio = r["first_token_no_reuse_s"] / r["first_token_reuse_s"]
        total_ratio = r["generate_no_reuse_s"] / r["generate_reuse_s"]
        r.update(ttft_ratio=ttft_ratio, total_ratio=total_ratio)
        rows.append([name, r["prompt_tokens"], r["cached_tokens"], f"{r['first_token_no_reuse_s'] * 1000:.0f}",
                     f"{r['first_token_reuse_s'] * 1000:.0f}", f"{ttft_ratio:.2f}x",
                     f"{r['generate_no_reuse_s'] * 1000:.0f}", f"{r['generate_reuse_s'] * 1000:.0f}",
                     f"{total_ratio:.2f}x", "yes" if r["tokens_identical"] else "NO"])
    model = {"hidden": args.hidden, "layers": args.layers, "vocab": 8000, "weights": "random (speed only)",
             "dtype": "float32", "device": "cpu", "threads": torch.get_num_threads()}
    print(f"Llama {args.hidden}x{args.layers}, random weights, {model['threads']} threads; greedy, "
          f"{args.max_new_tokens} new tokens; "
          f"median over {QUESTIONS} questions x {args.repeats} repeats")
    print(table(rows, ["system prompt", "prompt tok", "cached tok", "TTFT no reuse ms", "TTFT reuse ms", "TTFT ratio",
                       "total no reuse ms", "total reuse ms", "total ratio", "same tokens"]))
    print("saved", save("prefix_cache", {"model": model, "decoding": "greedy", "max_new_tokens": args.max_new_tokens,
                                         "questions": QUESTIONS, "repeats": args.repeats, "results": results}))
    if not all(r["tokens_identical"] for r in results.values()):
        sys.exit("prefix reuse changed the generated tokens")


if __name__ == "__main__":
    main()
