"""A local Hugging Face causal LM (``transformers:PATH``) that prefills the system prompt only once.

Every prompt starts with the same system message (instructions, output format), often longer than
the question and its context together. Its KV cache is computed once and kept (a small LRU keyed by
its token ids); each question then starts generation from a copy of it, so only the question-specific
suffix is prefilled. Copies, because generation appends to the cache it is given. For beam search
the copy is repeated once per beam, since ``generate`` expands the inputs but not a cache passed in.

``transformers:PATH+lora:ADAPTER`` adds a LoRA adapter (``docrag adapt generator`` writes one; needs peft, the
``[adapt]`` extra), merged into the weights by default (``generate.merge_adapter``): then it costs nothing per
token. ``set_adapter`` merges, unmerges or switches it off at run time; the cached prefixes are keyed by that
state, so a KV cache computed with other weights is never reused.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections import OrderedDict
from pathlib import Path

from docrag.config import ModelOptions
from docrag.errors import BackendError
from docrag.models.llm import LLM, Decoding, Generation, Message, OnToken
from docrag.models.options import torch_placement
from docrag.models.st_embed import model_fingerprint

PREFIX_CACHES = 4  # system prompts kept: one per prompt template/language in practice
SANE_MAX_LENGTH = 10_000_000  # tokenizers without a limit report a huge sentinel for model_max_length
LORA = "+lora:"  # joins a model directory and its adapter in a spec: transformers:PATH+lora:ADAPTER
ADAPTER_MANIFEST = "docrag-adapter.json"  # what `docrag adapt generator` trained, from which base model
ADAPTER_STATES = ("merged", "unmerged", "off")


def split_adapter(target: str) -> tuple[str, str | None]:
    """'PATH+lora:ADAPTER' -> ('PATH', 'ADAPTER'); 'PATH' -> ('PATH', None)."""
    path, sep, adapter = target.partition(LORA)
    return path, adapter if sep else None


def common_prefix_length(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def cut_at_stop(text: str, stops: tuple[str, ...]) -> str:
    """The text before the first stop string."""
    found = [i for i in (text.find(s) for s in stops) if i >= 0]
    return text[: min(found)] if found else text


def held_back(text: str, stops: tuple[str, ...]) -> int:
    """How many trailing characters could still become a stop string, so must not be streamed yet."""
    return max((k for s in stops for k in range(1, len(s)) if text.endswith(s[:k])), default=0)


class _TokenStream:
    """Receives each new token from ``generate`` (a transformers streamer): timestamps the first and,
    when ``on_token`` is given, passes on text once it is final: whole characters only, and never what
    may turn out to be the start of a stop string."""

    def __init__(self, decode, stops: tuple[str, ...], on_token: OnToken | None):
        self.decode, self.stops, self.on_token = decode, stops, on_token
        self.prompt_seen = False
        self.first_token_at: float | None = None
        self.ids: list[int] = []
        self.sent = 0  # characters passed to on_token

    def put(self, value) -> None:
        if not self.prompt_seen:  # generate pushes the prompt first
            self.prompt_seen = True
            return
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()
        if self.on_token is None:
            return
        self.ids.extend(value.flatten().tolist())
        text = cut_at_stop(self.decode(self.ids), self.stops)
        if not text.endswith("\ufffd"):  # else a character is split across tokens: wait for the rest
            self.send(text[: len(text) - held_back(text, self.stops)])

    def end(self) -> None:
        """Called by ``generate``; the remainder is sent by ``send(final text)``."""

    def send(self, upto: str) -> None:
        if self.on_token is not None and len(upto) > self.sent:
            self.on_token(upto[self.sent:])
            self.sent = len(upto)


class TransformersLLM(LLM):
    def __init__(self, path: str | Path, *, adapter: str | Path | None = None, merge_adapter: bool = True,
                 prefix_cache: bool = True, context_window: int | None = None,
                 options: ModelOptions = ModelOptions()):
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as e:
            raise BackendError("transformers backend needs the [llm] extra: "
                               "pip install torch==2.13.0 transformers") from e
        self.name = f"transformers:{path}" + (f"{LORA}{adapter}" if adapter else "")
        if not (Path(path) / "config.json").is_file():
            raise BackendError(f"{self.name}: not a Hugging Face model directory (no config.json in {path})")
        device, dtype = torch_placement(options)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            self.model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, local_files_only=True)
        except (OSError, ValueError, KeyError) as e:
            raise BackendError(f"{self.name}: cannot load the model: {e}") from e
        # the adapter's layers go into self.model in place; self.lora (the peft wrapper) merges and switches them
        self.lora = self.load_adapter(Path(adapter), Path(path)) if adapter else None
        self.adapter_state = "off"  # also without an adapter: the base weights
        self.model.to(device).eval()
        self.torch = torch
        self.prefix_cache = prefix_cache
        # (adapter state, prefix token ids) -> its KV cache
        self.prefixes: OrderedDict[tuple[str, tuple[int, ...]], object] = OrderedDict()
        self.lock = threading.Lock()  # one generation at a time: the LRU and the model's caches are shared state
        if self.lora is not None:
            self.set_adapter("merged" if merge_adapter else "unmerged")
        if context_window is None:
            context_window = self.model.config.get_text_config().max_position_embeddings
            if self.tokenizer.model_max_length < SANE_MAX_LENGTH:
                context_window = min(context_window, self.tokenizer.model_max_length)
        self.context_window = context_window
        eos = self.model.generation_config.eos_token_id
        if eos is None:
            eos = self.tokenizer.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos]) - {None}
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else min(self.eos_ids, default=None)

    def load_adapter(self, adapter: Path, base: Path):
        """The peft model around ``self.model`` with the LoRA adapter at ``adapter``; refused when docrag trained
        it on other base weights (its manifest records their fingerprint)."""
        try:
            from peft import PeftModel
        except ImportError as e:
            raise BackendError(f"{self.name}: a LoRA adapter needs the [adapt] extra: pip install peft") from e
        if not adapter.is_dir():
            raise BackendError(f"{self.name}: no such adapter directory: {adapter}")
        if not (adapter / "adapter_config.json").is_file():
            whole = (adapter / "config.json").is_file()
            hint = f"; it holds a whole model: use transformers:{adapter}" if whole else ""
            raise BackendError(f"{self.name}: {adapter} is not a LoRA adapter (no adapter_config.json){hint}")
        manifest = adapter / ADAPTER_MANIFEST
        if manifest.is_file():
            try:
                trained_on = json.loads(manifest.read_text(encoding="utf-8")).get("base_fingerprint")
            except ValueError as e:
                raise BackendError(f"{self.name}: {manifest} is not JSON: {e}") from e
            if trained_on and trained_on != model_fingerprint(base):
                raise BackendError(f"{self.name}: the adapter was trained on other base weights than {base} "
                                   f"(fingerprint {trained_on} in {manifest})")
        try:
            return PeftModel.from_pretrained(self.model, adapter, is_trainable=False)
        except (OSError, ValueError, KeyError, RuntimeError) as e:
            raise BackendError(f"{self.name}: cannot load the adapter {adapter}: {e}") from e

    def set_adapter(self, state: str) -> None:
        """``merged`` into the weights (no cost per token), ``unmerged`` (beside them: the exact LoRA
        arithmetic, and the base weights untouched) or ``off`` (the base model answers)."""
        if self.lora is None:
            raise BackendError(f"{self.name}: no LoRA adapter loaded (use transformers:PATH{LORA}ADAPTER)")
        if state not in ADAPTER_STATES:
            raise BackendError(f"adapter state {state!r}: use {', '.join(ADAPTER_STATES)}")
        with self.lock:
            if self.adapter_state == "merged" and state != "merged":
                self.lora.unmerge_adapter()
            if state == "off":
                self.lora.disable_adapter_layers()
            elif self.adapter_state == "off":
                self.lora.enable_adapter_layers()
            if state == "merged" and self.adapter_state != "merged":
                self.lora.merge_adapter()
            self.adapter_state = state

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False).input_ids)

    def count_prompt_tokens(self, messages: list[Message]) -> int:
        return len(self.render(messages, add_generation_prompt=True))

    def render(self, messages: list[Message], add_generation_prompt: bool) -> list[int]:
        """Prompt token ids: the model's chat template, or a plain 'role: content' layout without one."""
        if self.tokenizer.chat_template:
            text = self.tokenizer.apply_chat_template(messages, tokenize=False,
                                                      add_generation_prompt=add_generation_prompt)
            return self.tokenizer(text, add_special_tokens=False).input_ids  # the template has its own BOS
        text = "".join(f"{m['role']}: {m['content']}\n\n" for m in messages)
        return self.tokenizer(text + ("assistant: " if add_generation_prompt else "")).input_ids

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)

    def prefix_length(self, messages: list[Message], prompt_ids: list[int]) -> int:
        """Tokens shared with the system-only rendering: compared as token ids, so a BPE merge across the
        system/user boundary only shortens the prefix. At least one token is left to prefill."""
        if not self.prefix_cache or len(messages) < 2 or messages[0]["role"] != "system":
            return 0
        return min(common_prefix_length(prompt_ids, self.render(messages[:1], False)), len(prompt_ids) - 1)

    def prefix_kv(self, prefix_ids: list[int]):
        """(the prefix's KV cache, whether it was cached). The cache returned must not be mutated."""
        key = (self.adapter_state, tuple(prefix_ids))  # KV computed with other weights is never reused
        if key in self.prefixes:
            self.prefixes.move_to_end(key)
            return self.prefixes[key], True
        inputs = self.torch.tensor([prefix_ids], device=self.model.device)
        kv = self.model.base_model(input_ids=inputs, use_cache=True).cache  # no LM head: only the KV is needed
        self.prefixes[key] = kv
        if len(self.prefixes) > PREFIX_CACHES:
            self.prefixes.popitem(last=False)
        return kv, False

    def generation_kwargs(self, decoding: Decoding, max_new_tokens: int) -> dict:
        kwargs = {"max_new_tokens": max_new_tokens, "pad_token_id": self.pad_id, "num_return_sequences": 1}
        if decoding.strategy == "greedy":
            kwargs.update(do_sample=False, num_beams=1)
        elif decoding.strategy == "beam":
            kwargs.update(do_sample=False, num_beams=decoding.num_beams, length_penalty=decoding.length_penalty,
                          early_stopping=True)
        else:
            kwargs.update(do_sample=True, num_beams=1, temperature=decoding.temperature, top_p=decoding.top_p,
                          top_k=decoding.top_k)
        if decoding.stop:
            kwargs.update(stop_strings=list(decoding.stop), tokenizer=self.tokenizer)
        return kwargs

    def generate(self, messages: list[Message], decoding: Decoding, on_token: OnToken | None = None) -> Generation:
        with self.lock:
            return self._generate(messages, decoding, on_token)

    def _generate(self, messages: list[Message], decoding: Decoding, on_token: OnToken | None) -> Generation:
        torch = self.torch
        started = time.perf_counter()
        prompt_ids = self.render(messages, True)
        room = self.context_window - len(prompt_ids)
        if room <= 0:
            raise BackendError(f"{self.name}: prompt of {len(prompt_ids)} tokens fills the context window "
                               f"of {self.context_window}")
        beams = decoding.num_beams if decoding.strategy == "beam" else 1
        stream = _TokenStream(self.decode, decoding.stop, on_token if beams == 1 else None)
        kwargs = self.generation_kwargs(decoding, min(decoding.max_new_tokens, room))
        if beams == 1:  # transformers cannot stream beam search
            kwargs["streamer"] = stream
        cached_tokens = 0
        seeded = decoding.strategy == "sample" and decoding.seed is not None
        with torch.inference_mode(), torch.random.fork_rng(devices=[], enabled=seeded):
            if prefix_len := self.prefix_length(messages, prompt_ids):
                kv, hit = self.prefix_kv(prompt_ids[:prefix_len])
                cached_tokens = prefix_len if hit else 0
                kwargs["cache"] = kv = copy.deepcopy(kv)
                if beams > 1:
                    kv.batch_repeat_interleave(beams)
            if seeded:
                torch.manual_seed(decoding.seed)
            inputs = torch.tensor([prompt_ids], device=self.model.device)
            output = self.model.generate(inputs, **kwargs)
        new_ids = output[0, len(prompt_ids):].tolist()
        ended = next((i for i, t in enumerate(new_ids) if t in self.eos_ids), None)
        if ended is not None:
            new_ids = new_ids[: ended + 1]
        else:  # beam hypotheses shorter than the longest are padded
            while new_ids and new_ids[-1] == self.pad_id:
                new_ids.pop()
        full_text = self.decode(new_ids)
        text = cut_at_stop(full_text, decoding.stop)
        stream.send(text)
        finished = time.perf_counter()
        if beams > 1 and on_token is not None and text:
            on_token(text)
        hit_length = ended is None and text == full_text and len(new_ids) >= kwargs["max_new_tokens"]
        first_token_at = stream.first_token_at or finished
        return Generation(
            text=text,
            finish_reason="length" if hit_length else "stop",
            usage={"prompt_tokens": len(prompt_ids), "completion_tokens": len(new_ids), "cached_tokens": cached_tokens},
            timings={"first_token": first_token_at - started, "generate": finished - started},
        )
