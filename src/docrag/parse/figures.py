"""Figures in PDFs: image objects found with pdfium's raw API, their crops rendered, captions
recognised, and an optional description by a vision-language model (``docrag.models.vision``; cached by
image hash and model).
"""

from __future__ import annotations

import ctypes
import hashlib
import io
import json
import logging
import re

import numpy as np

from docrag.atomic import write_text_atomic
from docrag.models.vision import VisionModel
from docrag.parse.ocr import cache_root

log = logging.getLogger(__name__)

BBox = tuple[float, float, float, float]

_NUMBER = r"[0-9一二三四五六七八九十百]+(?:[-.．][0-9]+)*"
FIGURE_CAPTION = re.compile(rf"^(?:图表?\s*{_NUMBER}|(?:Figure|FIGURE|Fig\.|FIG\.)\s*[0-9]+(?:[-.][0-9]+)*(?![0-9,]))")
TABLE_CAPTION = re.compile(rf"^(?:续?表\s*{_NUMBER}|续表|续上表|(?:Table|TABLE)\s+[0-9]+(?:[-.][0-9]+)*(?![0-9,])"
                           r"|(?:Table|TABLE)\s+[IVX]+\b)")


def address(handle) -> int:
    """A pdfium handle (or function) as a plain address; ctypes reads NULL as None, which is 0 here."""
    return ctypes.cast(handle, ctypes.c_void_p).value or 0


def pdfium_function(name: str, restype, *argtypes):
    """A pdfium function taking plain addresses: pypdfium2's typed wrappers cost more than the call
    itself in loops over every object or character of a page."""
    import pypdfium2.raw as pdfium_c

    return ctypes.CFUNCTYPE(restype, *argtypes)(address(getattr(pdfium_c, name)))


_V, _I = ctypes.c_void_p, ctypes.c_int
_COUNT_OBJECTS = pdfium_function("FPDFPage_CountObjects", _I, _V)
_GET_OBJECT = pdfium_function("FPDFPage_GetObject", _V, _V, _I)
_OBJECT_TYPE = pdfium_function("FPDFPageObj_GetType", _I, _V)
_FORM_COUNT = pdfium_function("FPDFFormObj_CountObjects", _I, _V)
_FORM_OBJECT = pdfium_function("FPDFFormObj_GetObject", _V, _V, ctypes.c_ulong)
_IMAGE, _FORM = 3, 5  # FPDF_PAGEOBJ_IMAGE, FPDF_PAGEOBJ_FORM


def image_objects(page, left: float, top: float) -> list[tuple[BBox, int]]:
    """Every image object on the page, inside forms too: (box in PDF points with a top-left origin,
    object address). Form contents are placed through the form's matrix."""
    import pypdfium2.raw as pdfium_c

    found: list[tuple[BBox, int]] = []

    def bounds(obj: int, matrix: np.ndarray) -> BBox:
        lft, btm, rgt, tp = (ctypes.c_float() for _ in range(4))
        pdfium_c.FPDFPageObj_GetBounds(ctypes.cast(obj, pdfium_c.FPDF_PAGEOBJECT), lft, btm, rgt, tp)
        corners = np.array([[lft.value, btm.value, 1], [rgt.value, tp.value, 1],
                            [lft.value, tp.value, 1], [rgt.value, btm.value, 1]]) @ matrix
        return (float(corners[:, 0].min()) - left, top - float(corners[:, 1].max()),
                float(corners[:, 0].max()) - left, top - float(corners[:, 1].min()))

    def form_matrix(obj: int, outer: np.ndarray) -> np.ndarray:
        m = pdfium_c.FS_MATRIX()
        pdfium_c.FPDFPageObj_GetMatrix(ctypes.cast(obj, pdfium_c.FPDF_PAGEOBJECT), m)
        return np.array([[m.a, m.b, 0], [m.c, m.d, 0], [m.e, m.f, 1]]) @ outer

    def walk(objects: list[int], matrix: np.ndarray, depth: int):
        for obj in objects:
            kind = _OBJECT_TYPE(obj)
            if kind == _IMAGE:
                found.append((bounds(obj, matrix), obj))
            elif kind == _FORM and depth < 8:
                inner = form_matrix(obj, matrix)
                walk([_FORM_OBJECT(obj, k) for k in range(max(_FORM_COUNT(obj), 0))], inner, depth + 1)

    raw = address(page.raw)
    walk([_GET_OBJECT(raw, k) for k in range(max(_COUNT_OBJECTS(raw), 0))], np.eye(3), 0)
    return found


