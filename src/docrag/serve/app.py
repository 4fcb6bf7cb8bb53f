"""The server: knowledge bases, documents, jobs, search and ask over REST, the OpenAI-compatible API
(``docrag.serve.openai_api``) and the web page, in one FastAPI app over ``docrag.Index``.

Every error is JSON, ``{"error": {"message", "type", "code"}}`` (the OpenAI shape), with one clear message and
the status that fits it; a traceback goes only to the server's log.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, File, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from docrag import __version__
from docrag.config import Config
from docrag.errors import BackendError, ConfigError, DocragError, IndexStateError, ParseError, QueryError
from docrag.serve.jobs import JobRunner
from docrag.serve.kbs import Conflict, KnowledgeBase, KnowledgeBases, NotFound, TooLarge, Unsupported, save_upload
from docrag.serve.schemas import (
    AskRequest,
    CreateKB,
    CreateKey,
    SearchRequest,
    UpdateKB,
    answer_json,
    hit_json,
    references,
    where,
)
from docrag.serve.state import ApiKey, ServerState
from docrag.types import Answer, Filter

log = logging.getLogger("docrag.serve")
WEB = Path(__file__).parent / "web"
STATE_DB = "server.sqlite"


@dataclass
class ServerSettings:
    root: Path
    config: Config = field(default_factory=Config)
    llms: tuple[str, ...] = ()  # LLMs clients may ask for besides each knowledge base's own and "extractive"
    max_upload_mb: int = 200  # per upload request (all its files)
    max_request_kb: int = 1024  # any other request body
    cors_origins: tuple[str, ...] = ()


_STATUS: list[tuple[type[Exception], int]] = [
    (NotFound, 404), (Conflict, 409), (TooLarge, 413), (Unsupported, 415), (ConfigError, 400), (QueryError, 400),
    (ParseError, 422), (IndexStateError, 409), (BackendError, 502), (DocragError, 400)]


def error(status: int, message: str, kind: str | None = None) -> JSONResponse:
    kind = kind or {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                    404: "not_found_error", 409: "conflict_error", 413: "request_too_large",
                    415: "unsupported_media_type", 422: "invalid_request_error"}.get(status, "server_error")
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status, headers=headers)


class Denied(Exception):
    def __init__(self, status: int, message: str):
        self.status, self.message = status, message


class Server:
    """What the routes share: the state database, the knowledge bases, the job runner and the settings."""

    def __init__(self, settings: ServerSettings):
        self.settings = settings
        settings.root.mkdir(parents=True, exist_ok=True)
        self.state = ServerState(settings.root / STATE_DB)
        self.kbs = KnowledgeBases(settings.root, settings.config)
        self.jobs = JobRunner(self.state, self.kbs)

    # --- who may do what ----------------------------------------------------------------------------------
    def caller(self, request: Request) -> ApiKey | None:
        """The key a request bears. With no key configured anyone on this machine may do anything, and nobody
        else anything."""
        if not self.state.has_keys():
            host = request.client.host if request.client else ""
            if not is_loopback(host):
                raise Denied(403, "this server has no API keys, so it answers only this machine; create one with "
                                  "`docrag keys create --admin`")
            return None
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Denied(401, "an API key is needed: send 'Authorization: Bearer KEY'")
        key = self.state.key_for(token.strip())
        if key is None:
            raise Denied(401, "unknown API key")
        return key

    def require(self, request: Request, kb: str | None, right: str) -> ApiKey | None:
        """The caller, when it may ``right`` (read, write, admin) the knowledge base ``kb``."""
        key = self.caller(request)
        if key is None or key.admin:
            return key
        if right == "admin" or kb is None or not key.may(kb, right):
            raise Denied(403, f"key {key.name!r} may not {right} "
                              + (f"knowledge base {kb!r}" if kb and right != "admin" else "this (admin only)"))
        return key

    def kb(self, request: Request, name: str, right: str = "read") -> KnowledgeBase:
        self.require(request, name, right)
        return self.kbs.get(name)

    def may_read(self, key: ApiKey | None, kb: str) -> bool:
        return key is None or key.may(kb, "read")

    def llm_for(self, kb: KnowledgeBase, spec: str | None) -> str | None:
        """The LLM a request may use: extractive, the knowledge base's own, or one the server offers."""
        if spec is None or spec in ("extractive", kb.index.config.generate.llm) or spec in self.settings.llms:
            return spec
        offered = ", ".join(dict.fromkeys(("extractive", kb.index.config.generate.llm, *self.settings.llms)))
        raise Denied(400, f"LLM {spec!r} is not offered by this server (offered: {offered})")

    def standalone(self, kb: KnowledgeBase, question: str, history: list[str], llm: str | None) -> str:
        """The question a follow-up is searched and answered as: made standalone from the conversation's earlier
        questions (by the LLM when one answers, else by carrying the previous question's company, year or subject)."""
        history = [h for h in history if h.strip()]
        return kb.index.standalone(question, history, llm=llm) if history else question

    def ask(self, kb: KnowledgeBase, body: AskRequest, question: str, on_token=None) -> Answer:
        files = str(kb.files)
        f = where(body, files)
        return kb.index.ask(question, k=body.k, mode=body.mode, llm=self.llm_for(kb, body.llm),
                            decoding=body.decoding, rerank=_rerank(body.rerank), on_token=on_token,
                            path_glob=f.path_globs[0] if f.path_globs else None,
                            file_types=list(f.file_types) or None,
                            documents=list(f.doc_paths) if f.doc_paths else None)


