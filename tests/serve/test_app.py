"""The REST API in-process (Starlette's TestClient): knowledge bases, uploads, jobs, search, ask, keys, errors."""

from __future__ import annotations

import io
import json
import sqlite3
import threading
import time
import zipfile

import pytest

pytest.importorskip("fastapi", reason="the server needs docrag[serve]")

from fastapi.testclient import TestClient  # noqa: E402

from docrag.config import Config  # noqa: E402
from docrag.serve.app import STATE_DB, ServerSettings, create_app  # noqa: E402
from docrag.serve.state import ServerState  # noqa: E402

MOUTAI = "贵州茅台2021年营业收入为1094亿元，同比增长11.7%。公司总部位于贵州省仁怀市茅台镇。"
ENGLISH = "The Eiffel Tower was completed in 1889 and is 330 metres tall. It stands in Paris."


def local(app, **kwargs) -> TestClient:
    """A client on this machine (TestClient's own default address, "testclient", is no IP address)."""
    return TestClient(app, client=("127.0.0.1", 50000), **kwargs)


def make_app(root, **settings):
    return create_app(ServerSettings(root=root, config=Config().updated(dense=False), **settings))


@pytest.fixture
def client(tmp_path):
    with local(make_app(tmp_path / "root")) as c:
        yield c


