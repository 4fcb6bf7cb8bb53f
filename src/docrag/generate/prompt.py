"""Prompt templates (TOML files, versioned, Chinese and English) and the messages built from them.

The system message (role and rules) is identical for every question, so it is a stable prefix that
the local backend's KV cache and servers' prefix caches (vLLM, DeepSeek) reuse; the user message
holds the numbered passages, then the question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from docrag.config import read_toml
from docrag.errors import ConfigError
from docrag.models.llm import Message
from docrag.types import Hit

TEMPLATES = Path(__file__).parent / "templates"
T = TypeVar("T", bound=Any)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class VersionedTemplate:
    """A prompt template file's identity (what a run records) and its system prompt; shapes add their texts."""
    name: str
    version: int
    system: str

    @property
    def signature(self) -> str:
        return f"{self.name}/{self.version}"


@dataclass(frozen=True)
class Template(VersionedTemplate):
    passage: str  # {n} {source} {text}
    user: str  # {passages} {question}
    omitted: str  # {count}
    source_page: str  # {file} {page}
    source: str  # {file}


@dataclass
class Passage:
    """A retrieved chunk as given to the model: its number in the prompt and the (maybe trimmed) text."""

    number: int
    hit: Hit
    text: str


def detect_language(text: str) -> str:
    """'zh' when the text has Chinese characters (docrag is Chinese-first), else 'en'."""
    return "zh" if len(_CJK.findall(text)) >= 2 else "en"


@lru_cache(maxsize=16)
def load_template(language: str, path: str | None = None) -> Template:
    """The bundled template for a language, or the TOML file at ``path``."""
    return read_template(Path(path) if path else TEMPLATES / f"answer.{language}.toml", Template)


def read_template(file: Path, shape: type[T]) -> T:
    """A TOML prompt template as the dataclass ``shape``: every field of it required, other keys ignored."""
    data = read_toml(file, "prompt template")
    names = [f.name for f in fields(shape)]
    missing = [n for n in names if n not in data]
    if missing:
        raise ConfigError(f"{file}: prompt template lacks {', '.join(missing)}")
    return shape(**{n: data[n] for n in names})


def source_label(template: Template, hit: Hit) -> str:
    file = Path(hit.doc_path).name
    return template.source_page.format(file=file, page=hit.page) if hit.page else template.source.format(file=file)


def passage_text(hit: Hit) -> str:
    """What the model reads for a hit: a table as Markdown (under its caption), a sentence with its window
    (sentence_window chunking), else the chunk text."""
    if hit.kind == "table" and hit.extra.get("markdown"):
        caption = hit.extra.get("caption") or ""
        return f"{caption}\n{hit.extra['markdown']}".strip()
    return hit.extra.get("window") or hit.text


def render_passage(template: Template, number: int, hit: Hit, text: str) -> str:
    return template.passage.format(n=number, source=source_label(template, hit), text=text)


def build_messages(template: Template, question: str, passages: list[Passage], omitted: int = 0) -> list[Message]:
    blocks = [render_passage(template, p.number, p.hit, p.text) for p in passages]
    if omitted:
        blocks.append(template.omitted.format(count=omitted))
    user = template.user.format(passages="\n\n".join(blocks), question=question.strip())
    return [{"role": "system", "content": template.system}, {"role": "user", "content": user}]
