"""Parser registry and the single entry point ``parse(path) -> Document``."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, ClassVar

from docrag.config import ParseConfig
from docrag.errors import ParseError
from docrag.types import Block, Document


class Parser:
    """A parser turns one file into a Document; subclasses register their extensions."""

    extensions: ClassVar[tuple[str, ...]] = ()
    file_type: ClassVar[str] = ""
    # bump when a code change alters what a parser outputs: indexed files of its type are parsed again
    version: ClassVar[int] = 1

    def __init__(self, options: ParseConfig | None = None):
        self.options = options or ParseConfig()

    def parse(self, path: Path) -> Document:
        raise NotImplementedError

    def document(self, path: Path, blocks: list[Block], title: str = "", **metadata) -> Document:
        return Document(path=str(path), blocks=blocks, title=title or path.stem,
                        file_type=self.file_type, metadata=metadata)


PARSERS: dict[str, Callable[[], Parser]] = {}


def register(cls: type[Parser]) -> type[Parser]:
    for ext in cls.extensions:
        PARSERS[ext] = cls
    return cls


def supported(path: Path) -> bool:
    return path.suffix.lower() in PARSERS


def parser_signature(path: Path, options: ParseConfig | None = None) -> str:
    """Identifies what parsing this file produces (parser, its version, the options)."""
    cls = PARSERS.get(Path(path).suffix.lower())
    return f"{cls.file_type}/{cls.version}:{(options or ParseConfig()).signature()}" if cls else ""


def parse(path: str | Path, max_bytes: int | None = None, options: ParseConfig | None = None) -> Document:
    """Parse a file by its extension. Raises ParseError naming the file and the reason."""
    path = Path(path)
    factory = PARSERS.get(path.suffix.lower())
    if factory is None:
        raise ParseError(path, f"unsupported file type {path.suffix or '(no extension)'!r}")
    try:
        size = path.stat().st_size
    except OSError as e:
        raise ParseError(path, f"cannot read: {e.strerror or e}") from None
    if size == 0:
        raise ParseError(path, "empty file")
    if max_bytes is not None and size > max_bytes:
        raise ParseError(path, f"file too large ({_size(size)} > {_size(max_bytes)} limit)")
    try:
        doc = factory(options).parse(path)
    except ParseError:
        raise
    except MemoryError:
        raise ParseError(path, "out of memory while parsing") from None
    except Exception as e:  # a third-party parser failing on bad input must not stop an ingest
        raise ParseError(path, f"unreadable {path.suffix.lstrip('.')} file ({type(e).__name__}: {e})") from None
    if not any(b.text.strip() for b in doc.blocks):
        raise ParseError(path, "no text found (empty document, or a scan without a text layer)")
    return doc


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n:,} bytes"


def decode(path: Path, data: bytes) -> str:
    """Decode text bytes: BOMs and UTF-8 first (fast path), then charset detection."""
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ParseError(path, "binary file, not text")
    for bom, enc in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return data.decode(enc, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data[: 1 << 20]).best()
    encoding = best.encoding if best is not None else None
    # GB2312/GBK detections are GB18030 text that happened to fit the subset. Short Chinese text
    # (a few hundred bytes) is often mistaken for a Korean or Japanese double-byte encoding:
    # Chinese-first, GB18030 wins there when the bytes are valid GB18030. Big5 detections stand.
    short_lookalike = encoding in _CJK_LOOKALIKES and len(data) < 4096
    if encoding is None or encoding in ("gb2312", "gbk") or short_lookalike:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError:
            pass
    if encoding is None:
        raise ParseError(path, "unknown text encoding (not UTF-8, and no other encoding fits)")
    return data.decode(encoding, errors="replace")


_CJK_LOOKALIKES = {"cp949", "euc_kr", "johab", "shift_jis", "cp932", "euc_jp"}
