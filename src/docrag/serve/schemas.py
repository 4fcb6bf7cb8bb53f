"""Request bodies (validated: an unknown field is an error, never ignored) and the JSON shapes of hits, chunks
and references. Clients see documents by their name in the knowledge base, never the server's paths."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from docrag.config import Mode
from docrag.types import Answer, Citation, Filter, Hit


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateKB(_Body):
    name: str
    settings: dict[str, Any] = Field(default_factory=dict, description='configuration overrides, e.g. '
                                     '{"chunk.size": 300, "retrieve.mode": "bm25"}')


class UpdateKB(_Body):
    settings: dict[str, Any] = Field(description="overrides merged into the knowledge base's; null drops one")


class CreateKey(_Body):
    name: str
    admin: bool = False
    scopes: dict[str, str] = Field(default_factory=dict, description='{"KB": "read" | "write", "*": ...}')


class Filters(_Body):
    path_glob: str | None = Field(None, description="document names matching, e.g. '*.pdf' or '2023-*'")
    file_types: list[str] | None = Field(None, description="pdf, docx, md, html, txt")
    documents: list[str] | None = Field(None, description="only these documents (names in the knowledge base)")
    rerank: bool | None = Field(None, description="rerank with the knowledge base's reranker (default: its setting)")


class SearchRequest(Filters):
    query: str = Field(min_length=1)
    k: int = Field(5, ge=1, le=100)
    mode: Mode | None = None


class AskRequest(Filters):
    question: str = Field(min_length=1)
    history: list[str] = Field(default_factory=list, description="earlier questions of the conversation, oldest "
                               "first: a follow-up is made a standalone question from them before retrieval")
    k: int | None = Field(None, ge=1, le=50)
    mode: Mode | None = None
    llm: str | None = Field(None, description="extractive, or an LLM the server offers (GET /v1/models)")
    stream: bool = False
    decoding: dict[str, Any] | None = Field(None, description='e.g. {"strategy": "sample", "temperature": 0.3}')


def where(filters: Filters, files_dir: str) -> Filter:
    """The storage filter for a request: names and name globs become paths under the knowledge base's files."""
    glob = f"{files_dir}/{filters.path_glob}" if filters.path_glob else None
    docs = [f"{files_dir}/{name}" for name in filters.documents] if filters.documents is not None else None
    f = Filter.of(glob, filters.file_types, docs)
    return f if filters.documents is None or docs else Filter(doc_paths=("\0",))  # [] admits nothing


def positions(hit: Hit) -> list[dict]:
    """Where the passage is: a box (x0, top, x1, bottom in PDF points from the page's top left) per page, or the
    pages alone where the parser gave no boxes (non-PDF files have neither)."""
    boxes = hit.extra.get("boxes")
    if boxes:
        return [{"page": int(b[0]), "box": list(b[1:5])} for b in boxes]
    bbox = hit.extra.get("bbox")  # figures
    if bbox and hit.page is not None:
        return [{"page": hit.page, "box": list(bbox)}]
    return [{"page": p, "box": None} for p in hit.pages]


def hit_json(hit: Hit, with_text: bool = True) -> dict:
    out = {"chunk_id": hit.chunk_id, "document": _name(hit.doc_path), "page": hit.page, "pages": hit.pages,
           "section": list(hit.section), "kind": hit.kind, "score": round(hit.score, 6),
           "scores": {k: round(v, 6) for k, v in hit.scores.items()}, "ordinal": hit.ordinal,
           "positions": positions(hit)}
    if with_text:
        out["text"] = hit.text
        if hit.kind == "table" and hit.extra.get("html"):
            out["html"] = hit.extra["html"]
    return out


def references(answer: Answer) -> list[dict]:
    """The answer's citations, each with where its passage is (for highlighting) and its retrieval score."""
    return _passages(answer, answer.citations)


def related(answer: Answer) -> list[dict]:
    """When nothing is found: the closest passages, in the same shape, listed as related rather than as sources."""
    return _passages(answer, answer.related)


def _passages(answer: Answer, citations: list[Citation]) -> list[dict]:
    by_id = {h.chunk_id: h for h in answer.hits}
    out = []
    for c in citations:
        hit = by_id.get(c.chunk_id) if c.chunk_id is not None else None
        out.append({"number": c.number, "document": _name(c.doc_path), "page": c.page, "quote": c.quote,
                    "chunk_id": c.chunk_id, "kind": hit.kind if hit else "text",
                    "score": round(hit.score, 6) if hit else None,
                    "positions": positions(hit) if hit else ([{"page": c.page, "box": None}] if c.page else [])})
    return out


def answer_json(answer: Answer, standalone: str) -> dict:
    return {"answer": answer.text, "question": answer.question, "standalone_question": standalone,
            "mode": answer.mode, "found": answer.found, "references": references(answer), "related": related(answer),
            "notes": answer.notes,
            "usage": answer.usage, "timings": {k: round(v, 4) for k, v in answer.timings.items()}}


def _name(doc_path: str) -> str:
    return doc_path.rsplit("/", 1)[-1]
