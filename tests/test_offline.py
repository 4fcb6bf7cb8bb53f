"""Offline by default: ingest (OCR included), search and ask open no socket and write nothing outside the index and
docrag's cache, run in a fresh process with an empty HOME and TMPDIR and a socket module that refuses and records
every connection or name lookup (a sitecustomize, so it is in place before anything is imported)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import figure_pdf, text_image

from docrag.parse.ocr import ocr_available

GUARD = """
import os
import socket

def _refuse(what):
    def refuse(*args, **kwargs):
        with open(os.environ["NETWORK_LOG"], "a", encoding="utf-8") as log:
            log.write(f"{what} {args!r}\\n")
        raise OSError(f"{what} refused: docrag must not need the network here")
    return refuse

for name in ("connect", "connect_ex"):
    setattr(socket.socket, name, _refuse(f"socket.{name}"))
for name in ("create_connection", "getaddrinfo", "gethostbyname", "gethostbyname_ex"):
    setattr(socket, name, _refuse(f"socket.{name}"))
"""

RUN = """
import json, sys
import docrag

idx = docrag.Index.open(sys.argv[1], create=True, dense=True)
report = idx.add([sys.argv[2]])
hits = idx.search("quarterly revenue in 2022", mode="hybrid")
answer = idx.ask("龙井茶产自哪里？")
print(json.dumps({"failed": [r.reason for r in report.failed], "embedded": report.embedded,
                  "hits": [h.text for h in hits], "answer": answer.text}, ensure_ascii=False))
"""


@pytest.mark.skipif(not ocr_available(), reason="rapidocr-onnxruntime is not installed")
def test_ingest_search_and_ask_stay_offline(tmp_path, sample_dir):
    docs = tmp_path / "docs"
    shutil.copytree(sample_dir, docs)
    figure_pdf(docs / "revenue.pdf", text_image(["Revenue grew 12% to $4,210 million in 2022."]))
    home, tmp, guard = tmp_path / "home", tmp_path / "tmp", tmp_path / "guard"
    for d in (home, tmp, guard):
        d.mkdir()
    (guard / "sitecustomize.py").write_text(GUARD, encoding="utf-8")
    log = tmp_path / "network.log"
    # the child starts from docrag's and the libraries' defaults (this process's import of docrag set
    # ORT_DISABLE_TELEMETRY: the child's must set it again)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCRAG_", "ORT_", "HF_", "OPENAI_"))}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), TMPDIR=str(tmp),
               PYTHONPATH=os.pathsep.join([str(guard), *sys.path]), NETWORK_LOG=str(log))
    run = subprocess.run([sys.executable, "-c", RUN, str(tmp_path / "index"), str(docs)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.splitlines()[-1])
    assert out["failed"] == [] and out["embedded"] > 0
    assert any("4,210" in text for text in out["hits"])  # the figure's text, read by OCR
    assert "杭州" in out["answer"]

    assert not log.exists(), log.read_text(encoding="utf-8")
    # ONNX Runtime's telemetry: a device id here; its uploads resolve their host in native code, out of the guard's sight
    assert not (home / ".cache" / "Microsoft").exists()
    written = sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file())
    assert written and all(p.startswith(".cache/docrag/") for p in written), written  # the OCR cache only
    assert list(tmp.iterdir()) == []  # e.g. the telemetry session file TMPDIR/.ses
