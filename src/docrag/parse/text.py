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
        blocks = self.blocks(path)
        for p in paragraphs(normalize(decode(path, path.read_bytes()))):
            blocks.append(Block(p))
        return self.document(path, blocks)
