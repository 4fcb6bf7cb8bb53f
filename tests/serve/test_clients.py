"""Real clients over real HTTP: the official ``openai`` client against /v1, and ``docrag.Client``."""

from __future__ import annotations

import pytest

import docrag
from docrag.errors import BackendError

pytest.importorskip("fastapi", reason="the server needs docrag[serve]")
openai = pytest.importorskip("openai", reason="the openai client is a dev dependency")
# live servers (tests/live_server.py), and the fake_openai fixture: an LLM server behind a knowledge base
pytest_plugins = ["live_server", "fake_openai"]

MOUTAI = "贵州茅台2021年营业收入为1094亿元，同比增长11.7%。公司总部位于贵州省仁怀市茅台镇。"
ENGLISH = "The Eiffel Tower was completed in 1889 and is 330 metres tall. It stands in Paris."


@pytest.fixture
def kb(live_server, tmp_path):
    client = docrag.Client(live_server.url, kb="facts")
    client.create()
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "maotai.txt").write_text(MOUTAI, encoding="utf-8")
    (tmp_path / "docs" / "tower.md").write_text(f"# Paris\n\n{ENGLISH}\n", encoding="utf-8")
    job = client.add(tmp_path / "docs")
    assert job["state"] == "done" and {f["state"] for f in job["files"]} == {"added"}
    yield client
    client.close()


def test_the_openai_client_works_unchanged(kb, live_server):
    ai = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key="unused")
    assert [m.id for m in ai.models.list()] == ["facts"]

    reply = ai.chat.completions.create(model="facts", messages=[{"role": "user", "content": "How tall is the "
                                                                 "Eiffel Tower?"}], extra_body={"references": True})
    assert reply.object == "chat.completion" and reply.choices[0].finish_reason == "stop"
    assert "330" in reply.choices[0].message.content
    refs = reply.choices[0].message.model_extra["references"]
    assert refs[0]["number"] == 1 and refs[0]["document"] == "tower.md" and "330" in refs[0]["quote"]
    assert {"page", "positions", "score", "chunk_id"} <= set(refs[0])

    plain = ai.chat.completions.create(model="facts", messages=[{"role": "user", "content": "茅台营业收入"}])
    assert "references" not in (plain.choices[0].message.model_extra or {})

    chunks = list(ai.chat.completions.create(
        model="facts", messages=[{"role": "user", "content": "茅台2021年营业收入是多少？"}], stream=True,
        stream_options={"include_usage": True}, extra_body={"references": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "1094" in text
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason == "stop"]
    assert len(finals) == 1 and finals[0].choices[0].delta.model_extra["references"][0]["document"] == "maotai.txt"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None  # the usage chunk, as asked
    assert len({c.id for c in chunks}) == 1

    with pytest.raises(openai.NotFoundError, match="does not exist"):
        ai.chat.completions.create(model="nothing", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.BadRequestError, match="last message"):
        ai.chat.completions.create(model="facts", messages=[{"role": "assistant", "content": "x"}])


def test_the_docrag_client_has_the_index_shape(kb):
    hits = kb.search("Eiffel Tower height", k=2)
    assert hits[0].doc_path == "tower.md" and "330" in hits[0].text
    answer = kb.ask("茅台2021年营业收入是多少？")
    assert "1094" in answer.text and answer.citations[0].doc_path == "maotai.txt"
    tokens: list[str] = []
    streamed = kb.ask("How tall is the Eiffel Tower?", on_token=tokens.append)
    assert "".join(tokens) == streamed.text and "330" in streamed.text
    assert [d["name"] for d in kb.documents()] == ["maotai.txt", "tower.md"]
    assert kb.remove("maotai.txt")["files"][0]["state"] == "removed"
    assert [d["name"] for d in kb.documents()] == ["tower.md"]
    with pytest.raises(BackendError, match="404"):
        docrag.Client(kb.url, kb="missing").search("x")


def test_an_llm_behind_the_server_streams_token_by_token(fake_openai, serve, tmp_path):
    from docrag.config import Config

    fake_openai.answer = "The tower is 330 metres tall [1]."
    config = Config().updated(dense=False, generate__base_url=fake_openai.base_url)
    live = serve(config=config, llms=("openai:fake-model",))
    kb = docrag.Client(live.url, kb="facts")
    kb.create()
    (tmp_path / "tower.md").write_text(f"# Paris\n\n{ENGLISH}\n", encoding="utf-8")
    kb.add(tmp_path / "tower.md")
    ai = openai.OpenAI(base_url=f"{live.url}/v1", api_key="unused")
    assert "facts:openai:fake-model" in [m.id for m in ai.models.list()]
    chunks = list(ai.chat.completions.create(
        model="facts:openai:fake-model", messages=[{"role": "user", "content": "How tall is the tower?"}],
        stream=True, temperature=0, max_tokens=50, extra_body={"references": True}))
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) > 1 and "".join(pieces) == fake_openai.answer
    assert chunks[-1].choices[0].delta.model_extra["references"][0]["document"] == "tower.md"
    sent = fake_openai.bodies("/v1/chat/completions")[-1]
    assert sent["max_tokens"] == 50 and sent.get("temperature", 0) == 0  # greedy, as temperature 0 asks
    with pytest.raises(openai.BadRequestError, match="not offered"):
        ai.chat.completions.create(model="facts:openai:other", messages=[{"role": "user", "content": "x"}])
