"""CLIP-style image embedders (``index.image_embedder``): ``clip:PATH_OR_ID`` names a sentence-transformers model
in a local directory, or a hub id already in the local cache (the ``[llm]`` extra), that embeds images and text into
one space. ``docrag.index.image_embed`` stores the vectors of figure crops made with it."""

from __future__ import annotations

import numpy as np

from docrag.config import Config, ModelOptions
from docrag.errors import BackendError
from docrag.models.embed import Embedder
from docrag.models.options import torch_placement
from docrag.models.registry import build, register
from docrag.models.st_embed import import_sentence_transformers, local_model_dir, model_fingerprint


class ClipEmbedder(Embedder):
    """A sentence-transformers model that embeds images and text into one space (CLIP): ``embed_images`` for
    figure crops, ``embed_query`` for questions. The model loads on first use; ``version`` (the directory's
    fingerprint) is known without loading it."""

    def __init__(self, name_or_path: str, *, batch_size: int = 32, options: ModelOptions = ModelOptions()):
        self.name = f"clip:{name_or_path}"
        self.batch_size, self.options = batch_size, options
        self.directory = local_model_dir(self.name, name_or_path)
        self._version = f"{self.directory.name} sha256:{model_fingerprint(self.directory)}"
        self._model = None

    @property
    def version(self) -> str:
        return self._version

    @property
    def dim(self) -> int:  # type: ignore[override]  # only read: Embedder's attribute, as a property
        return int(self._loaded().get_embedding_dimension())

    def embed_images(self, images: list) -> np.ndarray:
        """PIL images -> L2-normalised vectors."""
        if not images:
            return np.empty((0, self.dim), np.float32)
        return self._encode(images)

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([text])[0]

    def _encode(self, inputs: list) -> np.ndarray:
        vectors = self._loaded().encode(inputs, batch_size=self.batch_size, normalize_embeddings=True,
                                        convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _loaded(self):
        if self._model is None:
            st = import_sentence_transformers(self.name)
            device, dtype = torch_placement(self.options)
            try:
                model = st.SentenceTransformer(str(self.directory), device=device, local_files_only=True,
                                               model_kwargs={"dtype": dtype})
            except Exception as e:  # noqa: BLE001 - torch, transformers and safetensors raise their own types
                raise BackendError(f"{self.name}: cannot load the model from {self.directory}: {e}") from None
            if not (model.supports("image") and model.supports("text")):
                raise BackendError(f"{self.name}: the model in {self.directory} does not embed both images and text "
                                   f"(it takes {', '.join(map(str, model.modalities))}); give a CLIP-style model")
            self._model = model
        return self._model


@register("image embedder", "clip", "PATH_OR_ID")
def _clip(target: str, config: Config) -> ClipEmbedder:
    return ClipEmbedder(target, options=config.models)


def make_image_embedder(spec: str, config: Config) -> ClipEmbedder:
    """The image embedder ``spec`` (``index.image_embedder``'s forms) names, built with ``config``."""
    return build("image embedder", spec, config)
