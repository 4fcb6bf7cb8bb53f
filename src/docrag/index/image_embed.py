"""Figures found by their pictures: CLIP-style image embeddings (``index.image_embedder``).

``clip:PATH`` names a sentence-transformers CLIP model (``docrag.models.clip``): it embeds images and text into one
space, so each figure's crop is embedded as an image and a question, through the text tower, finds the figure
directly, whether it has text or not.

The crops come from the parser (``parse.figure_images``, on whenever an image embedder is set), which keeps
pictures without any text too; ingestion stores them as ``<index>/figures/<image_sha>.png`` (content-addressed,
written atomically; a UI can show a citation's figure from there) and deletes the ones no chunk names any more.
Image vectors live in the store beside the text vectors, in a table of their own (another space and dimension),
and go with their chunks when a document is removed or re-ingested; the model that made them is recorded in the
store's meta, and when the configured one differs (name or files) they are dropped and made again.
"""

from __future__ import annotations

import logging
from pathlib import Path

from docrag.atomic import write_bytes_atomic
from docrag.config import Config
from docrag.errors import ConfigError
from docrag.index.storage import Storage
from docrag.index.vectors import VectorIndex
from docrag.models.clip import ClipEmbedder, make_image_embedder
from docrag.types import Document, Progress

log = logging.getLogger(__name__)

FIGURES_DIR = "figures"  # in the index directory
VECTOR_TABLE = "image_embeddings"
META_KEY = "image_embedder"  # {"name", "version", "dim"} of the model that made the stored image vectors


def save_figure_images(doc: Document, directory: Path) -> None:
    """The crops the parser kept (``parse.figure_images``) as ``directory/<image_sha>.png``; a picture already
    there is the same picture (named by the sha256 of its image data) and stays."""
    for block in doc.blocks:
        figure = block.figure
        if figure is None or not figure.png or not figure.image_sha:
            continue
        path = directory / f"{figure.image_sha}.png"
        if path.exists():
            continue
        try:
            directory.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(path, figure.png)
        except OSError as e:  # the figure loses its image vector, the document nothing else
            log.warning("%s: figure image not saved to %s: %s", doc.path, path, e)


class FigureImages:
    """An index's figure images: the PNGs under ``directory``, their vectors in the store and the image embedder
    (``config.index.image_embedder``; None: none configured)."""

    def __init__(self, directory: Path, store: Storage, config: Config):
        self.directory, self.store, self.config = directory, store, config
        self._embedder: ClipEmbedder | None = None
        self._vectors: VectorIndex | None = None
        self._vectors_key: tuple[int, int, str] | None = None

    def embedder(self) -> ClipEmbedder:
        if self._embedder is None:
            spec = self.config.index.image_embedder
            if spec is None:
                raise ConfigError("no image embedder configured (index.image_embedder)")
            self._embedder = make_image_embedder(spec, self.config)
        return self._embedder

    def embed_pending(self, progress: Progress | None = None) -> int:
        """Embed the figures that have no image vector yet, in checkpointed batches (an interrupted run resumes);
        vectors another model made are dropped first. Returns how many were embedded."""
        if not self.config.index.image_embedder:
            return 0
        embedder = self.embedder()
        made_by = self.store.get_meta(META_KEY)
        if made_by is None or (made_by["name"], made_by["version"]) != (embedder.name, embedder.version):
            record = {"name": embedder.name, "version": embedder.version, "dim": embedder.dim}  # dim loads the model
            with self.store.transaction():  # together: vectors never sit beside another model's record
                self.store.clear_embeddings(VECTOR_TABLE)
                self.store.set_meta(META_KEY, record)
        todo = self.store.figures_missing_image_vectors()
        done = missing = 0
        batch = self.config.index.embed_batch
        for start in range(0, len(todo), batch):
            ids, images = [], []
            for chunk_id, sha in todo[start:start + batch]:
                image = self._image(sha)
                if image is None:
                    missing += 1
                else:
                    ids.append(chunk_id)
                    images.append(image)
            if ids:
                self.store.put_embeddings(ids, embedder.embed_images(images), VECTOR_TABLE)
            done += len(ids)
            if progress:
                progress("embed images", min(start + batch, len(todo)), len(todo))
        if missing:
            log.warning("%d figures have no image under %s: they get no image vector", missing, self.directory)
        self._vectors = None
        return done

    def _image(self, sha: str | None):
        from PIL import Image

        if not sha:
            return None
        path = self.directory / f"{sha}.png"
        if not path.is_file():
            return None
        try:
            with Image.open(path) as image:
                return image.convert("RGB")
        except OSError as e:
            log.warning("unreadable figure image %s: %s", path, e)
            return None

    def vectors(self) -> VectorIndex | None:
        """The image vectors, when there are some made by the configured model (reloaded when the store changed);
        else None."""
        if not self.config.index.image_embedder:
            return None
        last_id = self.store.last_embedded_id(VECTOR_TABLE)
        if last_id is None:
            return None
        made_by = self.store.get_meta(META_KEY)
        # vectors made again by another model within one generation keep their ids: the record tells them apart
        key = (self.store.generation, last_id, str(made_by))
        if self._vectors_key != key:
            embedder = self.embedder()
            if (made_by["name"], made_by["version"]) != (embedder.name, embedder.version):
                log.warning("figure image vectors were made by %s (%s), not %s (%s): searches leave them out "
                            "until an ingest makes them again", made_by["name"], made_by["version"],
                            embedder.name, embedder.version)
                self._vectors = None
            else:
                ids, mat = self.store.embeddings(made_by["dim"], VECTOR_TABLE)
                self._vectors = VectorIndex(ids, mat, self.config.index.hnsw_threshold)
            self._vectors_key = key
        return self._vectors

    def prune(self) -> int:
        """Delete the PNGs no figure chunk names any more (their documents were removed or changed; all of them
        when ``parse.figure_images`` is off) and leftovers of interrupted writes. Returns how many."""
        if not self.directory.is_dir():
            return 0
        keep = self.store.figure_image_shas() if self.config.parse.figure_images else set()
        gone = [p for p in self.directory.iterdir()
                if p.name.startswith(".") or (p.suffix == ".png" and p.stem not in keep)]
        for p in gone:
            p.unlink(missing_ok=True)
        return len(gone)
