"""The command line, run as a user runs it: a subprocess, its exit code, stdout and stderr."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest


def docrag(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "docrag.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


@pytest.fixture(scope="module")
def index(tmp_path_factory, sample_dir):
    root = tmp_path_factory.mktemp("cli")
    shutil.copytree(sample_dir, root / "docs")
    r = docrag("ingest", root / "docs", "--index", root / "ix", "--no-dense")
    assert r.returncode == 0, r.stderr
    assert "4 added" in r.stdout
    return root


def test_search_json(index):
    r = docrag("search", "龙井茶产自哪里", "--index", index / "ix", "--k", "2", "--json")
    assert r.returncode == 0, r.stderr
    hits = json.loads(r.stdout)
    assert len(hits) == 2 and hits[0]["doc_path"].endswith("中国茶.html")
    assert {"text", "doc_path", "page", "pages", "score", "chunk_id"} <= set(hits[0])


def test_ask_prints_answer_and_citations(index):
    r = docrag("ask", "龙井茶产自哪里？", "--index", index / "ix", "--timings")
    assert r.returncode == 0, r.stderr
    assert "Extractive answer" in r.stdout and "[1]" in r.stdout and "中国茶.html" in r.stdout
    assert "timings: " in r.stdout and "retrieve" in r.stdout and "load" in r.stdout
    data = json.loads(docrag("ask", "龙井茶产自哪里？", "--index", index / "ix", "--json").stdout)
    assert data["citations"][0]["doc_path"].endswith("中国茶.html") and data["mode"] == "extractive"


def test_ask_with_an_openai_compatible_server_streams_and_times_stages(index):
    from fake_openai import FakeOpenAI

    with FakeOpenAI("qwen-test") as server:
        server.answer = lambda messages: "龙井茶产于杭州西湖[1]，见[8]。"
        r = docrag("ask", "龙井茶产自哪里？", "--index", index / "ix", "--llm", "openai:qwen-test",
                   "--llm-base-url", server.base_url, "--stream", "--timings", "--decoding", "sample",
                   "--max-new-tokens", "64")
        assert r.returncode == 0, r.stderr
        assert "Answer by openai:qwen-test" in r.stdout
        assert "龙井茶产于杭州西湖[1]，见。" in r.stdout  # [8] was not given: dropped, and said so
        assert "[1] " in r.stdout and "中国茶.html" in r.stdout and "[8]" in r.stderr
        assert "retrieve" in r.stdout and "generate" in r.stdout and "first token" in r.stdout
        assert "load model" in r.stdout  # the backend is created on first use and timed apart
        (body,) = server.bodies("/v1/chat/completions")
        assert body["stream"] is True and body["max_tokens"] == 64 and body["model"] == "qwen-test"
        assert body["messages"][0]["role"] == "system" and "问题：龙井茶产自哪里？" in body["messages"][1]["content"]
        server.api_key = "secret"  # and docrag sends none
        r = docrag("ask", "龙井茶", "--index", index / "ix", "--llm", "openai:qwen-test", "--llm-base-url",
                   server.base_url)
        assert r.returncode == 1 and "unauthorized" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_info_and_second_ingest_is_incremental(index):
    r = docrag("ingest", index / "docs", "--index", index / "ix", "--no-dense")
    assert r.returncode == 0 and "4 unchanged" in r.stdout
    r = docrag("info", "--index", index / "ix")
    assert r.returncode == 0
    assert "documents      4" in r.stdout and "dense vectors  0 /" in r.stdout and "rjieba" in r.stdout


def test_failed_files_exit_3_with_one_line_each(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "ok.md").write_text("# 好\n\n内容。", encoding="utf-8")
    (tmp_path / "d" / "bad.pdf").write_bytes(b"%PDF-1.4 garbage")
    r = docrag("ingest", tmp_path / "d", "--index", tmp_path / "ix", "--no-dense", "-q")
    assert r.returncode == 3
    assert "bad.pdf" in r.stderr and "corrupt" in r.stderr and "1 added" in r.stdout


def test_errors_are_one_line_with_nonzero_exit(tmp_path, index):
    r = docrag("search", "x", "--index", tmp_path / "none")
    assert r.returncode == 1 and "no docrag index" in r.stderr and "Traceback" not in r.stderr
    r = docrag("search", "  ", "--index", index / "ix")
    assert r.returncode == 1 and "empty query" in r.stderr
    r = docrag("search", "x", "--index", index / "ix", "--set", "retrieve.bogus=1")
    assert r.returncode == 1 and "unknown option" in r.stderr
    r = docrag("search", "x", "--index", index / "ix", "--no-such-flag")
    assert r.returncode == 2


def test_config_file_is_read(tmp_path, index):
    cfg = tmp_path / "docrag.toml"
    cfg.write_text('[retrieve]\nmode = "bm25"\n[answer]\nmax_sentences = 1\n')
    r = docrag("ask", "龙井茶产自哪里？", "--index", index / "ix", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)["citations"]) == 1
    cfg.write_text('[retrieve]\nmode = "sideways"\n')
    r = docrag("search", "x", "--index", index / "ix", cwd=tmp_path)
    assert r.returncode == 1 and "docrag.toml" in r.stderr and "retrieve.mode" in r.stderr


def test_remove(tmp_path, sample_dir):
    shutil.copytree(sample_dir, tmp_path / "docs")
    assert docrag("ingest", tmp_path / "docs", "--index", tmp_path / "ix", "--no-dense", "-q").returncode == 0
    r = docrag("remove", tmp_path / "docs" / "notes_gbk.txt", "--index", tmp_path / "ix")
    assert r.returncode == 0 and "notes_gbk.txt" in r.stdout
    r = docrag("remove", tmp_path / "docs" / "notes_gbk.txt", "--index", tmp_path / "ix")
    assert r.returncode == 1
