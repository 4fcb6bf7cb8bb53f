"""Figure image embeddings (index.image_embedder = clip:PATH) with a tiny random-weight CLIP built in the test:
the crops kept by the parser, their vectors in the index (incremental, resumable, recomputed for another model),
the image search fused into hybrid search, loading errors, and an index without it left as it was. Random
weights: these tests check mechanics, never retrieval quality."""

from __future__ import annotations

import io
import logging
import shutil
import sys

import numpy as np
import pytest
from tiny_encoders import build_tiny_bi_encoder, build_tiny_clip

import docrag
from docrag.config import Config, ParseConfig
from docrag.errors import BackendError, ConfigError
from docrag.index.image_embed import FIGURES_DIR, META_KEY, VECTOR_TABLE
from docrag.models.clip import ClipEmbedder, make_image_embedder
from docrag.parse import parse
from docrag.parse.pdf import PICTURE_TEXT
from docrag.retrieve import HybridRetriever
from docrag.retrieve.image import ImageFusion, ImageRetriever
from docrag.types import Filter

QUERY = "a photo of a red square"


def picture(color, stripes=None):
    """A 300 x 180 picture: one colour, optionally with stripes of another (pictures that embed apart)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (300, 180), color)
    if stripes:
        draw = ImageDraw.Draw(image)
        for x in range(0, 300, 40):
            draw.rectangle([x, 0, x + 15, 180], fill=stripes)
    return image


def picture_pdf(path, image, text="Quarterly sales of green tea rose again in the northern region."):
    """A page of text and a picture with no caption and no text on or in it: only its pixels can find it."""
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=(595, 842))
    c.setFont("Helvetica", 10)
    c.drawString(60, 780, text)
    c.drawImage(ImageReader(image), 100, 500, width=300, height=180)
    c.drawString(60, 440, "The next section turns to costs.")
    c.showPage()
    c.save()
    return path


def open_index(path, clip=None, **overrides):
    image = {"image_embedder": f"clip:{clip}"} if clip else {}
    return docrag.Index.open(path, create=True, ocr="off", **image, **overrides)


def figure_vectors(idx) -> dict[int, np.ndarray]:
    ids, mat = idx.store.embeddings(idx.store.get_meta(META_KEY)["dim"], VECTOR_TABLE)
    return dict(zip(ids.tolist(), mat))


def figure_hits(idx):
    ids = idx.store.chunk_ids(Filter(kinds=("figure",))).tolist()
    return idx.store.hits([(i, 0.0) for i in ids])


def model_vectors(clip, inputs) -> np.ndarray:
    """The same vectors computed with sentence-transformers directly (images or texts)."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(clip), device="cpu").encode(inputs, normalize_embeddings=True)


@pytest.fixture
def pdfs(tmp_path):
    d = tmp_path / "docs"
    d.mkdir()
    picture_pdf(d / "first.pdf", picture((220, 30, 30)))
    picture_pdf(d / "second.pdf", picture((30, 60, 200), stripes=(250, 250, 250)))
    return d


# --- configuration and parsing (no model needed) ------------------------------------------------------

def test_an_image_embedder_turns_figure_images_on_and_only_then_changes_the_parse_signature():
    assert not Config().parse.figure_images
    assert Config.load(None, image_embedder="clip:/m").parse.figure_images
    assert ParseConfig().signature() == "ocr=auto,fig=True,tables=True,area=0.02,vlm=None"  # indexes made before
    assert ParseConfig(figure_images=True).signature().endswith(",images")


def test_figure_images_keep_a_picture_without_text_with_its_crop(pdfs):
    from PIL import Image

    path = pdfs / "first.pdf"
    assert "figure" not in [b.kind for b in parse(path, options=ParseConfig(ocr="off")).blocks]
    doc = parse(path, options=ParseConfig(ocr="off", figure_images=True))
    (fig,) = [b for b in doc.blocks if b.kind == "figure"]
    assert fig.text == PICTURE_TEXT and not fig.figure.caption and not fig.figure.ocr_text
    crop = Image.open(io.BytesIO(fig.figure.png))
    assert crop.size == pytest.approx((600, 360), abs=2)  # 300 x 180 points at 2x
    assert crop.convert("RGB").getpixel((300, 180)) == pytest.approx((220, 30, 30), abs=3)


# --- ingest ----------------------------------------------------------------------------------------------

