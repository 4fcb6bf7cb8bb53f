"""What every model backend is given, each read here and nowhere else: where a local torch model runs
(``models.device``, ``models.dtype``, ``models.threads``), the API key of model servers and the default server."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from docrag.errors import ConfigError

if TYPE_CHECKING:
    from docrag.config import Config, ModelOptions

DEFAULT_BASE_URL = "http://localhost:8000/v1"  # vLLM's default


def api_key(config: Config) -> str | None:
    """The model servers' API key: the environment variable that ``generate.api_key_env`` names (OPENAI_API_KEY
    by default); None when it is not set."""
    return os.environ.get(config.generate.api_key_env)


def server_url(base_url: str | None) -> str:
    """An OpenAI-compatible server's /v1 address: the configured one, else env OPENAI_BASE_URL, else vLLM's default."""
    return base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL


def torch_placement(options: ModelOptions) -> tuple[str, Any]:
    """(device, dtype) to load a torch model with: the ``auto`` device is CUDA when torch sees a GPU, else the CPU;
    the ``auto`` dtype is float32 on the CPU (half-precision matmuls are slow there) and the weights' own type on a
    GPU. Sets torch's thread count when ``threads`` is given (it is process-wide). Call it once torch is known to
    be installed."""
    import torch

    if options.threads:
        torch.set_num_threads(options.threads)
    device = options.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    elif device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("models.device = 'cuda', but torch sees no CUDA GPU (a CPU build of torch, or no driver); "
                          "use auto or cpu")
    if options.dtype == "auto":
        return device, torch.float32 if device == "cpu" else "auto"
    return device, getattr(torch, options.dtype)
