"""The interface every LLM backend implements, and the backends ``generate.llm`` names: ``openai:MODEL`` (any
OpenAI-compatible server; base URL from config) or ``transformers:PATH`` (a local Hugging Face model directory;
needs the ``[llm]`` extra), ``transformers:PATH+lora:ADAPTER`` with a LoRA adapter on it (``docrag adapt
generator``; needs the ``[adapt]`` extra). ``extractive`` means no LLM.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from docrag.config import Config, Decoding
from docrag.models.options import api_key
from docrag.models.registry import build, register

OnToken = Callable[[str], None]
CHAT_OVERHEAD = 24  # role markers and separators a chat template adds around two messages
Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": ...}


@dataclass
class Generation:
    """What a backend returns for one prompt.

    ``usage``: prompt_tokens, completion_tokens and, where known, cached_tokens (prompt tokens whose
    KV cache was reused). ``timings`` in seconds: first_token (time to first token) and generate.
    """

    text: str
    finish_reason: str = "stop"  # "stop" | "length"
    usage: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


class LLM:
    """A chat model. ``messages[0]`` is the system message: the stable prefix of every prompt, which
    backends cache (the local backend keeps its KV cache; servers do their own prefix caching)."""

    name: str = ""
    context_window: int = 0  # tokens the model accepts, prompt + answer

    def count_tokens(self, text: str) -> int:
        raise NotImplementedError

    def count_prompt_tokens(self, messages: list[Message]) -> int:
        """Tokens of the whole prompt; backends that can render their chat template count it exactly."""
        return sum(self.count_tokens(m["content"]) for m in messages) + CHAT_OVERHEAD

    def generate(self, messages: list[Message], decoding: Decoding, on_token: OnToken | None = None) -> Generation:
        raise NotImplementedError


@register("LLM", "extractive")
def _extractive(target: str, config: Config) -> None:
    return None  # the answer quotes the passages: no model


@register("LLM", "openai", "MODEL")
def _openai(target: str, config: Config) -> LLM:
    from docrag.models.openai_chat import OpenAIChatLLM

    g = config.generate
    return OpenAIChatLLM(target, base_url=g.base_url, api_key=api_key(config), timeout=g.timeout,
                         max_retries=g.max_retries, context_window=g.context_window, tokenizer=g.tokenizer)


@register("LLM", "transformers", "PATH")
def _transformers(target: str, config: Config) -> LLM:
    from docrag.models.local_llm import TransformersLLM, split_adapter

    g = config.generate
    path, adapter = split_adapter(target)
    return TransformersLLM(path, adapter=adapter, merge_adapter=g.merge_adapter, prefix_cache=g.prefix_cache,
                           context_window=g.context_window, options=config.models)


def make_llm(spec: str, config: Config) -> LLM | None:
    """The LLM ``spec`` (``generate.llm``'s forms) names, built with ``config``; None for ``extractive``. Heavy
    imports (httpx, torch) happen only here."""
    return build("LLM", spec, config)
