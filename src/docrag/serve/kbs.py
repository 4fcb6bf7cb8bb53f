"""Knowledge bases: one docrag index each, with the original files uploaded into it, under the server's root.

    ROOT/kbs/NAME/settings.json   configuration overrides ({"chunk.size": 300, ...}) and when it was made
    ROOT/kbs/NAME/index/          the docrag index
    ROOT/kbs/NAME/files/          the uploaded originals, by their (sanitised) names: a document's id is its name

Uploads are checked here: names lose any folder part and control characters, and a file's type is read from its
content, never trusted from its name (a "report.pdf" that is a ZIP is refused, a PDF without an extension gets one).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from charset_normalizer import from_bytes

from docrag.api import Index
from docrag.atomic import write_text_atomic
from docrag.config import Config
from docrag.errors import ConfigError, DocragError

KB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # no ":" (model names are KB:LLM), no "/" or ".."
MAX_NAME_BYTES = 200
_SNIFF_BYTES = 64 * 1024


class NotFound(DocragError):
    """A knowledge base, document, chunk or job that does not exist (HTTP 404)."""


class Conflict(DocragError):
    """A request that clashes with what exists (HTTP 409)."""


class Unsupported(DocragError):
    """An upload whose content is not a document docrag reads (HTTP 415)."""


class TooLarge(DocragError):
    """An upload over the size limit (HTTP 413)."""


def check_kb_name(name: str) -> str:
    if not KB_NAME.match(name) or name.endswith("."):
        raise ConfigError(f"knowledge base name {name!r}: use 1-64 letters, digits, '_', '-' or '.', starting with "
                          "a letter or digit")
    return name


def safe_filename(name: str) -> str:
    """The file name an upload is stored under: no folders (``../../etc/passwd`` is ``passwd``), no control or
    format characters, no leading dots, at most 200 bytes (the extension kept)."""
    base = re.split(r"[/\\]", name)[-1]
    base = "".join(c for c in unicodedata.normalize("NFC", base) if unicodedata.category(c)[0] != "C")
    base = base.strip().lstrip(".").strip()
    stem, ext = os.path.splitext(base)
    while len((stem + ext).encode()) > MAX_NAME_BYTES and stem:
        stem = stem[:-1]
    if not stem:
        raise ConfigError(f"{name!r}: not a usable file name")
    return stem + ext.lower()


def sniff_type(head: bytes, path: Path) -> str:
    """The extension (with its dot) a file's content says it is; ``Unsupported`` when docrag does not read it."""
    if head.startswith(b"%PDF-"):
        return ".pdf"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as z:
                if "word/document.xml" in z.namelist():
                    return ".docx"
        except zipfile.BadZipFile:
            pass
        raise Unsupported("a ZIP archive that is not a Word document (.docx)")
    if b"\0" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):  # NULs outside UTF-16 mean binary
        raise Unsupported("binary content that is not a PDF or Word document")
    best = from_bytes(head).best()
    if best is None:
        raise Unsupported("neither text nor a PDF or Word document")
    start = str(best)[:512].lstrip("\ufeff \t\r\n").lower()
    if start.startswith(("<!doctype html", "<html")):
        return ".html"
    return ".txt"


# text the name may call Markdown or HTML: the content check cannot tell Markdown from plain text
_TEXT_KINDS = {".txt": {".txt", ".md", ".markdown", ".text"}, ".html": {".html", ".htm"}}


def stored_name(name: str, sniffed: str) -> str:
    """The name a file is kept under: its own when its extension agrees with its content, else with the content's
    extension added; a name claiming another binary type is refused."""
    ext = os.path.splitext(name)[1].lower()
    if ext == sniffed or ext in _TEXT_KINDS.get(sniffed, ()):
        return name
    if ext in (".pdf", ".docx"):
        raise Unsupported(f"named {ext} but the content is {sniffed[1:]}")
    return name + sniffed


@dataclass
class KnowledgeBase:
    name: str
    directory: Path
    settings: dict
    created: float
    index: Index

    @property
    def files(self) -> Path:
        return self.directory / "files"

    def file(self, name: str) -> Path:
        path = self.files / name
        if name != safe_filename(name) or not path.is_file():
            raise NotFound(f"knowledge base {self.name!r} has no document {name!r}")
        return path

    def document_name(self, doc_path: str) -> str:
        """The id (file name) of an indexed document; the server's own paths are not shown to clients."""
        return Path(doc_path).name

    def summary(self) -> dict:
        info = self.index.info()
        originals = sum(p.stat().st_size for p in self.files.iterdir() if p.is_file())
        return {"name": self.name, "created": self.created, "settings": self.settings,
                "documents": info["documents"], "chunks": info["chunks"], "embedded_share": info["embedded_share"],
                "bytes": info["bytes_on_disk"] + originals}


