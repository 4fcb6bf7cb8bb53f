"""Errors a user sees: each names what went wrong and where, in one line."""


class DocragError(Exception):
    """Base class: the CLI prints these as one line and exits non-zero."""


class ConfigError(DocragError):
    pass


class IndexStateError(DocragError):
    """A missing, locked or incompatible index."""


class ParseError(DocragError):
    """A file that cannot be read; ``str()`` is '<path>: <reason>'."""

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class QueryError(DocragError):
    pass


class BackendError(DocragError):
    """A model backend (LLM server, local model, reranker, embedding endpoint) failed; the message
    names the backend and the cause (e.g. '401 unauthorized: check OPENAI_API_KEY')."""
