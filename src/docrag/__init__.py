"""docrag: Chinese-first bilingual retrieval-augmented question answering over your own documents."""

import os
import time

STARTED = time.perf_counter()  # `docrag ask --timings` reports the start-up (imports) a CLI call pays each time
__version__ = "0.1.0"

# before anything loads ONNX Runtime (OCR): its telemetry otherwise resolves a Microsoft host and writes a device
# id under ~/.cache/Microsoft; disable_telemetry_events() comes too late to stop either
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from docrag.api import Index  # noqa: E402
from docrag.client import Client  # noqa: E402
from docrag.config import Config  # noqa: E402
from docrag.errors import BackendError, ConfigError, DocragError, IndexStateError, ParseError, QueryError  # noqa: E402
from docrag.types import Answer, Block, Chunk, Citation, Document, Hit  # noqa: E402

__all__ = ["Answer", "BackendError", "Block", "Chunk", "Citation", "Client", "Config", "ConfigError", "DocragError",
           "Document",
           "Hit", "Index", "IndexStateError", "ParseError", "QueryError", "__version__"]