def test_ingest_embeds_each_figure_image_as_the_model_does(tmp_path, pdfs, tiny_clip):
    from PIL import Image

    idx = open_index(tmp_path / "ix", tiny_clip)
    report = idx.add(pdfs)
    assert not report.failed and report.embedded_images == 2 and "2 figure images embedded" in report.summary()
    figures = figure_hits(idx)
    assert len(figures) == 2 and all(h.text == PICTURE_TEXT for h in figures)
    vectors = figure_vectors(idx)
    assert set(vectors) == {h.chunk_id for h in figures}
    pngs = [tmp_path / "ix" / FIGURES_DIR / f"{h.extra['image_sha']}.png" for h in figures]
    expected = model_vectors(tiny_clip, [Image.open(p).convert("RGB") for p in pngs])
    for h, want in zip(figures, expected):
        np.testing.assert_allclose(vectors[h.chunk_id], want, atol=2e-3)  # stored as float16
    made_by = idx.store.get_meta(META_KEY)
    assert made_by["name"] == f"clip:{tiny_clip}" and made_by["dim"] == 16 and "sha256:" in made_by["version"]
    again = idx.add(pdfs)
    assert again.embedded_images == 0 and not again.changed
    info = idx.info()
    assert info["image_vectors"] == 2 and info["image_embedder"]["name"] == f"clip:{tiny_clip}"


def test_image_retriever_scores_are_the_models_cosine_similarities(tmp_path, pdfs, tiny_clip):
    idx = open_index(tmp_path / "ix", tiny_clip)
    idx.add(pdfs)
    retriever = ImageRetriever(idx.figures.vectors(), idx.figures.embedder(), ids_for=idx.store.chunk_ids)
    ranked = retriever.search(QUERY, 5)
    vectors = figure_vectors(idx)
    query = model_vectors(tiny_clip, [QUERY])[0]
    assert [cid for cid, _ in ranked] == sorted(vectors, key=lambda cid: -float(vectors[cid] @ query))
    for cid, score in ranked:
        assert score == pytest.approx(float(vectors[cid] @ query), abs=1e-5)
    first = ranked[0][0]
    second = idx.store.hits([ranked[1]])[0].doc_path
    assert {cid for cid, _ in retriever.search(QUERY, 5, Filter(doc_paths=(second,)))} == {
        cid for cid, _ in ranked if idx.store.hits([(cid, 0)])[0].doc_path == second}
    assert retriever.search(QUERY, 5, Filter(doc_paths=("/nowhere.pdf",))) == []
    assert first in vectors


def test_hybrid_search_finds_a_picture_through_its_image(tmp_path, pdfs, tiny_clip):
    for k in range(6):  # text that matches the query's words, ahead of the picture in the text search
        (pdfs / f"note{k}.md").write_text(f"# Note {k}\n\nA photo of a red square, shot number {k}.\n")
    idx = open_index(tmp_path / "ix", tiny_clip, image_min_similarity=-1.0)  # random weights: any similarity
    idx.add(pdfs)
    assert isinstance(idx.searcher.retriever("hybrid"), ImageFusion) and isinstance(idx.searcher.retriever("dense"), ImageFusion)
    best, similarity = ImageRetriever(idx.figures.vectors(), idx.figures.embedder()).search(QUERY, 1)[0]
    for mode in ("hybrid", "dense", "graph"):
        hits = idx.search(QUERY, k=3, mode=mode)
        assert best in [h.chunk_id for h in hits if h.kind == "figure"], mode
    text_only = open_index(tmp_path / "ix", tiny_clip, image_weight=0.0)
    assert best not in [h.chunk_id for h in text_only.search(QUERY, k=3)]
    # a figure less similar to the question than image_min_similarity is not brought in by its image
    unlike = open_index(tmp_path / "ix", tiny_clip, image_min_similarity=min(similarity + 1e-3, 1.0))
    assert best not in [h.chunk_id for h in unlike.search(QUERY, k=3)]
    assert len({h.extra["image_sha"] for h in figure_hits(idx)}) == 2  # same placeholder text, both kept
    assert len([h for h in idx.search(QUERY, k=10) if h.kind == "figure"]) == 2


def test_removed_and_changed_documents_take_their_image_vectors_and_pngs_along(tmp_path, pdfs, tiny_clip):
    idx = open_index(tmp_path / "ix", tiny_clip)
    idx.add(pdfs)
    figures_dir = tmp_path / "ix" / FIGURES_DIR
    before = {h.doc_path: h for h in figure_hits(idx)}
    first, second = str(pdfs / "first.pdf"), str(pdfs / "second.pdf")

    idx.remove(pdfs / "first.pdf")
    assert set(figure_vectors(idx)) == {before[second].chunk_id}
    assert {p.stem for p in figures_dir.iterdir()} == {before[second].extra["image_sha"]}

    picture_pdf(pdfs / "second.pdf", picture((20, 160, 40)))  # another picture in the same file
    report = idx.add(pdfs / "second.pdf")
    assert report.updated and report.embedded_images == 1
    (now,) = figure_hits(idx)
    assert now.extra["image_sha"] != before[second].extra["image_sha"]
    assert set(figure_vectors(idx)) == {now.chunk_id}
    assert {p.stem for p in figures_dir.iterdir()} == {now.extra["image_sha"]}
    assert first not in idx.store.docs()


