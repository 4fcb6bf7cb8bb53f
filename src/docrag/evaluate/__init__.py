"""Evaluate stage: data-set loaders, metrics, a runner over configurations, and reports.

    from docrag.evaluate import evaluate
    data = evaluate("squad:cmrc2018_trial.json", build=True, out="report/")
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from docrag.config import Config
from docrag.errors import DocragError
from docrag.evaluate.runner import build_index, evaluate_variant, variants
from docrag.types import Progress

DEFAULT_CACHE = Path("~/.cache/docrag/eval").expanduser()


def evaluate(dataset: str, index: str | Path | None = None, build: bool = False, corpus: Sequence[str | Path] = (),
             configs: Sequence[str | Path] = (), modes: list[str] | None = None, ks: Sequence[int] = (1, 5, 10),
             out: str | Path | None = "report", limit: int | None = None, dense: bool = True,
             cache: Path = DEFAULT_CACHE, progress: Progress | None = None, overrides: dict | None = None) -> dict:
    """Evaluate configurations on a data set; writes report.md/json/plots to ``out`` and returns the data.

    ``index``: an existing index; or ``build=True``: index the data set's corpus (plus ``corpus``)
    into a cache keyed by content hash. ``configs``: TOML files, one configuration each; without
    them, one configuration per search mode in ``modes`` (default: bm25, dense, hybrid; bm25 only
    when the index has no vectors). ``overrides``: settings (as ``Config.load`` takes them) applied to every
    configuration, e.g. ``{"index.backend": "milvus"}``.
    """
    from docrag.evaluate.datasets import load_dataset
    from docrag.evaluate.report import write_report

    try:
        ds = load_dataset(dataset, cache / "datasets")
    except ValueError as e:
        raise DocragError(str(e)) from None
    overrides = overrides or {}
    base = Config.load(**overrides)
    existing = Path(index) if index is not None and not build else None  # --build wins over --index
    if existing is None and not build:
        raise DocragError("give --index of an existing index, or --build to index the data set's corpus")
    if modes is None:
        if existing is None:
            has_vectors = dense
        else:
            import docrag

            with docrag.Index.open(existing, config=base) as idx:
                has_vectors = idx.store.counts()["embedded"] > 0
        modes = ["bm25", "dense", "hybrid"] if has_vectors else ["bm25"]
    ks = sorted(set(ks))
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    results, indexes, builds = [], [], []
    for variant in variants(list(configs), modes, base, overrides):
        # with --build each configuration gets the index its parse and chunk settings make (cached by
        # content hash, so configurations that differ only in retrieval or answering share one)
        if existing is None:
            path, info = build_index(ds, list(ds.corpus) + [Path(c) for c in corpus], variant.config,
                                     cache / "indexes", dense, progress)
            builds.append(info)
        else:
            path = existing
        indexes.append(str(path))
        results.append({**evaluate_variant(ds, path, variant, ks, progress, limit), "index": str(path)})
        if results[-1]["interrupted"]:  # Ctrl-C: report what is finished, run nothing more
            break
    index = ", ".join(dict.fromkeys(indexes))
    build_info = {"seconds": sum(b["seconds"] for b in builds), "cached": all(b["cached"] for b in builds)} \
        if builds else None
    data = {"dataset": ds.name, "spec": dataset, "gold_level": ds.gold_level, "n_questions": len(ds.questions),
            "notes": ds.notes, "index": str(index), "build": build_info, "ks": ks, "started": started,
            "results": results}
    if out is not None:
        data["files"] = [str(p) for p in write_report(data, Path(out))]
    return data


__all__ = ["evaluate"]
