"""A docrag server on loopback, in a thread of the test process, for clients that speak real HTTP (the openai
client, the web page in Chromium). A plugin (``pytest_plugins = ["live_server"]``), not a conftest: a second
conftest module would shadow the top one's helpers that tests import as ``conftest``."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from docrag.config import Config
from docrag.serve.app import ServerSettings, create_app


@dataclass
class LiveServer:
    url: str
    root: Path
    settings: ServerSettings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(root: Path, **settings) -> tuple[uvicorn.Server, threading.Thread, LiveServer]:
    config = settings.pop("config", None) or Config().updated(dense=False)
    server_settings = ServerSettings(root=root, config=config, **settings)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(server_settings), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    return server, thread, LiveServer(f"http://127.0.0.1:{port}", root, server_settings)


@pytest.fixture
def serve(tmp_path):
    """Start servers: ``serve(**settings)`` (ServerSettings fields) under a temporary root; stopped afterwards."""
    running = []

    def start(**settings) -> LiveServer:
        server, thread, live = start_server(tmp_path / f"root{len(running)}", **settings)
        running.append((server, thread))
        return live
    yield start
    for server, thread in running:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def live_server(serve):
    """A fresh server (BM25 only, so ingest jobs take no embedding time) under a temporary root."""
    return serve()
