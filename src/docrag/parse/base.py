"""Parser registry and the single entry point ``parse(path) -> Document``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

from docrag.config import Config, ParseConfig
from docrag.errors import ParseError
from docrag.models.vision import VisionModel, make_vlm
from docrag.types import Block, Document


class Blocks(list):
    """A document's blocks that fail as soon as their text passes ``max_chars``: a small compressed
    file (a zip-bomb-like .docx) must stop early, not expand fully in memory first."""

    def __init__(self, path: Path, max_chars: int | None):
        super().__init__()
        self.path, self.max_chars, self.chars = path, max_chars, 0

    def append(self, block: Block) -> None:
        self.check(len(block.text))
        self.chars += len(block.text)
        super().append(block)

    def check(self, pending: int = 0) -> None:
        """Fail if the text so far plus ``pending`` characters still being built passes the limit."""
        if self.max_chars is not None and self.chars + pending > self.max_chars:
            raise _text_too_long(self.path, self.chars + pending, self.max_chars)


class Parser:
    """A parser turns one file into a Document; subclasses register their extensions."""

    extensions: ClassVar[tuple[str, ...]] = ()
    file_type: ClassVar[str] = ""
    # bump when a code change alters what a parser outputs: indexed files of its type are parsed again
    version: ClassVar[int] = 1
    # set by parse(): parsers that can expand a small file check them while they work
    max_chars: int | None = None  # text length
    max_bytes: int | None = None  # size of the file, and of an archive's (.docx) expanded contents
    vlm: VisionModel | None = None  # describes figures (parse.vlm), built from the whole configuration

    def __init__(self, options: ParseConfig | None = None):
        self.options = options or ParseConfig()

    def parse(self, path: Path) -> Document:
        raise NotImplementedError

    def blocks(self, path: Path) -> Blocks:
        return Blocks(path, self.max_chars)

    def document(self, path: Path, blocks: list[Block], title: str = "", **metadata) -> Document:
        return Document(path=str(path), blocks=list(blocks), title=title or path.stem,
                        file_type=self.file_type, metadata=metadata)


PARSERS: dict[str, type[Parser]] = {}


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


def parse(path: str | Path, max_bytes: int | None = None, options: ParseConfig | None = None,
          max_chars: int | None = None, vlm: VisionModel | None = None) -> Document:
    """Parse a file by its extension. Raises ParseError naming the file and the reason.

    ``max_bytes`` limits the file's size (and a .docx's expanded size), ``max_chars`` its text. ``vlm`` describes
    figures when ``options.vlm`` asks for it (``docrag.models.make_vlm`` with the whole configuration, which has the
    API key's setting; default: made from the default settings)."""
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
        raise ParseError(path, f"file too large ({human_size(size)} > {human_size(max_bytes)} limit)")
    parser = factory(options)
    parser.max_bytes, parser.max_chars = max_bytes, max_chars
    if options is not None and options.vlm:
        parser.vlm = vlm or make_vlm(options.vlm, Config(parse=options))
    try:
        doc = parser.parse(path)
    except ParseError:
        raise
    except MemoryError:
        raise ParseError(path, "out of memory while parsing") from None
    except Exception as e:  # a third-party parser failing on bad input must not stop an ingest
        raise ParseError(path, f"unreadable {path.suffix.lstrip('.')} file ({type(e).__name__}: {e})") from None
    if not any(b.text.strip() for b in doc.blocks):
        raise ParseError(path, "no text found (empty document, or a scan without a text layer)")
    if max_chars is not None and doc.n_chars > max_chars:  # parsers that don't check as they go (PDF)
        raise _text_too_long(path, doc.n_chars, max_chars)
    return doc


def _text_too_long(path: Path, n: int, max_chars: int) -> ParseError:
    return ParseError(path, f"text too long ({n:,} characters > {max_chars:,} limit; raise index.max_file_chars)")


def human_size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n:,} bytes"


def decode(path: Path, data: bytes) -> str:
    """Decode text bytes: BOMs and UTF-8 first (fast path), then charset detection."""
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = _utf16_without_bom(data)
        if text is None:
            raise ParseError(path, "binary file, not text")
        return text
    for bom, enc in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return data.decode(enc, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = _detect(data)
    encoding = best.encoding if best is not None else None
    # GB2312/GBK detections are GB18030 text that happened to fit the subset
    if encoding is None or encoding in ("gb2312", "gbk") or _short_gb_lookalike(data, encoding):
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError:
            pass
    if encoding is None:
        raise ParseError(path, "unknown text encoding (not UTF-8, and no other encoding fits)")
    return data.decode(encoding, errors="replace")


def _detect(data: bytes):
    from charset_normalizer import from_bytes

    return from_bytes(data[: 1 << 20]).best()


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 saved without a BOM (.NET and SQL Server exports) has zero bytes, one in every ASCII
    character, so it looks binary. The detector tells it from binary data and picks the byte order
    (it knows Chinese: a zero-byte count alone would call Chinese text full of 一, U+4E00, big-endian);
    a zero 16-bit unit (U+0000) or a control character means binary after all."""
    sample = data[:8192]
    if len(data) % 2 or 0 in memoryview(sample).cast("H"):
        return None
    best = _detect(data)
    if best is None or not best.encoding.startswith("utf_16"):
        return None
    try:
        text = data.decode(best.encoding)
    except UnicodeDecodeError:
        return None
    return None if _CONTROL.search(text, 0, 4096) else text


def _short_gb_lookalike(data: bytes, encoding: str | None) -> bool:
    """Short Chinese text (a few hundred bytes) is often mistaken for a Korean, Japanese or Big5
    double-byte encoding: Chinese-first, GB18030 wins there. Nearly all Big5 bytes are valid GB18030
    as well, so a Big5 detection only yields to bytes that are valid GB2312: about 40% of Big5
    characters have a second byte below GB2312's range, and real Big5 text of four characters or
    more practically never passes."""
    if len(data) >= 4096:
        return False
    if encoding in _BIG5:
        try:
            data.decode("gb2312")
        except UnicodeDecodeError:
            return False
        return True
    return encoding in _CJK_LOOKALIKES


_CJK_LOOKALIKES = {"cp949", "euc_kr", "johab", "shift_jis", "cp932", "euc_jp"}
_BIG5 = {"big5", "big5hkscs", "cp950"}
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")  # not \t \n \v \f \r
