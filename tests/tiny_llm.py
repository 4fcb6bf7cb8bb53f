"""A tiny chat model with random weights, built in-process: no downloads, well under a second.

``build_tiny_llm(dir)`` writes a directory that ``AutoModelForCausalLM`` / ``AutoTokenizer`` load like
any Hugging Face model: a Llama config and weights (fixed seed) plus a byte-level BPE tokenizer trained
here on mixed Chinese and English lines, with a ChatML chat template. Tests use the defaults; the
benchmarks pass bigger sizes and their own text to train the tokenizer on.
"""

from __future__ import annotations

import random
from pathlib import Path

IM_START, IM_END, PAD = "<|im_start|>", "<|im_end|>", "<|endoftext|>"
CHAT_TEMPLATE = (
    "{% for message in messages %}" + IM_START + "{{ message['role'] }}\n{{ message['content'] }}" + IM_END + "\n"
    "{% endfor %}{% if add_generation_prompt %}" + IM_START + "assistant\n{% endif %}"
)

ENGLISH = ("the report says revenue grew in the third quarter while costs fell because the company closed two "
           "factories and moved its data centre answer only from the context and cite the source number if the "
           "context does not contain the answer say so net profit margin was twelve percent in 2023")
CHINESE = ["公司", "收入", "增长", "第三季度", "成本", "下降", "根据", "上下文", "回答", "问题", "来源", "编号", "如果",
           "没有", "答案", "请说明", "净利润", "百分之十二", "数据中心", "工厂", "关闭", "年度报告", "风险", "因素"]


def training_lines(count: int = 400, seed: int = 0) -> list[str]:
    """Mixed-language lines (English phrases, Chinese words, digits, punctuation) for the BPE trainer."""
    rng = random.Random(seed)
    english = ENGLISH.split()
    lines = []
    for _ in range(count):
        words = [rng.choice(english) if rng.random() < 0.5 else rng.choice(CHINESE) for _ in range(rng.randint(4, 14))]
        lines.append(" ".join(words) + rng.choice([".", "。", "?", "？", f" [{rng.randint(1, 9)}]", "\n"]))
    return lines


def build_tokenizer(vocab_size: int = 800, corpus: list[str] | None = None):
    """A byte-level BPE (like Qwen's and Llama 3's) trained on ``corpus`` (default: ``training_lines()``):
    any text encodes, Chinese included."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[PAD, IM_START, IM_END],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(corpus or training_lines(), trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token=IM_END, pad_token=PAD,
                                   chat_template=CHAT_TEMPLATE, clean_up_tokenization_spaces=False,
                                   model_max_length=1 << 30)


def build_tiny_llm(path: str | Path, hidden: int = 64, layers: int = 2, heads: int = 4, vocab_size: int = 800,
                   max_positions: int = 2048, init_scale: float = 0.1, seed: int = 0,
                   corpus: list[str] | None = None) -> Path:
    """Write a loadable Llama model directory with random weights; returns ``path``.

    ``init_scale`` is larger than Llama's 0.02 so that the next-token distribution is peaked: greedy and
    beam choices then have margins far above float32 noise, so outputs compare exactly.
    """
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    path = Path(path)
    tokenizer = build_tokenizer(vocab_size, corpus)
    eos, pad = tokenizer.convert_tokens_to_ids([IM_END, PAD])
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2,
                         num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=max(1, heads // 2),
                         max_position_embeddings=max_positions, initializer_range=init_scale, tie_word_embeddings=False,
                         bos_token_id=None, eos_token_id=eos, pad_token_id=pad)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).eval()
    model.generation_config = GenerationConfig(eos_token_id=eos, pad_token_id=pad)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def record_tokens(llm, patch=setattr) -> list[list[int]]:
    """Make a TransformersLLM keep the generated token ids of each later generate() call, so outputs are
    compared exactly rather than via decoded text. ``patch``: e.g. pytest's ``monkeypatch.setattr``."""
    calls = []
    generate = llm.model.generate

    def recording(inputs, **kwargs):
        output = generate(inputs, **kwargs)
        calls.append(output[0, inputs.shape[1]:].tolist())
        return output

    patch(llm.model, "generate", recording)
    return calls
