"""A small client for ``docrag serve``, shaped like ``docrag.Index``:

    import docrag
    kb = docrag.Client("http://127.0.0.1:8000", api_key="drk_...", kb="reports")
    kb.add(["a.pdf", "notes/"])          # uploads, then waits for the ingest job
    hits = kb.search("问题", k=5)
    answer = kb.ask("问题")              # answer.text, answer.citations

Errors come back as ``docrag.errors.BackendError`` with the server's one-line message and its status.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from docrag.errors import BackendError
from docrag.types import Answer, Citation, Hit


class ServerError(BackendError):
    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class Client:
    def __init__(self, url: str = "http://127.0.0.1:8000", api_key: str | None = None, kb: str = "default",
                 timeout: float = 120.0):
        self.url, self.kb = url.rstrip("/"), kb
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- knowledge bases ------------------------------------------------------------------------------
    def knowledge_bases(self) -> list[dict]:
        return self._json("GET", "/kb")["knowledge_bases"]

    def create(self, settings: dict[str, Any] | None = None) -> dict:
        """Create this client's knowledge base (``settings``: configuration overrides such as
        ``{"chunk.size": 300}``)."""
        return self._json("POST", "/kb", json={"name": self.kb, "settings": settings or {}})

    def info(self) -> dict:
        return self._json("GET", self._kb())

    def documents(self) -> list[dict]:
        return self._json("GET", self._kb("/documents"))["documents"]

    # --- writing ------------------------------------------------------------------------------------------
    def add(self, paths: str | Path | Iterable[str | Path], wait: bool = True, timeout: float | None = None) -> dict:
        """Upload files (folders: the documents in them, recursively) as one ingest job; with ``wait``, return
        the job once it has ended (each file's state and reason in ``job["files"]``)."""
        from docrag.config import IndexConfig
        from docrag.ingest import collect_files

        items = [paths] if isinstance(paths, (str, Path)) else list(paths)
        files, problems = collect_files([Path(p) for p in items], IndexConfig().extensions)
        if problems and not files:
            raise BackendError("; ".join(f"{p.path}: {p.reason}" for p in problems))
        with ExitStack() as stack:
            parts = [("files", (f.name, stack.enter_context(open(f, "rb")))) for f in files]
            job = self._json("POST", self._kb("/documents"), files=parts)
        return self.wait(job["id"], timeout) if wait else job

    def remove(self, name: str, wait: bool = True) -> dict:
        """Remove a document (by its name in the knowledge base)."""
        job = self._json("DELETE", self._kb(f"/documents/{quote(name)}"))
        return self.wait(job["id"]) if wait else job

    def job(self, job_id: str) -> dict:
        return self._json("GET", f"/jobs/{job_id}")

    def wait(self, job_id: str, timeout: float | None = None, poll: float = 0.2) -> dict:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (job := self.job(job_id))["state"] in ("queued", "running"):
            if deadline is not None and time.monotonic() > deadline:
                raise BackendError(f"job {job_id} still {job['state']} after {timeout} s")
            time.sleep(poll)
        return job

    # --- reading ------------------------------------------------------------------------------------------
    def search(self, query: str, k: int = 5, mode: str | None = None, path_glob: str | None = None,
               file_types: list[str] | None = None, rerank: bool | None = None,
               documents: list[str] | None = None) -> list[Hit]:
        body = _drop_none(query=query, k=k, mode=mode, path_glob=path_glob, file_types=file_types, rerank=rerank,
                          documents=documents)
        return [_hit(h) for h in self._json("POST", self._kb("/search"), json=body)["hits"]]

    def ask(self, question: str, k: int | None = None, mode: str | None = None, *, llm: str | None = None,
            decoding: dict | None = None, history: list[str] | None = None, on_token=None,
            path_glob: str | None = None, file_types: list[str] | None = None,
            documents: list[str] | None = None) -> Answer:
        """An answer with citations; ``history``: the conversation's earlier questions (a follow-up is made
        standalone from them); ``on_token`` receives the answer as it streams."""
        body = _drop_none(question=question, k=k, mode=mode, llm=llm, decoding=decoding, history=history or [],
                          path_glob=path_glob, file_types=file_types, documents=documents, stream=on_token is not None)
        if on_token is None:
            return _answer(self._json("POST", self._kb("/ask"), json=body))
        with self._http.stream("POST", self._kb("/ask"), json=body) as response:
            _check(response)
            for event, data in _events(response.iter_lines()):
                if event == "token":
                    on_token(data["text"])
                elif event == "error":
                    raise ServerError(data["error"]["message"], data["error"]["code"])
                elif event == "done":
                    return _answer(data)
        raise BackendError(f"{self.url}: the answer stream ended early")

    # --- plumbing -----------------------------------------------------------------------------------------
    def _kb(self, rest: str = "") -> str:
        return f"/kb/{quote(self.kb)}{rest}"

    def _json(self, method: str, path: str, **kwargs) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as e:
            raise BackendError(f"docrag server {self.url}: {e}") from None
        _check(response)
        return response.json() if response.content else None


def _check(response: httpx.Response) -> None:
    if response.is_success:
        return
    response.read()
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = response.text[:200]
    raise ServerError(f"{response.status_code}: {message}", response.status_code)


def _events(lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
    """(event, data) of a Server-Sent Events stream."""
    event, data = "message", list[str]()
    for line in lines:
        if not line:
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", list[str]()
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())


def _drop_none(**fields) -> dict:
    return {k: v for k, v in fields.items() if v is not None}


def _hit(h: dict) -> Hit:
    return Hit(chunk_id=h["chunk_id"], text=h.get("text", ""), doc_path=h["document"], score=h["score"],
               page=h["page"], pages=h["pages"], section=tuple(h["section"]), ordinal=h["ordinal"], kind=h["kind"],
               scores=h.get("scores", {}), extra={"positions": h["positions"]})


def _answer(a: dict) -> Answer:
    citations = [Citation(r["number"], r["document"], r["page"], r["quote"], r["chunk_id"]) for r in a["references"]]
    related = [Citation(r["number"], r["document"], r["page"], r["quote"], r["chunk_id"]) for r in a.get("related", [])]
    return Answer(text=a["answer"], citations=citations, question=a["question"], mode=a["mode"], notes=a["notes"],
                  usage=a["usage"], timings=a["timings"], found=a.get("found", True), related=related)
