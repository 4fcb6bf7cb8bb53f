"""Parse files into Documents: ``parse(path) -> Document``; parsers are picked by file extension."""

from docrag.parse import docx, html, markdown, pdf, text  # noqa: F401  (register the parsers)
from docrag.parse.base import PARSERS, Parser, parse, supported

FILE_TYPES = tuple(sorted({parser.file_type for parser in PARSERS.values()}))  # what search filters may name

__all__ = ["FILE_TYPES", "PARSERS", "Parser", "parse", "supported"]