def test_an_interrupted_image_embedding_resumes(tmp_path, pdfs, tiny_clip, monkeypatch):
    idx = open_index(tmp_path / "ix", tiny_clip, embed_batch=1)
    real = ClipEmbedder.embed_images
    calls = []

    def fail_second(self, images):
        calls.append(len(images))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, images)

    monkeypatch.setattr(ClipEmbedder, "embed_images", fail_second)
    with pytest.raises(KeyboardInterrupt):
        idx.add(pdfs)
    assert len(figure_vectors(idx)) == 1  # the first batch was committed
    monkeypatch.setattr(ClipEmbedder, "embed_images", real)
    report = open_index(tmp_path / "ix", tiny_clip, embed_batch=1).add(pdfs)
    assert report.embedded_images == 1 and len(figure_vectors(idx)) == 2


def test_another_image_embedder_makes_the_vectors_again(tmp_path, pdfs, tiny_clip, caplog):
    idx = open_index(tmp_path / "ix", tiny_clip)
    idx.add(pdfs)
    old = figure_vectors(idx)
    other = build_tiny_clip(tmp_path / "other-clip", seed=1)

    switched = open_index(tmp_path / "ix", other)
    with caplog.at_level(logging.WARNING):  # until an ingest, the old model's vectors are not searched
        assert switched.figures.vectors() is None and isinstance(switched.searcher.retriever(), HybridRetriever)
    assert "made by" in caplog.text
    report = switched.add(pdfs)
    assert report.embedded_images == 2 and not report.changed
    new = figure_vectors(switched)
    assert set(new) == set(old) and max(np.abs(new[c] - old[c]).max() for c in new) > 0.05
    assert switched.store.get_meta(META_KEY)["name"] == f"clip:{other}"
    assert isinstance(switched.searcher.retriever(), ImageFusion)

    copied = shutil.copytree(tiny_clip, tmp_path / "copied-clip")  # same files, other name: made again too
    assert open_index(tmp_path / "ix", copied).add(pdfs).embedded_images == 2


def test_a_plain_hugging_face_clip_directory_works_too(tmp_path, tiny_clip):
    plain = shutil.copytree(tiny_clip, tmp_path / "plain-clip")
    for name in ("modules.json", "config_sentence_transformers.json", "sentence_bert_config.json", "README.md"):
        (plain / name).unlink()
    np.testing.assert_allclose(ClipEmbedder(str(plain)).embed_query(QUERY), model_vectors(tiny_clip, [QUERY])[0],
                               atol=1e-6)


# --- errors and the default ------------------------------------------------------------------------------

def test_bad_image_embedder_specs_and_paths_are_clear_errors(tmp_path, tiny_clip, monkeypatch):
    for spec in ("siglip:/m", "clip:", "clip"):
        with pytest.raises(ConfigError, match="use clip:PATH"):
            make_image_embedder(spec, Config())
    with pytest.raises(BackendError, match=f"no such model directory: {tmp_path / 'nowhere'}"):
        make_image_embedder(f"clip:{tmp_path / 'nowhere'}", Config())
    text_only = build_tiny_bi_encoder(tmp_path / "bert")
    with pytest.raises(BackendError, match="does not embed both images and text"):
        ClipEmbedder(str(text_only)).embed_query("x")
    broken = shutil.copytree(tiny_clip, tmp_path / "broken")
    (broken / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(BackendError, match=f"cannot load the model from {broken}"):
        ClipEmbedder(str(broken)).embed_query("x")
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(BackendError, match=r"install the \[llm\] extra"):
        ClipEmbedder(str(tiny_clip)).embed_query("x")


def test_an_index_without_image_embedder_is_as_before(tmp_path, pdfs):
    idx = open_index(tmp_path / "ix")
    report = idx.add(pdfs)
    assert not report.failed and report.embedded_images == 0
    assert not figure_hits(idx)  # pictures without text are left out, as before
    assert not (tmp_path / "ix" / FIGURES_DIR).exists() and idx.store.get_meta(META_KEY) is None
    assert idx.figures.vectors() is None and isinstance(idx.searcher.retriever(), HybridRetriever)
    assert all(",images" not in r.chunk_sig for r in idx.store.docs().values())
