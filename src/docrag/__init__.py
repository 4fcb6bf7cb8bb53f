"""docrag: Chinese-first bilingual retrieval-augmented question answering over your own documents."""

__version__ = "0.1.0"

from docrag.api import Index  # noqa: E402
from docrag.config import Config  # noqa: E402
from docrag.errors import ConfigError, DocragError, IndexStateError, ParseError, QueryError  # noqa: E402
from docrag.types import Answer, Block, Chunk, Citation, Document, Hit  # noqa: E402

__all__ = ["Answer", "Block", "Chunk", "Citation", "Config", "ConfigError", "DocragError", "Document", "Hit",
           "Index", "IndexStateError", "ParseError", "QueryError", "__version__"]