def wait_job(c: TestClient, job: dict, headers=None) -> dict:
    deadline = time.monotonic() + 60
    while job["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
        job = c.get(f"/jobs/{job['id']}", headers=headers).json()
    return job


def upload(c: TestClient, kb: str, files: list[tuple[str, bytes]], headers=None) -> dict:
    r = c.post(f"/kb/{kb}/documents", files=[("files", f) for f in files], headers=headers)
    assert r.status_code == 202, r.text
    return wait_job(c, r.json(), headers)


def test_knowledge_bases_are_created_listed_updated_and_deleted(client):
    r = client.post("/kb", json={"name": "reports", "settings": {"chunk.size": 300}})
    assert r.status_code == 201 and r.json()["settings"] == {"chunk.size": 300}
    assert client.post("/kb", json={"name": "reports"}).status_code == 409
    for bad in ("../x", "a:b", "", "-lead", "中文 名"):
        r = client.post("/kb", json={"name": bad})
        assert r.status_code == 400 and "knowledge base name" in r.json()["error"]["message"]
    r = client.post("/kb", json={"name": "other", "settings": {"chunk.sise": 1}})
    assert r.status_code == 400 and "chunk.sise" in r.json()["error"]["message"]
    assert not (client.app.state.server.kbs.directory / "other").exists()

    r = client.patch("/kb/reports", json={"settings": {"retrieve.mode": "bm25", "chunk.size": None}})
    assert r.json()["settings"] == {"retrieve.mode": "bm25"}
    assert client.app.state.server.kbs.get("reports").index.config.retrieve.mode == "bm25"
    summary = client.get("/kb").json()["knowledge_bases"][0]
    assert summary["name"] == "reports" and summary["documents"] == 0 and summary["bytes"] > 0

    assert client.delete("/kb/reports").status_code == 204
    assert client.get("/kb/reports").status_code == 404
    assert client.get("/kb").json()["knowledge_bases"] == []


def test_upload_ingest_search_and_ask(client, make_pdf):
    client.post("/kb", json={"name": "kb"})
    pdf = make_pdf(f"# Landmarks\n\n{ENGLISH}\n").read_bytes()
    job = upload(client, "kb", [("maotai.txt", MOUTAI.encode()), ("tower.pdf", pdf)])
    assert job["state"] == "done" and {f["name"]: f["state"] for f in job["files"]} == {
        "maotai.txt": "added", "tower.pdf": "added"}
    assert all(f["chunks"] > 0 for f in job["files"])

    docs = {d["name"]: d for d in client.get("/kb/kb/documents").json()["documents"]}
    assert docs["tower.pdf"]["status"] == "indexed" and docs["tower.pdf"]["pages"] == 1
    assert client.get("/kb/kb/documents/maotai.txt/file").content == MOUTAI.encode()

    hits = client.post("/kb/kb/search", json={"query": "茅台 营业收入", "k": 3}).json()["hits"]
    assert hits[0]["document"] == "maotai.txt" and "1094" in hits[0]["text"]
    assert "/" not in hits[0]["document"]  # the server's own paths stay on the server
    # filters: by document name, by glob over names, by type
    for filters in ({"documents": ["tower.pdf"]}, {"path_glob": "*.pdf"}, {"file_types": ["pdf"]}):
        found = client.post("/kb/kb/search", json={"query": "茅台 营业收入 Eiffel", **filters}).json()["hits"]
        assert found and {h["document"] for h in found} == {"tower.pdf"}, filters
    assert client.post("/kb/kb/search", json={"query": "茅台", "documents": []}).json()["hits"] == []

    answer = client.post("/kb/kb/ask", json={"question": "How tall is the Eiffel Tower?"}).json()
    assert "330" in answer["answer"] and answer["references"]
    ref = answer["references"][0]
    assert ref["document"] == "tower.pdf" and ref["page"] == 1 and ref["positions"][0]["page"] == 1
    x0, top, x1, bottom = ref["positions"][0]["box"]  # the passage's lines on the page, in points
    assert 0 <= x0 < x1 <= 612 and 0 <= top < bottom <= 792

    nothing = client.post("/kb/kb/ask", json={"question": "xyzzyplugh quux?"}).json()
    assert nothing["found"] is False and nothing["references"] == [] and "[1]" not in nothing["answer"]
    assert all({"document", "quote", "positions"} <= set(r) for r in nothing["related"])

    chunks = client.get("/kb/kb/documents/tower.pdf/chunks").json()["chunks"]
    assert [c["ordinal"] for c in chunks] == sorted(c["ordinal"] for c in chunks)
    assert client.get(f"/kb/kb/chunks/{chunks[0]['chunk_id']}").json()["text"] == chunks[0]["text"]
    png = client.get("/kb/kb/documents/tower.pdf/pages/1.png?scale=1")
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get("/kb/kb/documents/tower.pdf/pages/2.png").status_code == 404
    assert client.get("/kb/kb/documents/maotai.txt/pages/1.png").status_code == 415


def test_ask_streams_tokens_then_references_then_the_answer(client):
    client.post("/kb", json={"name": "kb"})
    upload(client, "kb", [("maotai.txt", MOUTAI.encode())])
    r = client.post("/kb/kb/ask", json={"question": "茅台2021年营业收入是多少？", "stream": True})
    assert r.headers["content-type"].startswith("text/event-stream")
    events = [(block.split("\n")[0][len("event: "):], json.loads(block.split("\n")[1][len("data: "):]))
              for block in r.text.strip().split("\n\n")]
    kinds = [kind for kind, _ in events]
    assert kinds[-2:] == ["references", "done"] and set(kinds[:-2]) == {"token"}
    streamed = "".join(data["text"] for kind, data in events if kind == "token")
    done = events[-1][1]
    assert streamed == done["answer"] and "1094" in streamed
    assert events[-2][1] == done["references"] and done["references"][0]["document"] == "maotai.txt"


def test_uploads_are_named_safely_and_typed_by_content(client, make_pdf):
    client.post("/kb", json={"name": "kb"})
    pdf = make_pdf(f"{ENGLISH}\n").read_bytes()
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as z:
        z.writestr("hello.txt", "not a word document")
    job = upload(client, "kb", [
        ("../../etc/passwd", MOUTAI.encode()),  # a path: only its last part is kept, text gets .txt
        ("..\\..\\evil.md", b"# Title\n\nSome text."),
        ("scan", pdf),  # no extension: the content says PDF
        ("report.pdf", MOUTAI.encode()),  # a name claiming PDF over text: refused
        ("archive.docx", docx.getvalue()),  # a ZIP that is not a Word file: refused
        ("blob.txt", b"\x00\x01\x02\x03" * 100),  # binary
        ("empty.txt", b""),
    ])
    states = {f["name"]: (f["state"], f["reason"]) for f in job["files"]}
    assert states["passwd.txt"][0] == states["evil.md"][0] == states["scan.pdf"][0] == "added"
    for refused, why in (("report.pdf", "named .pdf"), ("archive.docx", "not a Word"), ("blob.txt", "binary"),
                         ("empty.txt", "empty")):
        assert states[refused][0] == "failed" and why in states[refused][1], (refused, states[refused])
    files = client.app.state.server.kbs.get("kb").files
    assert sorted(p.name for p in files.iterdir()) == ["evil.md", "passwd.txt", "scan.pdf"]
    # every file refused: the request fails with the reason
    r = client.post("/kb/kb/documents", files=[("files", ("x.pdf", b"plain text"))])
    assert r.status_code == 415 and "named .pdf" in r.json()["error"]["message"]


def test_documents_are_deleted_and_reingested_through_jobs(client):
    client.post("/kb", json={"name": "kb"})
    upload(client, "kb", [("maotai.txt", MOUTAI.encode()), ("tower.txt", ENGLISH.encode())])
    job = wait_job(client, client.delete("/kb/kb/documents/maotai.txt").json())
    assert job["kind"] == "delete" and job["files"] == [{"name": "maotai.txt", "state": "removed", "reason": "",
                                                         "chunks": 0}]
    assert [d["name"] for d in client.get("/kb/kb/documents").json()["documents"]] == ["tower.txt"]
    assert client.post("/kb/kb/search", json={"query": "茅台"}).json()["hits"] == [] or all(
        h["document"] != "maotai.txt" for h in client.post("/kb/kb/search", json={"query": "茅台"}).json()["hits"])
    assert client.delete("/kb/kb/documents/maotai.txt").status_code == 404
    job = wait_job(client, client.post("/kb/kb/documents/tower.txt/reingest").json())
    assert job["files"][0]["state"] == "unchanged"
    client.patch("/kb/kb", json={"settings": {"chunk.size": 40, "chunk.overlap": 0}})
    job = wait_job(client, client.post("/kb/kb/reingest").json())
    assert job["files"][0]["state"] == "updated" and job["files"][0]["chunks"] > 1  # the new chunk size applied


def test_job_progress_streams_as_server_sent_events(client):
    client.post("/kb", json={"name": "kb"})
    r = client.post("/kb/kb/documents", files=[("files", ("maotai.txt", MOUTAI.encode()))])
    with client.stream("GET", f"/jobs/{r.json()['id']}/events") as events:
        jobs = [json.loads(line[len("data: "):]) for line in events.iter_lines() if line.startswith("data: ")]
    assert jobs[-1]["state"] == "done" and jobs[-1]["files"][0]["state"] == "added"
    assert len({json.dumps(j, sort_keys=True) for j in jobs}) == len(jobs)  # only changes are sent


def test_errors_are_json_with_the_right_status(client):
    client.post("/kb", json={"name": "kb"})
    cases = [
        (client.post("/kb/kb/search", json={"query": "x", "kk": 1}), 400, "kk"),
        (client.post("/kb/kb/search", json={"query": "x", "mode": "magic"}), 400, "mode"),
        (client.post("/kb/kb/search", content=b"{not json", headers={"content-type": "application/json"}), 400, ""),
        (client.post("/kb/nope/search", json={"query": "x"}), 404, "nope"),
        (client.get("/jobs/123"), 404, "123"),
        (client.get("/kb/kb/documents/nothing.pdf/file"), 404, "nothing.pdf"),
        (client.get("/kb/kb/documents/..%2F..%2Fserver.sqlite/file"), 404, ""),
        (client.post("/kb/kb/ask", json={"question": "x", "llm": "transformers:/etc"}), 400, "not offered"),
        (client.post("/kb/kb/search", json={"query": "x" * 2_000_000}), 413, "limit"),
    ]
    for response, status, words in cases:
        assert response.status_code == status, (response.status_code, response.text[:200])
        body = response.json()
        assert set(body) == {"error"} and words in body["error"]["message"] and "Traceback" not in response.text


def test_an_unexpected_failure_is_a_500_without_a_traceback(tmp_path, monkeypatch):
    with local(make_app(tmp_path / "root"), raise_server_exceptions=False) as c:
        c.post("/kb", json={"name": "kb"})
        kb = c.app.state.server.kbs.get("kb")
        monkeypatch.setattr(kb.index.searcher, "search", lambda *a, **k: 1 / 0)
        r = c.post("/kb/kb/search", json={"query": "x"})
    assert r.status_code == 500 and r.json()["error"]["message"].startswith("internal error")
    assert "ZeroDivision" not in r.text


def test_searches_go_on_while_an_ingest_job_runs(client):
    client.post("/kb", json={"name": "kb"})
    upload(client, "kb", [("maotai.txt", MOUTAI.encode())])
    index = client.app.state.server.kbs.get("kb").index
    started, release = threading.Event(), threading.Event()
    add = index.add

    def slow_add(*args, **kwargs):
        started.set()
        assert release.wait(30)
        return add(*args, **kwargs)

    index.add = slow_add  # type: ignore[method-assign]
    r = client.post("/kb/kb/documents", files=[("files", ("tower.txt", ENGLISH.encode()))])
    assert started.wait(30)
    try:
        assert client.get(f"/jobs/{r.json()['id']}").json()["state"] == "running"
        hits = client.post("/kb/kb/search", json={"query": "茅台营业收入"}).json()["hits"]
        assert hits[0]["document"] == "maotai.txt"  # the committed state answers while the writer works
        assert client.delete("/kb/kb").status_code == 409  # not while its job runs
        assert client.patch("/kb/kb", json={"settings": {"chunk.size": 100}}).status_code == 409
    finally:
        release.set()
    job = wait_job(client, r.json())
    assert job["state"] == "done"
    assert client.post("/kb/kb/search", json={"query": "Eiffel"}).json()["hits"][0]["document"] == "tower.txt"


def test_unfinished_jobs_run_again_at_the_next_start(tmp_path):
    root = tmp_path / "root"
    with local(make_app(root)) as c:
        c.post("/kb", json={"name": "kb"})
        upload(c, "kb", [("maotai.txt", MOUTAI.encode())])
        files = c.app.state.server.kbs.get("kb").files
    # a server killed after storing an upload and its job, before the job ran (or while it ran)
    (files / "tower.txt").write_text(ENGLISH, encoding="utf-8")
    state = ServerState(root / STATE_DB)
    queued = state.create_job("kb", "ingest", ["tower.txt"])
    running = state.create_job("kb", "ingest", ["maotai.txt"])
    state.update_job(running.id, state="running")
    with local(make_app(root)) as c:
        assert wait_job(c, c.get(f"/jobs/{queued.id}").json())["files"][0]["state"] == "added"
        assert wait_job(c, c.get(f"/jobs/{running.id}").json())["files"][0]["state"] == "unchanged"
        assert c.post("/kb/kb/search", json={"query": "Eiffel"}).json()["hits"][0]["document"] == "tower.txt"


def test_api_keys_scope_knowledge_bases_and_rights(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    state = ServerState(root / STATE_DB)
    admin = state.create_key("admin", admin=True)
    reader = state.create_key("reader", scopes={"kb": "read"})
    writer = state.create_key("writer", scopes={"kb": "write"})
    bearer = lambda key: {"Authorization": f"Bearer {key}"}  # noqa: E731
    with local(make_app(root)) as c:
        r = c.get("/kb")
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert c.get("/kb", headers=bearer("drk_wrong")).status_code == 401
        assert c.get("/health").status_code == 200  # no key needed to see it is up
        assert c.post("/kb", json={"name": "kb"}, headers=bearer(reader)).status_code == 403
        assert c.post("/kb", json={"name": "kb"}, headers=bearer(admin)).status_code == 201
        assert c.post("/kb", json={"name": "secret"}, headers=bearer(admin)).status_code == 201
        assert [k["name"] for k in c.get("/kb", headers=bearer(reader)).json()["knowledge_bases"]] == ["kb"]
        assert c.get("/kb/secret", headers=bearer(reader)).status_code == 403
        r = c.post("/kb/kb/documents", files=[("files", ("a.txt", MOUTAI.encode()))], headers=bearer(reader))
        assert r.status_code == 403 and "may not write" in r.json()["error"]["message"]
        upload(c, "kb", [("a.txt", MOUTAI.encode())], headers=bearer(writer))
        assert c.post("/kb/kb/search", json={"query": "茅台"}, headers=bearer(reader)).json()["hits"]
        assert c.get("/keys", headers=bearer(writer)).status_code == 403
        made = c.post("/keys", json={"name": "new", "scopes": {"*": "read"}}, headers=bearer(admin)).json()
        assert c.get("/kb/secret", headers=bearer(made["key"])).status_code == 200
        assert c.delete("/keys/new", headers=bearer(admin)).status_code == 204
        assert c.get("/kb/secret", headers=bearer(made["key"])).status_code == 401
    stored = (root / STATE_DB).read_bytes() + b"".join(p.read_bytes() for p in root.glob(STATE_DB + "-*"))
    assert admin.encode() not in stored and reader.encode() not in stored  # only hashes are kept
    assert sqlite3.connect(root / STATE_DB).execute("SELECT COUNT(*) FROM keys").fetchone()[0] == 3


def test_without_keys_only_loopback_clients_are_served(tmp_path):
    app = make_app(tmp_path / "root")
    with TestClient(app, client=("192.0.2.7", 50000)) as remote:
        r = remote.get("/kb")
        assert r.status_code == 403 and "only this machine" in r.json()["error"]["message"]
    with local(app) as here:
        assert here.get("/kb").status_code == 200


def test_run_makes_a_new_root(tmp_path, monkeypatch):
    """`docrag serve --root NEW` (the default root on a fresh machine, too) serves instead of failing to open
    server.sqlite in a folder that does not exist."""
    import uvicorn

    import docrag.serve as serve

    served = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.append(kw))
    root = tmp_path / "new" / "root"
    serve.run(ServerSettings(root=root, config=Config().updated(dense=False)), say=lambda line: None)
    assert served and (root / STATE_DB).is_file()


def test_cors_is_off_unless_origins_are_given(tmp_path):
    with local(make_app(tmp_path / "a")) as c:
        assert "access-control-allow-origin" not in c.get("/health", headers={"Origin": "http://evil.test"}).headers
    with local(make_app(tmp_path / "b", cors_origins=("http://app.test",))) as c:
        headers = c.get("/health", headers={"Origin": "http://app.test"}).headers
        assert headers["access-control-allow-origin"] == "http://app.test"


def test_uploads_over_the_limit_are_refused(tmp_path):
    with local(make_app(tmp_path / "root", max_upload_mb=1)) as c:
        c.post("/kb", json={"name": "kb"})
        r = c.post("/kb/kb/documents", files=[("files", ("big.txt", b"a" * (2 << 20)))])
        assert r.status_code == 413 and "1 MiB" in r.json()["error"]["message"]
        assert list(c.app.state.server.kbs.get("kb").files.iterdir()) == []


def test_a_follow_up_is_made_standalone_from_the_conversation(client):
    client.post("/kb", json={"name": "kb"})
    upload(client, "kb", [("贵州茅台.txt", MOUTAI.encode()), ("tower.txt", ENGLISH.encode())])
    first = "贵州茅台2021年的营业收入是多少？"
    answer = client.post("/kb/kb/ask", json={"question": "它的总部在哪里？", "history": [first]}).json()
    assert "贵州茅台" in answer["standalone_question"] and answer["question"] == answer["standalone_question"]
    assert answer["references"][0]["document"] == "贵州茅台.txt"
    # the same through the chat API: earlier user messages are the history
    reply = client.post("/v1/chat/completions", json={"model": "kb", "references": True, "messages": [
        {"role": "user", "content": first}, {"role": "assistant", "content": "1094亿元 [1]"},
        {"role": "user", "content": "它的总部在哪里？"}]}).json()
    assert reply["choices"][0]["message"]["references"][0]["document"] == "贵州茅台.txt"
    alone = client.post("/kb/kb/ask", json={"question": "How tall is the Eiffel Tower?", "history": [first]}).json()
    assert alone["standalone_question"] == "How tall is the Eiffel Tower?"  # a question that stands alone stays
