"""Shared fixtures. Real PDF and DOCX files are rendered here with examples/make_docs.py."""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "examples"))
sys.path.insert(0, str(ROOT / "tests"))  # shared test helpers: fake_openai, tiny_llm, tiny_encoders

from make_docs import markdown_to_docx, markdown_to_pdf  # noqa: E402

SAMPLE = ROOT / "examples" / "sample"
NOTO = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")  # fonts-noto-cjk; the tests were tuned on it


def shared_data(name: str) -> Path:
    """A data set from ../shared/data, or skip: users' machines don't have it."""
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"../shared/data/{name} is not present (evaluation data lives beside the repo)")
    return path


@functools.cache
def _cjk_font_file() -> Path | None:
    try:
        listed = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True).stdout
    except OSError:
        listed = ""  # no fontconfig: only the Debian package's path is known
    candidates = [NOTO] + sorted(Path(line.split(":")[0]) for line in listed.splitlines() if line.strip())
    return next((p for p in candidates if p.is_file()), None)


def cjk_font() -> Path:
    """A font file with Chinese glyphs, or skip the test (`make test` installs one). Drawing Chinese needs it, and
    so do PDFs that name a Chinese font without embedding it (reportlab's STSong-Light): pdfium draws and measures
    their text with a system font."""
    path = _cjk_font_file()
    if path is None:
        pytest.skip("no CJK font: apt-get install fonts-noto-cjk")
    return path


def text_font(size: int, text: str = ""):
    """A Pillow font to draw ``text`` with: the CJK font where there is one; else Pillow's built-in font for
    Latin text, and a skip for Chinese."""
    from PIL import ImageFont

    if _cjk_font_file() is None and text.isascii():
        return ImageFont.load_default(size)
    return ImageFont.truetype(str(cjk_font()), size)


def text_image(lines: list[str], size: int = 28) -> np.ndarray:
    """White RGB image with black text lines (the truth an OCR test knows)."""
    from PIL import Image, ImageDraw

    font = text_font(size, "".join(lines))
    img = Image.new("RGB", (40 + size * 24, 40 + int(size * 1.8) * len(lines)), "white")
    draw = ImageDraw.Draw(img)
    for k, line in enumerate(lines):
        draw.text((20, 20 + int(size * 1.8) * k), line, font=font, fill="black")
    return np.asarray(img)


def figure_pdf(path: Path, picture: np.ndarray) -> Path:
    """An A4 page: a sentence, ``picture`` as a figure, its caption "Figure 2: Revenue in 2022" below it."""
    from PIL import Image
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=(595, 842))
    c.setFont("Helvetica", 10)
    c.drawString(60, 780, "The chart below shows the quarterly revenue.")
    height = 480 * picture.shape[0] / picture.shape[1]  # the picture's own aspect ratio
    c.drawImage(ImageReader(Image.fromarray(picture)), 60, 520, width=480, height=height)
    c.drawString(60, 500, "Figure 2: Revenue in 2022")
    c.save()
    return path


@pytest.fixture
def make_pdf(tmp_path):
    def make(md: str, name: str = "doc.pdf") -> Path:
        return markdown_to_pdf(md, tmp_path / name)
    return make


@pytest.fixture
def make_docx(tmp_path):
    def make(md: str, name: str = "doc.docx") -> Path:
        return markdown_to_docx(md, tmp_path / name)
    return make


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory):
    """The bundled sample and the guide rendered as a PDF (docs/), indexed with the default configuration, dense
    vectors included (index/); built once, by one deterministic add. Read-only for tests: copy it to change it."""
    import docrag

    root = tmp_path_factory.mktemp("sample-index")
    shutil.copytree(SAMPLE, root / "docs")
    guide = (SAMPLE.parent / "guide" / "docrag_guide.md").read_text(encoding="utf-8")
    markdown_to_pdf(guide, root / "docs" / "docrag_guide.pdf")
    (root / "docrag.toml").write_text("", encoding="utf-8")  # the defaults, whatever ./docrag.toml may say
    idx = docrag.Index.open(root / "index", create=True, config=root / "docrag.toml")
    report = idx.add([root / "docs"])
    assert not report.failed, report.failed
    yield idx
    idx.close()


@pytest.fixture(scope="module")
def torch_one_thread():
    """For tests of tiny torch models (``pytestmark = pytest.mark.usefixtures("torch_one_thread")``): a 64-wide model
    gains nothing from intra-op threads, and their spin-waits cost seconds on a busy machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory) -> Path:
    """A tiny random-weight CLIP as a sentence-transformers directory (built once per session)."""
    pytest.importorskip("torch")
    pytest.importorskip("sentence_transformers")
    from tiny_encoders import build_tiny_clip

    return build_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip")
