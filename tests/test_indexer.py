"""The writer's pipeline: dense vectors are computed while parsing goes on, and an interrupted ingest stops both."""

from __future__ import annotations

import threading

import pytest

import docrag
import docrag.ingest


def _notes(folder, n):
    folder.mkdir()
    for i in range(n):
        (folder / f"note{i:02d}.txt").write_text(f"第{i}号笔记讲的是主题{i}。" * 20, encoding="utf-8")
    return folder


def test_chunks_are_embedded_while_later_files_are_still_parsed(tmp_path, monkeypatch):
    monkeypatch.setattr(docrag.ingest, "BATCH_FILES", 1)  # each file committed as it comes
    folder = _notes(tmp_path / "notes", 12)
    idx = docrag.Index.open(tmp_path / "ix", create=True, config=docrag.Config())
    events: list[str] = []
    first_embedded = threading.Event()
    put = idx.store.put_embeddings

    def put_embeddings(ids, vectors, table="embeddings"):
        events.append(f"embed:{threading.current_thread().name}")
        put(ids, vectors, table)
        first_embedded.set()

    monkeypatch.setattr(idx.store, "put_embeddings", put_embeddings)

    def on_file(result):
        events.append("commit")
        if len([e for e in events if e == "commit"]) == 3:  # the parser stalls until the embedder has caught up
            assert first_embedded.wait(60)

    report = idx.add(folder, on_file=on_file)
    assert report.embedded == idx.info()["embedded"] == idx.info()["chunks"] > 0 and not report.failed
    last_commit = max(i for i, e in enumerate(events) if e == "commit")
    assert any(e == "embed:docrag-embed" for e in events[:last_commit]), events  # overlapped, in its own thread
    assert idx.search("主题7", k=1, mode="dense")  # the vectors are complete and searchable
    idx.close()


def test_an_interrupted_ingest_stops_the_embedder_and_keeps_what_was_committed(tmp_path, monkeypatch):
    monkeypatch.setattr(docrag.ingest, "BATCH_FILES", 1)
    folder = _notes(tmp_path / "notes", 8)
    idx = docrag.Index.open(tmp_path / "ix", create=True, config=docrag.Config())
    seen = []

    def on_file(result):
        seen.append(result)
        if len(seen) == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        idx.add(folder, on_file=on_file)
    assert not [t for t in threading.enumerate() if t.name == "docrag-embed"]  # the embedding thread has ended
    info = idx.info()
    assert info["documents"] == 4 and info["embedded"] <= info["chunks"]
    report = idx.add(folder)  # the next run finishes the work
    assert len(report.added) == 4 and idx.info()["embedded"] == idx.info()["chunks"]
    idx.close()
