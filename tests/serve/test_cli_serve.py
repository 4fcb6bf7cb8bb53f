"""`docrag keys` and `docrag serve` as a user runs them."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import httpx
import pytest

pytest.importorskip("fastapi", reason="the server needs docrag[serve]")

from docrag.serve.state import ServerState  # noqa: E402
from tests.test_cli import docrag  # noqa: E402, F401 - the same subprocess helper as the other CLI tests


def test_keys_are_created_listed_and_revoked(tmp_path):
    root = tmp_path / "root"
    made = docrag("keys", "create", "ci", "--kb", "reports:read", "--kb", "*:write", "--root", root)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("drk_") and ServerState(root / "server.sqlite").key_for(key).scopes == {
        "reports": "read", "*": "write"}
    listed = docrag("keys", "list", "--root", root)
    assert "ci" in listed.stdout and "reports:read" in listed.stdout and key not in listed.stdout
    assert docrag("keys", "create", "ci", "--admin", "--root", root).returncode == 1  # the name is taken
    bad = docrag("keys", "create", "x", "--kb", "reports:own", "--root", root)
    assert bad.returncode == 1 and "read, write" in bad.stderr
    assert docrag("keys", "revoke", "ci", "--root", root).returncode == 0
    assert ServerState(root / "server.sqlite").key_for(key) is None
    assert docrag("keys", "revoke", "ci", "--root", root).returncode == 1


def test_serve_refuses_other_hosts_without_keys(tmp_path):
    r = docrag("serve", "--root", tmp_path / "root", "--host", "0.0.0.0", "--port", "1")
    assert r.returncode == 1 and "no API keys" in r.stderr and "refusing" in r.stderr


def test_serve_runs_says_how_it_is_guarded_and_stops_on_ctrl_c(tmp_path):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "docrag.cli", "serve", "--root", str(tmp_path / "root"),
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health").json()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
                time.sleep(0.2)
        assert health["auth"] == "loopback-only"
        assert "/v1/chat/completions" in httpx.get(f"http://127.0.0.1:{port}/openapi.json").json()["paths"]
        assert "<title>" in httpx.get(f"http://127.0.0.1:{port}/").text.lower()
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert "only this machine (loopback)" in stderr
    assert "Traceback" not in stderr


def _serve(root, port):
    proc = subprocess.Popen([sys.executable, "-m", "docrag.cli", "serve", "--root", str(root), "--port", str(port),
                             "--set", "index.dense=false"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health")
            return proc
        except httpx.HTTPError:
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
            time.sleep(0.2)


def test_a_killed_server_loses_nothing_and_finishes_its_job_at_the_next_start(tmp_path):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root, url = tmp_path / "root", f"http://127.0.0.1:{port}"
    files = [("files", (f"note{i:03d}.txt", f"第{i}号笔记。关键词{i}出现在这里。".encode() * 400)) for i in range(300)]
    proc = _serve(root, port)
    try:
        httpx.post(f"{url}/kb", json={"name": "kb"}).raise_for_status()
        job = httpx.post(f"{url}/kb/kb/documents", files=files, timeout=60).json()
        while httpx.get(f"{url}/jobs/{job['id']}").json()["state"] == "queued":
            time.sleep(0.01)
    finally:
        proc.kill()  # SIGKILL: no clean-up of any kind
        proc.wait(30)
    state = ServerState(root / "server.sqlite")
    assert state.job(job["id"]).state == "running"
    proc = _serve(root, port)
    try:
        deadline = time.monotonic() + 120
        while (now := httpx.get(f"{url}/jobs/{job['id']}").json())["state"] in ("queued", "running"):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert now["state"] == "done" and {f["state"] for f in now["files"]} <= {"added", "unchanged"}
        docs = httpx.get(f"{url}/kb/kb/documents").json()["documents"]
        assert len(docs) == 300 and {d["status"] for d in docs} == {"indexed"}
        hits = httpx.post(f"{url}/kb/kb/search", json={"query": "关键词123", "k": 1}).json()["hits"]
        assert hits[0]["document"] == "note123.txt"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