class KnowledgeBases:
    """The knowledge bases under ``root``, each index opened once and shared by every request."""

    def __init__(self, root: Path, config: Config):
        self.root = root
        self.config = config
        self.directory = root / "kbs"
        self.directory.mkdir(parents=True, exist_ok=True)
        self._open: dict[str, KnowledgeBase] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return sorted(p.name for p in self.directory.iterdir() if (p / "settings.json").is_file())

    def __iter__(self) -> Iterator[KnowledgeBase]:
        return iter([self.get(n) for n in self.names()])

    def get(self, name: str) -> KnowledgeBase:
        with self._lock:
            kb = self._open.get(name)
            if kb is not None:
                return kb
            directory = self.directory / name
            if not KB_NAME.match(name) or not (directory / "settings.json").is_file():
                raise NotFound(f"no knowledge base {name!r}")
            meta = json.loads((directory / "settings.json").read_text(encoding="utf-8"))
            kb = self._open[name] = self._opened(name, directory, meta["settings"], meta["created"])
            return kb

    def _opened(self, name: str, directory: Path, settings: dict, created: float) -> KnowledgeBase:
        index = Index.open(directory / "index", create=True, config=self.config.updated(**settings))
        return KnowledgeBase(name, directory, settings, created, index)

    def create(self, name: str, settings: dict | None = None) -> KnowledgeBase:
        check_kb_name(name)
        settings = dict(settings or {})
        self.config.updated(**settings)  # unknown or invalid options: refused before anything is made
        with self._lock:
            directory = self.directory / name
            if directory.exists():
                raise Conflict(f"knowledge base {name!r} exists already")
            (directory / "files").mkdir(parents=True)
            created = time.time()
            write_text_atomic(directory / "settings.json",
                              json.dumps({"settings": settings, "created": created}, ensure_ascii=False))
            kb = self._open[name] = self._opened(name, directory, settings, created)
            return kb

    def update(self, name: str, settings: dict) -> KnowledgeBase:
        """New configuration overrides (merged into the old; a None value drops one). The index is opened again
        with them: searches that started keep the old configuration, the next ones get the new. Settings that
        change what is indexed (chunking, parsing) apply to documents ingested from now on; re-ingest the
        knowledge base to apply them to all."""
        kb = self.get(name)
        merged = {k: v for k, v in {**kb.settings, **settings}.items() if v is not None}
        self.config.updated(**merged)
        with self._lock:
            write_text_atomic(kb.directory / "settings.json",
                              json.dumps({"settings": merged, "created": kb.created}, ensure_ascii=False))
            fresh = self._open[name] = self._opened(name, kb.directory, merged, kb.created)
            return fresh

    def delete(self, name: str) -> None:
        kb = self.get(name)
        with self._lock:
            self._open.pop(name, None)
            kb.index.close()
            # renamed first: a crash halfway through removing leaves no half knowledge base under a live name
            trash = self.directory / f".deleted-{name}-{time.time_ns()}"
            kb.directory.rename(trash)
        shutil.rmtree(trash, ignore_errors=True)

    def close(self) -> None:
        with self._lock:
            for kb in self._open.values():
                kb.index.close()
            self._open.clear()


def save_upload(kb: KnowledgeBase, name: str, stream: BinaryIO, max_bytes: int) -> str:
    """Store one uploaded file in ``kb`` under a safe name, its type read from its content; returns the name.
    The file appears whole or not at all (written aside, then renamed)."""
    safe = safe_filename(name)
    tmp = kb.files / f".upload-{os.getpid()}-{threading.get_ident()}-{time.time_ns()}"
    try:
        size = 0
        with open(tmp, "wb") as out:
            while block := stream.read(1 << 20):
                size += len(block)
                if size > max_bytes:
                    raise TooLarge(f"{safe}: larger than the upload limit of {max_bytes // (1 << 20)} MiB")
                out.write(block)
        if size == 0:
            raise Unsupported(f"{safe}: empty file")
        with open(tmp, "rb") as fh:
            head = fh.read(_SNIFF_BYTES)
        try:
            final = stored_name(safe, sniff_type(head, tmp))
        except Unsupported as e:
            raise Unsupported(f"{safe}: {e}") from None
        os.replace(tmp, kb.files / final)
        return final
    finally:
        tmp.unlink(missing_ok=True)

