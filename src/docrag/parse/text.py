from __future__ import annotations

from pathlib import Path

from docrag.parse.base import Parser, decode, register
from docrag.parse.normalize import normalize, paragraphs
from docrag.types import Block, Document


@register
class TextParser(Parser):
    extensions = (".txt", ".text")
    file_type = "txt"

    def parse(self, path: Path) -> Document:
        text = normalize(decode(path, path.read_bytes()))
        return self.document(path, [Block(p) for p in paragraphs(text)])
