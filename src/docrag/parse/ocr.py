"""OCR for scanned pages and text inside figures: rapidocr-onnxruntime (PP-OCRv4 zh/en models shipped
in the wheel, so it works offline), loaded once per process, with results cached on disk.

The cache key is the sha256 of the image's pixels (and shape) plus the engine version, so parsing a
file again, or another file holding the same picture, costs no recognition at all.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from docrag.atomic import write_text_atomic

_SETTINGS = "det+rec, no angle classifier, mid-edge boxes"  # part of the cache key: results change with it
_ENGINE_LOCK = threading.Lock()
_ENGINE = None


@dataclass
class OcrBox:
    """One recognised text line; ``bbox`` is (x0, top, x1, bottom) in image pixels."""

    text: str
    bbox: tuple[float, float, float, float]
    score: float


def ocr_available() -> bool:
    return importlib.util.find_spec("rapidocr_onnxruntime") is not None


def cache_root() -> Path:
    """Where docrag keeps derived data that is costly to recompute ($DOCRAG_CACHE, else ~/.cache/docrag)."""
    return Path(os.environ.get("DOCRAG_CACHE") or Path.home() / ".cache" / "docrag")


def image_sha(image: np.ndarray) -> str:
    """sha256 of an image's pixels and shape: the same picture gets the same name wherever it comes from."""
    image = np.ascontiguousarray(image)
    h = hashlib.sha256(f"{image.shape}{image.dtype}".encode())
    h.update(image.data)
    return h.hexdigest()


def _engine():
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            from rapidocr_onnxruntime import RapidOCR

            _ENGINE = RapidOCR()
        return _ENGINE


def _engine_version() -> str:
    from importlib.metadata import version

    return f"rapidocr-onnxruntime-{version('rapidocr-onnxruntime')}"


class OCR:
    """``read(image)`` -> text lines with boxes; ``image`` is H x W x 3 uint8 RGB."""

    def __init__(self, cache_dir: Path | None = None, min_score: float = 0.5):
        self.cache_dir = Path(cache_dir) if cache_dir else cache_root() / "ocr"
        self.min_score = min_score
        self._version = _engine_version()

    def read(self, image: np.ndarray) -> list[OcrBox]:
        key = hashlib.sha256(f"{self._version}:{_SETTINGS}:{self.min_score}:{image_sha(image)}".encode()).hexdigest()
        path = self.cache_dir / key[:2] / f"{key}.json"
        try:
            return [OcrBox(b["text"], tuple(b["bbox"]), b["score"]) for b in json.loads(path.read_text("utf-8"))]
        except (OSError, ValueError, KeyError, TypeError):
            pass  # not cached yet (or a damaged entry): recognise again
        boxes = self._recognise(image)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, json.dumps([asdict(b) for b in boxes], ensure_ascii=False))
        except OSError:
            pass  # a read-only cache only costs speed
        return boxes

    def read_many(self, images: list[np.ndarray]) -> list[list[OcrBox]]:
        """Several images (a document's scanned pages, its figures): cached ones cost nothing; the
        engine parallelises inside each image across the cores, so the rest run one after another."""
        return [self.read(image) for image in images]

    def _recognise(self, image: np.ndarray) -> list[OcrBox]:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"OCR needs an H x W x 3 uint8 RGB image, got {image.shape} {image.dtype}")
        if min(image.shape[:2]) < 8:
            return []
        # the engine wants BGR; its angle classifier is off: rendered pages are upright, and it turned some
        # English lines upside down
        result, _ = _engine()(np.ascontiguousarray(image[:, :, ::-1]), use_cls=False, text_score=self.min_score)
        boxes = []
        for points, text, score in result or []:
            # points: top-left, top-right, bottom-right, bottom-left of a slightly rotated quad; top and
            # bottom are its edges' middles (the corners' extremes overstate a long line's height)
            xs = [p[0] for p in points]
            top, bottom = (points[0][1] + points[1][1]) / 2, (points[2][1] + points[3][1]) / 2
            if text.strip():
                boxes.append(OcrBox(text.strip(), (float(min(xs)), float(top), float(max(xs)), float(bottom)),
                                    float(score)))
        return boxes
