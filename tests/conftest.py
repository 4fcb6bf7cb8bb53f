"""Shared fixtures. Real PDF and DOCX files are rendered here with examples/make_docs.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "examples"))
sys.path.insert(0, str(ROOT / "tests"))  # shared test helpers: fake_openai, tiny_llm, tiny_encoders

from make_docs import markdown_to_docx, markdown_to_pdf  # noqa: E402

SAMPLE = ROOT / "examples" / "sample"


def shared_data(name: str) -> Path:
    """A data set from ../shared/data, or skip: users' machines don't have it."""
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"../shared/data/{name} is not present (evaluation data lives beside the repo)")
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
def tiny_clip(tmp_path_factory) -> Path:
    """A tiny random-weight CLIP as a sentence-transformers directory (built once per session)."""
    pytest.importorskip("torch")
    pytest.importorskip("sentence_transformers")
    from tiny_encoders import build_tiny_clip

    return build_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip")
