"""The interface every LLM backend implements, and how a backend is named.

A backend is named by one string everywhere (config, CLI, API):
``openai:MODEL`` (any OpenAI-compatible server; base URL from config) or ``transformers:PATH``
(a local Hugging Face model directory; needs the ``[llm]`` extra). ``extractive`` means no LLM.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal

from docrag.errors import ConfigError

OnToken = Callable[[str], None]
CHAT_OVERHEAD = 24  # role markers and separators a chat template adds around two messages
Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": ...}


@dataclass(frozen=True)
class Decoding:
    """How tokens are chosen. ``seed`` makes sampling repeatable; ``stop`` strings end the answer
    (they are not included in it)."""

    strategy: Literal["greedy", "beam", "sample"] = "greedy"
    max_new_tokens: int = 256
    num_beams: int = 4
    length_penalty: float = 1.0
    temperature: float = 0.7
    top_p: float = 0.9
    top_k: int = 50
    seed: int | None = None
    stop: tuple[str, ...] = ()

    def __post_init__(self):
        if self.strategy not in ("greedy", "beam", "sample"):
            raise ConfigError(f"unknown decoding strategy {self.strategy!r}; use greedy, beam or sample")
        if self.max_new_tokens <= 0:
            raise ConfigError(f"max_new_tokens must be positive, got {self.max_new_tokens}")
        if self.strategy == "beam" and self.num_beams < 2:
            raise ConfigError(f"beam search needs num_beams >= 2, got {self.num_beams}")


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


BACKENDS = ("openai", "transformers")


def parse_spec(spec: str) -> tuple[str, str]:
    """'openai:qwen2.5-7b' -> ('openai', 'qwen2.5-7b'); errors name the accepted forms."""
    kind, sep, target = spec.partition(":")
    if not sep or kind not in BACKENDS or not target:
        raise ConfigError(f"LLM {spec!r}: expected extractive, openai:MODEL or transformers:PATH")
    return kind, target


def make_llm(spec: str, *, base_url: str | None = None, api_key: str | None = None, timeout: float = 60.0,
             max_retries: int = 3, context_window: int | None = None, tokenizer: str | None = None,
             prefix_cache: bool = True) -> LLM:
    """Build the backend a spec names. Heavy imports (httpx, torch) happen only here."""
    kind, target = parse_spec(spec)
    if kind == "openai":
        from docrag.generate.openai_chat import OpenAIChatLLM

        return OpenAIChatLLM(target, base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries,
                             context_window=context_window, tokenizer=tokenizer)
    from docrag.generate.local import TransformersLLM

    return TransformersLLM(target, prefix_cache=prefix_cache, context_window=context_window)
