"""Local sentence-transformers embedders (``sentence-transformers:PATH_OR_ID``, the ``[llm]`` extra).

The model is a local directory or a Hugging Face hub id that is already in the local cache; nothing is
downloaded at run time. Pooling follows the model: a sentence-transformers directory carries its own
Pooling module; a plain Hugging Face directory gets CLS pooling for the BGE family and mean pooling
otherwise. Vectors are always L2-normalised. Queries get an instruction (see ``pick_query_instruction``),
passages never do; they get only a passage prompt that the model itself declares (e5's "passage: ").
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np

from docrag.config import ModelOptions
from docrag.errors import BackendError
from docrag.models.embed import Embedder
from docrag.models.options import torch_placement

INSTALL_HINT = "install the [llm] extra: pip install torch==2.13.0 sentence-transformers"
BGE_QUERY_INSTRUCTIONS = {
    "zh": "为这个句子生成表示以用于检索相关文章：",
    "en": "Represent this sentence for searching relevant passages: ",
}
SAMPLE_BYTES = 1 << 20  # of a large weight file, the fingerprint reads its size and first and last MiB


def import_sentence_transformers(spec: str):
    """The sentence_transformers module, or a BackendError saying how to install it."""
    try:
        import sentence_transformers
        import torch  # noqa: F401  (sentence-transformers imports without torch only to fail later)
    except ImportError as e:
        raise BackendError(f"{spec}: needs torch and sentence-transformers ({e}); {INSTALL_HINT}") from None
    return sentence_transformers


def local_model_dir(spec: str, name_or_path: str) -> Path:
    """The directory holding the model: ``name_or_path`` itself, or its snapshot in the Hugging Face cache.

    Hub ids without an organisation are also looked up under ``sentence-transformers/``, as
    sentence-transformers itself does.
    """
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    if name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1:  # a path, not a hub id
        raise BackendError(f"{spec}: no such model directory: {path}")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    repo_ids = [name_or_path] if "/" in name_or_path else [name_or_path, f"sentence-transformers/{name_or_path}"]
    for repo_id in repo_ids:
        try:
            # SENTENCE_TRANSFORMERS_HOME is where sentence-transformers would have cached it; else the HF cache
            return Path(snapshot_download(repo_id, local_files_only=True,
                                          cache_dir=os.getenv("SENTENCE_TRANSFORMERS_HOME")))
        except (LocalEntryNotFoundError, HFValidationError):
            continue
    raise BackendError(f"{spec}: no such directory, and not in the local Hugging Face cache; docrag does not "
                       f"download models at run time: download it first (`hf download {name_or_path}`) "
                       f"or give the model's directory")


def model_fingerprint(directory: Path) -> str:
    """A short hash of the files that define the model (weights, configuration, tokenizer), cheap even for
    gigabyte weights, and independent of file times so a copied model keeps its fingerprint."""
    files = [p for p in directory.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix != ".md"]
    modules = directory / "modules.json"
    if modules.is_file():  # module folders such as 1_Pooling/ hold configuration too
        for module in json.loads(modules.read_text(encoding="utf-8")):
            sub = directory / module.get("path", "")
            if module.get("path") and sub.is_dir():
                files += [p for p in sub.iterdir() if p.is_file()]
    digest = hashlib.sha256()
    for p in sorted(files, key=lambda p: p.relative_to(directory).as_posix()):
        size = p.stat().st_size
        digest.update(f"{p.relative_to(directory).as_posix()}:{size}\n".encode())
        with open(p, "rb") as fh:
            if size <= 2 * SAMPLE_BYTES:
                digest.update(fh.read())
            else:
                digest.update(fh.read(SAMPLE_BYTES))
                fh.seek(-SAMPLE_BYTES, os.SEEK_END)
                digest.update(fh.read())
    return digest.hexdigest()[:12]


def pick_query_instruction(name_or_path: str, explicit: str | None, model_prompts: dict[str, str]) -> str:
    """The text put before each query: ``explicit`` if given (``""`` turns it off); else the model's own
    sentence-transformers ``query`` prompt; else BGE v1/v1.5's documented instruction (Chinese for ``-zh``
    models, English for ``-en``); else none (bge-m3 and other models need none)."""
    if explicit is not None:
        return explicit
    if model_prompts.get("query"):
        return model_prompts["query"]
    name = Path(name_or_path).name.lower()
    bge = re.search(r"bge-(?:small|base|large)-(en|zh)", name)
    if bge and "noinstruct" not in name:  # bge-large-zh-noinstruct was trained without the instruction
        return BGE_QUERY_INSTRUCTIONS[bge.group(1)]
    return ""


def pick_passage_prompt(model_prompts: dict[str, str]) -> str:
    """The prompt put before passages: the one the model declares, under the names sentence-transformers'
    ``encode_document`` looks for (e5's "passage: "); else none."""
    return model_prompts.get("document") or model_prompts.get("passage") or model_prompts.get("corpus") or ""


def describe_model(name: str, fingerprint: str, pooling: str, query_instruction: str, passage_prompt: str) -> str:
    """A sentence-transformers model's version as an index's manifest records it: what makes its vectors."""
    passage = f", passage prompt {passage_prompt!r}" if passage_prompt else ""
    return f"{name} sha256:{fingerprint} ({pooling} pooling, query instruction {query_instruction!r}{passage})"


class SentenceTransformerEmbedder(Embedder):
    def __init__(self, name_or_path: str, *, query_instruction: str | None = None, batch_size: int = 32,
                 options: ModelOptions = ModelOptions()):
        self.name = f"sentence-transformers:{name_or_path}"
        self.batch_size = batch_size
        self._model_name = Path(name_or_path).name
        st = import_sentence_transformers(self.name)
        directory = local_model_dir(self.name, name_or_path)
        device, dtype = torch_placement(options)
        try:
            if (directory / "modules.json").is_file():
                self._model = st.SentenceTransformer(str(directory), device=device, local_files_only=True,
                                                     model_kwargs={"dtype": dtype})
            else:
                self._model = st.SentenceTransformer(modules=_plain_modules(directory, name_or_path, dtype),
                                                     device=device, local_files_only=True)
        except Exception as e:  # noqa: BLE001 - torch, transformers and safetensors raise their own types
            raise BackendError(f"{self.name}: cannot load the model from {directory}: {e}") from None
        self.dim = int(self._model.get_embedding_dimension())
        self.query_instruction = pick_query_instruction(name_or_path, query_instruction, self._model.prompts)
        # a model that declares a passage prompt (e5-style "passage: ") gets it, as its card says; the names
        # are the ones sentence-transformers' encode_document looks for
        prompts = self._model.prompts
        self.passage_prompt = pick_passage_prompt(prompts)
        self.pooling = self._pooling_mode()
        self._fingerprint = model_fingerprint(directory)

    @property
    def model(self):
        """The sentence_transformers model itself (``docrag adapt embedder`` trains it in place)."""
        return self._model

    @property
    def version(self) -> str:
        return describe_model(self._model_name, self._fingerprint, self.pooling, self.query_instruction,
                              self.passage_prompt)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.empty((0, self.dim), np.float32)
        return self._encode(self._model.encode_document, list(texts), self.passage_prompt)

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode(self._model.encode_query, [text], self.query_instruction)[0]

    def _encode(self, encode, texts: list[str], prompt: str) -> np.ndarray:
        # encode_query / encode_document route asymmetric (Router) models; the prompt is always given, as
        # "" rather than None, so sentence-transformers never adds a prompt of its own choosing
        vectors = encode(texts, prompt=prompt, batch_size=self.batch_size, normalize_embeddings=True,
                         convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _pooling_mode(self) -> str:
        from sentence_transformers.sentence_transformer.modules import Pooling

        mode = next((m.pooling_mode for m in self._model if isinstance(m, Pooling)), "none")
        return mode if isinstance(mode, str) else "+".join(mode)  # several modes are concatenated


def _plain_modules(directory: Path, name_or_path: str, dtype) -> list:
    """Transformer + Pooling + Normalize for a Hugging Face directory without sentence-transformers config:
    BGE models are trained with the [CLS] vector, most others with the mean of the token vectors."""
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    local = {"local_files_only": True}
    transformer = Transformer(str(directory), model_kwargs={**local, "dtype": dtype}, processor_kwargs=local,
                              config_kwargs=local)
    pooling = "cls" if "bge" in Path(name_or_path).name.lower() else "mean"
    return [transformer, Pooling(transformer.get_embedding_dimension(), pooling), Normalize()]