def merge_touching(boxes: list[tuple[BBox, list[int]]], slack: float = 2.0) -> list[tuple[BBox, list[int]]]:
    """Union boxes that overlap or touch: a picture stored as strips or tiles is one figure."""
    merged = list(boxes)
    changed = True
    while changed:
        changed = False
        out: list[tuple[BBox, list[int]]] = []
        for box, members in merged:
            for k, (other, other_members) in enumerate(out):
                if (box[0] <= other[2] + slack and other[0] <= box[2] + slack
                        and box[1] <= other[3] + slack and other[1] <= box[3] + slack):
                    out[k] = ((min(box[0], other[0]), min(box[1], other[1]), max(box[2], other[2]),
                               max(box[3], other[3])), other_members + members)
                    changed = True
                    break
            else:
                out.append((box, members))
        merged = out
    return merged


def image_data_sha(objects: list[int]) -> str:
    """sha256 of the images' stored (still encoded) data: names a figure the same way whatever renders it."""
    import pypdfium2.raw as pdfium_c

    h = hashlib.sha256()
    for obj in objects:
        handle = ctypes.cast(obj, pdfium_c.FPDF_PAGEOBJECT)
        size = pdfium_c.FPDFImageObj_GetImageDataRaw(handle, None, 0)
        if size:
            buf = ctypes.create_string_buffer(size)
            pdfium_c.FPDFImageObj_GetImageDataRaw(handle, buf, size)
            h.update(buf.raw)
    return h.hexdigest()


def page_pictures(page, left: float, top: float, width: float, height: float) -> list[tuple[BBox, list[int]]]:
    """The page's pictures: image objects clipped to the page, tiles merged; (box, object addresses)."""
    images = []
    for b, obj in image_objects(page, left, top):
        box = (max(b[0], 0.0), max(b[1], 0.0), min(b[2], width), min(b[3], height))
        if box[2] > box[0] and box[3] > box[1]:
            images.append((box, [obj]))
    return merge_touching(images)


def area_share(box: BBox, width: float, height: float) -> float:
    return (box[2] - box[0]) * (box[3] - box[1]) / max(width * height, 1.0)


def render(page, scale: float, bbox: BBox | None = None) -> np.ndarray:
    """The page (or the ``bbox`` region of it, PDF points from the top left) as H x W x 3 uint8 RGB."""
    width, height = page.get_size()
    crop = (0, 0, 0, 0) if bbox is None else (
        max(bbox[0], 0), max(height - bbox[3], 0), max(width - bbox[2], 0), max(bbox[1], 0))
    bitmap = page.render(scale=scale, crop=crop, rev_byteorder=True)
    try:
        image = bitmap.to_numpy()
        return np.ascontiguousarray(image[:, :, :3]) if image.ndim == 3 else np.stack([image] * 3, axis=-1)
    finally:
        bitmap.close()


class FigureDescriber:
    """Describes figure crops with a vision model (``parse.vlm``); answers are cached on disk by image sha, caption
    and model."""

    PROMPT = ("Describe this figure from a document so that it can be found by search: say what kind of "
              "figure it is, its title, what the axes or parts show, the key numbers and the trend. Answer in "
              "the language of the text in the figure, in at most 120 words.")

    def __init__(self, vlm: VisionModel):
        self.vlm = vlm
        self.cache_dir = cache_root() / "vlm"

    def describe(self, image: np.ndarray, sha: str, caption: str = "") -> str:
        key = hashlib.sha256(f"{self.vlm.model}:{sha}:{caption}".encode()).hexdigest()
        path = self.cache_dir / key[:2] / f"{key}.json"
        try:
            return json.loads(path.read_text("utf-8"))["description"]
        except (OSError, ValueError, KeyError):
            pass
        prompt = self.PROMPT + (f"\nIts caption: {caption}" if caption else "")
        text = self.vlm.describe(png_bytes(image), prompt)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, json.dumps({"model": self.vlm.model, "description": text}, ensure_ascii=False))
        except OSError:
            log.warning("cannot write the figure description cache under %s", self.cache_dir)
        return text


def png_bytes(image: np.ndarray) -> bytes:
    """An H x W x 3 RGB crop as PNG."""
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(image).save(out, format="PNG")
    return out.getvalue()
