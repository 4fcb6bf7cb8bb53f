"""Parse files into Documents: ``parse(path) -> Document``; parsers are picked by file extension."""

from docrag.parse import docx, html, markdown, pdf, text  # noqa: F401  (register the parsers)
from docrag.parse.base import PARSERS, Parser, parse, supported

__all__ = ["PARSERS", "Parser", "parse", "supported"]
