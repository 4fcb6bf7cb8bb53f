"""Local cross-encoder reranker (``cross-encoder:PATH_OR_ID``, the ``[llm]`` extra): a sentence-transformers
CrossEncoder from a local directory or the local Hugging Face cache, never downloaded at run time."""

from __future__ import annotations

from docrag.config import ModelOptions
from docrag.errors import BackendError
from docrag.models.options import torch_placement
from docrag.models.rerank import Reranker
from docrag.models.st_embed import import_sentence_transformers, local_model_dir


class CrossEncoderReranker(Reranker):
    def __init__(self, name_or_path: str, *, max_length: int = 512, options: ModelOptions = ModelOptions()):
        self.name = f"cross-encoder:{name_or_path}"
        st = import_sentence_transformers(self.name)
        import torch

        directory = local_model_dir(self.name, name_or_path)
        device, dtype = torch_placement(options)
        try:
            # Identity: raw logits, not the sigmoid CrossEncoder applies to one-label models by default, so
            # rerank()'s min-max scaling sees the model's own spread instead of a squashed one
            self._model = st.CrossEncoder(str(directory), max_length=max_length, device=device,
                                          local_files_only=True, activation_fn=torch.nn.Identity(),
                                          model_kwargs={"dtype": dtype})
        except Exception as e:  # noqa: BLE001 - torch, transformers and safetensors raise their own types
            raise BackendError(f"{self.name}: cannot load the model from {directory}: {e}") from None

    def score(self, query: str, texts: list[str]) -> list[float]:
        if not texts:
            return []
        # rerank() already batches (and checks its time budget between batches): one forward pass per call
        scores = self._model.predict([(query, text) for text in texts], batch_size=len(texts),
                                     convert_to_numpy=True, show_progress_bar=False)
        return [float(s) for s in scores]