def _rerank(flag: bool | None) -> str | None:
    return "none" if flag is False else None


def is_loopback(host: str) -> bool:
    """An address (or host name) of this machine only."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def sse(data: Any, event: str | None = None) -> str:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return (f"event: {event}\n" if event else "") + f"data: {payload}\n\n"


def stream_answer(run: Callable[[Callable[[str], None]], Any], frames: Callable[[str | Any, bool], Iterator[str]]
                  ) -> Iterator[str]:
    """Run ``run(on_token)`` in a thread and yield ``frames(token, False)`` for each token as it comes, then
    ``frames(result, True)``; an error is yielded as ``frames(exception, True)``."""
    items: queue.Queue = queue.Queue()

    def work():
        try:
            items.put((True, run(lambda token: items.put((False, token)))))
        except Exception as e:  # noqa: BLE001 - handed to the stream, which says it to the client
            items.put((True, e))

    threading.Thread(target=work, daemon=True, name="docrag-answer").start()
    while True:
        final, item = items.get()
        yield from frames(item, final)
        if final:
            return


def error_body(e: Exception) -> dict:
    status = next((s for cls, s in _STATUS if isinstance(e, cls)), 500)
    message = str(e) if status != 500 else "internal error (see the server's log)"
    if status == 500:
        log.error("error while streaming", exc_info=e)
    return {"error": {"message": message, "type": "server_error" if status >= 500 else "invalid_request_error",
                      "code": status}}


class BodyLimit:
    """Refuse request bodies over the limit (uploads get their own, larger one), by the declared length at once
    and by counting what arrives (a chunked request declares none)."""

    def __init__(self, app, settings: ServerSettings):
        self.app, self.settings = app, settings

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        upload = scope["path"].endswith("/documents") and scope["method"] == "POST"
        limit = self.settings.max_upload_mb << 20 if upload else self.settings.max_request_kb << 10
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await _too_large(limit)(scope, receive, send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise HTTPException(413, _too_large_message(limit))
            return message

        return await self.app(scope, counted, send)


def _too_large_message(limit: int) -> str:
    return f"request body larger than the limit of {limit >> 20} MiB" if limit >= 1 << 20 else \
        f"request body larger than the limit of {limit >> 10} KiB"


def _too_large(limit: int) -> JSONResponse:
    return error(413, _too_large_message(limit))


def create_app(settings: ServerSettings) -> FastAPI:
    server = Server(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        resumed = server.jobs.resume()
        if resumed:
            log.info("resuming %d unfinished job(s)", len(resumed))
        yield
        server.jobs.close()
        server.kbs.close()

    app = FastAPI(title="docrag", version=__version__, lifespan=lifespan,
                  description="Question answering over your own documents: knowledge bases, search, cited answers, "
                              "and an OpenAI-compatible chat API.")
    app.state.server = server
    app.add_middleware(BodyLimit, settings=settings)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["*"],
                           allow_headers=["*"])

    @app.exception_handler(Denied)
    async def _denied(request: Request, e: Denied):
        return error(e.status, e.message)

    @app.exception_handler(DocragError)
    async def _docrag_error(request: Request, e: DocragError):
        status = next(s for cls, s in _STATUS if isinstance(e, cls))
        return error(status, str(e))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, e: HTTPException):
        return error(e.status_code, str(e.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, e: RequestValidationError):
        problems = []
        for err in e.errors():
            loc = ".".join(str(p) for p in err["loc"] if p not in ("body", "query", "path"))
            problems.append(f"{loc}: {err['msg']}" if loc else err["msg"])
        return error(400, "invalid request: " + "; ".join(problems))

    @app.exception_handler(Exception)
    async def _internal(request: Request, e: Exception):
        log.exception("%s %s failed", request.method, request.url.path)
        return error(500, "internal error (see the server's log)")

    # --- service ------------------------------------------------------------------------------------------
    @app.get("/health", tags=["service"])
    def health():
        return {"status": "ok", "version": __version__, "knowledge_bases": len(server.kbs.names()),
                "auth": "keys" if server.state.has_keys() else "loopback-only"}

    # --- knowledge bases ----------------------------------------------------------------------------------
    @app.get("/kb", tags=["knowledge bases"])
    def list_kbs(request: Request):
        key = server.caller(request)
        return {"knowledge_bases": [kb.summary() for kb in server.kbs if server.may_read(key, kb.name)]}

    @app.post("/kb", status_code=201, tags=["knowledge bases"])
    def create_kb(body: CreateKB, request: Request):
        server.require(request, None, "admin")
        return server.kbs.create(body.name, body.settings).summary()

    @app.get("/kb/{kb}", tags=["knowledge bases"])
    def get_kb(kb: str, request: Request):
        return server.kb(request, kb).summary()

    @app.patch("/kb/{kb}", tags=["knowledge bases"])
    def update_kb(kb: str, body: UpdateKB, request: Request):
        server.require(request, kb, "write")
        server.kbs.get(kb)
        server.jobs.check_idle(kb)  # a job half under the old settings and half under the new would mix them
        return server.kbs.update(kb, body.settings).summary()

    @app.delete("/kb/{kb}", status_code=204, tags=["knowledge bases"])
    def delete_kb(kb: str, request: Request):
        server.require(request, None, "admin")
        server.kbs.get(kb)
        server.jobs.check_idle(kb)
        server.kbs.delete(kb)
        server.state.forget_kb(kb)
        return Response(status_code=204)

    # --- documents and jobs -------------------------------------------------------------------------------
    @app.post("/kb/{kb}/documents", status_code=202, tags=["documents"])
    def upload(kb: str, request: Request, files: list[UploadFile] = File(...)):
        """Store the files and queue their ingest. A file refused (type, name, size) is listed in the job as failed
        with its reason; when every file is refused the request fails with the first reason."""
        base = server.kb(request, kb, "write")
        names: list[str] = []
        refused: dict[str, str] = {}
        first: DocragError | None = None
        for f in files:
            try:
                names.append(save_upload(base, f.filename or "", f.file, settings.max_upload_mb << 20))
            except (Unsupported, TooLarge, ConfigError) as e:
                refused[f.filename or "(no name)"] = str(e)
                first = first or e
        if not names and first is not None:
            raise first
        return server.jobs.submit(kb, "ingest", list(dict.fromkeys(names)), refused).to_json()

    @app.get("/kb/{kb}/documents", tags=["documents"])
    def list_documents(kb: str, request: Request):
        base = server.kb(request, kb)
        return {"documents": _documents(server, base)}

    @app.get("/kb/{kb}/documents/{name}", tags=["documents"])
    def get_document(kb: str, name: str, request: Request):
        base = server.kb(request, kb)
        base.file(name)
        return next(d for d in _documents(server, base) if d["name"] == name)

    @app.delete("/kb/{kb}/documents/{name}", status_code=202, tags=["documents"])
    def delete_document(kb: str, name: str, request: Request):
        base = server.kb(request, kb, "write")
        base.file(name)
        return server.jobs.submit(kb, "delete", [name]).to_json()

    @app.post("/kb/{kb}/documents/{name}/reingest", status_code=202, tags=["documents"])
    def reingest_document(kb: str, name: str, request: Request):
        base = server.kb(request, kb, "write")
        base.file(name)
        return server.jobs.submit(kb, "ingest", [name]).to_json()

    @app.post("/kb/{kb}/reingest", status_code=202, tags=["documents"])
    def reingest_all(kb: str, request: Request):
        """Ingest every file again: documents whose settings changed are parsed and chunked anew, failed ones
        retried, unchanged ones skipped."""
        base = server.kb(request, kb, "write")
        names = sorted(p.name for p in base.files.iterdir() if p.is_file() and not p.name.startswith("."))
        return server.jobs.submit(kb, "ingest", names).to_json()

    @app.get("/kb/{kb}/documents/{name}/file", tags=["documents"])
    def download(kb: str, name: str, request: Request):
        return FileResponse(server.kb(request, kb).file(name), filename=name)

    @app.get("/kb/{kb}/documents/{name}/chunks", tags=["chunks"])
    def document_chunks(kb: str, name: str, request: Request):
        base = server.kb(request, kb)
        path = str(base.file(name))
        store = base.index.store
        hits = store.hits([(int(i), 0.0) for i in store.chunk_ids(Filter(doc_paths=(path,)))])
        return {"document": name, "chunks": [_chunk_json(h) for h in sorted(hits, key=lambda h: h.ordinal)]}

    @app.get("/kb/{kb}/chunks/{chunk_id}", tags=["chunks"])
    def get_chunk(kb: str, chunk_id: int, request: Request):
        base = server.kb(request, kb)
        hits = base.index.store.hits([(chunk_id, 0.0)])
        if not hits:
            raise NotFound(f"knowledge base {kb!r} has no chunk {chunk_id}")
        return _chunk_json(hits[0])

    @app.get("/kb/{kb}/documents/{name}/pages/{page}.png", tags=["documents"])
    def page_image(kb: str, name: str, page: int, request: Request, scale: float = 1.5):
        from docrag.serve.pages import render_page
        return Response(render_page(server.kb(request, kb).file(name), page, scale), media_type="image/png")

    @app.get("/kb/{kb}/documents/{name}/pages/{page}/boxes", tags=["documents"])
    def page_boxes(kb: str, name: str, page: int, text: str, request: Request):
        """Where ``text`` (a cited quote) is on the page: boxes in PDF points from the page's top left, one per
        line; empty when it is not found. The web page highlights passages the index keeps without boxes."""
        from docrag.serve.pages import find_boxes
        return {"page": page, "boxes": find_boxes(server.kb(request, kb).file(name), page, text)}

    @app.get("/kb/{kb}/jobs", tags=["jobs"])
    def list_jobs(kb: str, request: Request):
        server.kb(request, kb)
        return {"jobs": [j.to_json() for j in server.state.jobs(kb)]}

    @app.get("/jobs/{job_id}", tags=["jobs"])
    def get_job(job_id: str, request: Request):
        job = server.jobs.job(job_id)
        server.require(request, job.kb, "read")
        return job.to_json()

    @app.get("/jobs/{job_id}/events", tags=["jobs"])
    def job_events(job_id: str, request: Request):
        """Server-Sent Events: the job as JSON each time it changes, until it ends."""
        server.require(request, server.jobs.job(job_id).kb, "read")

        def frames():
            for job in server.jobs.events(job_id):
                yield ": keep-alive\n\n" if job is None else sse(job.to_json(), "job")
        return StreamingResponse(frames(), media_type="text/event-stream", headers=_NO_BUFFERING)

    # --- search and ask -----------------------------------------------------------------------------------
    @app.post("/kb/{kb}/search", tags=["search"])
    def search(kb: str, body: SearchRequest, request: Request):
        base = server.kb(request, kb)
        f = where(body, str(base.files))
        hits, timings = base.index.searcher.search(body.query, body.k, body.mode, f, _rerank(body.rerank))
        return {"hits": [hit_json(h) for h in hits], "timings": {k: round(v, 4) for k, v in timings.items()}}

    @app.post("/kb/{kb}/ask", tags=["search"])
    def ask(kb: str, body: AskRequest, request: Request):
        """JSON, or with ``stream`` Server-Sent Events: ``token`` events ({"text"}) as the answer is made, then
        ``references`` (a list) and ``done`` (the whole answer as the JSON form gives it)."""
        base = server.kb(request, kb)
        llm = server.llm_for(base, body.llm)
        question = server.standalone(base, body.question, body.history, llm)
        if not body.stream:
            return answer_json(server.ask(base, body, question), question)

        def frames(item, final: bool) -> Iterator[str]:
            if isinstance(item, Exception):
                yield sse(error_body(item), "error")
            elif not final:
                yield sse({"text": item}, "token")
            else:
                yield sse(references(item), "references")
                yield sse(answer_json(item, question), "done")
        return StreamingResponse(stream_answer(lambda on_token: server.ask(base, body, question, on_token), frames),
                                 media_type="text/event-stream", headers=_NO_BUFFERING)

    # --- keys ---------------------------------------------------------------------------------------------
    @app.get("/keys", tags=["keys"])
    def list_keys(request: Request):
        server.require(request, None, "admin")
        return {"keys": [k.__dict__ for k in server.state.keys()]}

    @app.post("/keys", status_code=201, tags=["keys"])
    def create_key(body: CreateKey, request: Request):
        server.require(request, None, "admin")
        return {"name": body.name, "key": server.state.create_key(body.name, body.admin, body.scopes)}

    @app.delete("/keys/{name}", status_code=204, tags=["keys"])
    def revoke_key(name: str, request: Request):
        server.require(request, None, "admin")
        if not server.state.revoke_key(name):
            raise NotFound(f"no key named {name!r}")
        return Response(status_code=204)

    from docrag.serve.openai_api import add_openai_routes
    add_openai_routes(app, server)

    @app.get("/", include_in_schema=False)
    def web_page():
        return FileResponse(WEB / "index.html")

    app.mount("/web", StaticFiles(directory=WEB), name="web")
    return app


_NO_BUFFERING = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _documents(server: Server, kb: KnowledgeBase) -> list[dict]:
    """Every uploaded file with its state: indexed, queued, running, failed (with the reason)."""
    indexed = kb.index.store.docs()
    states = server.state.file_states(kb.name)
    running = {f.name for j in server.jobs.state.jobs(kb.name, ("queued", "running")) for f in j.files
               if f.state == "queued"}
    out = []
    for path in sorted(kb.files.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        record = indexed.get(str(path))
        last = states.get(path.name)
        if path.name in running:
            status, reason = "processing", ""
        elif last is not None and last.state == "failed":
            status, reason = "failed", last.reason
        else:
            status, reason = ("indexed", "") if record is not None else ("not indexed", "")
        out.append({"name": path.name, "status": status, "reason": reason, "bytes": path.stat().st_size,
                    "type": record.file_type if record else path.suffix.lstrip("."),
                    "chunks": last.chunks if last and status == "indexed" else None,
                    "pages": record.n_pages if record else None, "title": record.title if record else ""})
    return out


def _chunk_json(hit) -> dict:
    out = hit_json(hit)
    out.pop("score"), out.pop("scores")
    out["char_start"], out["char_end"] = hit.char_start, hit.char_end
    return out
