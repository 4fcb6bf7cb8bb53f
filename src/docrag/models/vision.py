"""Vision-language models, picked by ``parse.vlm``: ``openai:MODEL``, a chat model that reads images behind an
OpenAI-compatible ``/chat/completions`` endpoint (vLLM, Ollama, api.openai.com) at ``parse.vlm_base_url``.
``docrag.parse.figures`` asks them to describe figures."""

from __future__ import annotations

import base64

from docrag.config import Config
from docrag.models.options import api_key, server_url
from docrag.models.registry import build, register


class VisionModel:
    name: str = ""
    model: str = ""  # the model's own name (the answers cached for a picture are keyed by it)

    def describe(self, png: bytes, prompt: str) -> str:
        """The model's answer to ``prompt`` about the picture (PNG data)."""
        raise NotImplementedError


class OpenAIVision(VisionModel):
    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 timeout: float = 120.0):
        from docrag.http import JSONClient  # here: the parsers import this module, httpx only a configured model

        self.model, self.name = model, f"openai:{model}"
        self._client = JSONClient(server_url(base_url), api_key, timeout=timeout, what="vision model")

    def describe(self, png: bytes, prompt: str) -> str:
        image = "data:image/png;base64," + base64.b64encode(png).decode()
        body = self._client.post("/chat/completions", {
            "model": self.model, "temperature": 0, "max_tokens": 400,
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": prompt}, {"type": "image_url", "image_url": {"url": image}}]}]})
        try:
            return (body["choices"][0]["message"]["content"] or "").strip()
        except (KeyError, IndexError, TypeError):
            raise self._client.unexpected("/chat/completions", "no choices", body) from None


@register("vision model", "openai", "MODEL")
def _openai(target: str, config: Config) -> VisionModel:
    return OpenAIVision(target, base_url=config.parse.vlm_base_url, api_key=api_key(config))


def make_vlm(spec: str, config: Config) -> VisionModel:
    """The vision model ``spec`` (``parse.vlm``'s forms) names, built with ``config``."""
    return build("vision model", spec, config)
