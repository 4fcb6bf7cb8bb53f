"""``docrag serve``: knowledge bases over REST, an OpenAI-compatible API and a web page (needs ``docrag[serve]``)."""

from __future__ import annotations

from docrag.errors import ConfigError
from docrag.serve.app import ServerSettings


def run(settings: ServerSettings, host: str = "127.0.0.1", port: int = 8000, say=print) -> None:
    """Serve until interrupted. With no API key under the root, only loopback is served, and said so."""
    import uvicorn

    from docrag.serve.app import STATE_DB, create_app, is_loopback
    from docrag.serve.state import ServerState

    settings.root.mkdir(parents=True, exist_ok=True)  # a new root (the default one on a fresh machine) is made
    has_keys = ServerState(settings.root / STATE_DB).has_keys()
    if not has_keys and not is_loopback(host):
        raise ConfigError(f"no API keys under {settings.root}: refusing to listen on {host}; create one with "
                          f"`docrag keys create NAME --admin --root {settings.root}`, or serve on 127.0.0.1")
    say(f"docrag serving {settings.root} on http://{host}:{port} (web page /, API /docs)")
    say("API keys required (Authorization: Bearer KEY)" if has_keys else
        "no API keys configured: only this machine (loopback) may connect")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


__all__ = ["ServerSettings", "run"]
