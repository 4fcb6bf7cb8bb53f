"""What the disk refuses: a read-only copy of an index is searched, a full disk ends an ingest with one line and
keeps the index as it was, folders that cannot be read are reported and never pruned.

Permissions bind only a process without root's override: as root these tests run the CLI with
CAP_DAC_OVERRIDE dropped (setpriv), so a chmod means what it means to a user."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import docrag


def as_user(*args, **kwargs) -> subprocess.CompletedProcess:
    """The CLI, run as an ordinary user would be: permissions apply."""
    prefix = []
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: file permissions cannot be made to apply")
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    return subprocess.run([*prefix, sys.executable, "-m", "docrag.cli", *map(str, args)], capture_output=True,
                          text=True, **kwargs)


def one_line(r: subprocess.CompletedProcess) -> str:
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    return lines[0]


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture
def index(tmp_path, sample_dir):
    shutil.copytree(sample_dir, tmp_path / "docs")
    r = as_user("ingest", tmp_path / "docs", "--index", tmp_path / "ix", "--no-dense", "-q")
    assert r.returncode == 0, r.stderr
    return tmp_path / "ix"


def test_a_read_only_copy_is_searched_asked_and_described(index):
    for stale in index.glob("bm25-g*"):  # the BM25 files must be built again: in memory only
        shutil.rmtree(stale)
    before = snapshot(index)
    for p in [index, *index.iterdir()]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        r = as_user("search", "龙井茶产自哪里", "--index", index, "--mode", "bm25")
        assert r.returncode == 0 and "中国茶.html" in r.stdout, r.stderr
        r = as_user("ask", "龙井茶产自哪里？", "--index", index, "--mode", "bm25")
        assert r.returncode == 0 and "中国茶.html" in r.stdout, r.stderr
        r = as_user("info", "--index", index)
        assert r.returncode == 0 and "documents      4" in r.stdout, r.stderr
        r = as_user("ingest", index.parent / "docs", "--index", index, "--no-dense")
        assert r.returncode == 1 and "read-only" in one_line(r)
    finally:
        for p in [index, *index.iterdir()]:
            p.chmod(0o755 if p.is_dir() else 0o644)
    assert snapshot(index) == before


def test_opening_read_only_writes_nothing(index):
    for stale in index.glob("bm25-g*"):
        shutil.rmtree(stale)
    before = snapshot(index)
    idx = docrag.Index.open(index, readonly=True)
    assert idx.search("龙井茶产自哪里", mode="bm25")[0].doc_path.endswith("中国茶.html")
    assert idx.ask("龙井茶产自哪里？", mode="bm25").citations and idx.info()["documents"] == 4
    with pytest.raises(docrag.IndexStateError, match="read-only"):
        idx.add(index.parent / "docs")
    idx.close()
    after = snapshot(index)
    # SQLite's shared-memory and log files may appear beside the database (empty of any change); nothing else
    assert {k: v for k, v in after.items() if not k.startswith("docrag.sqlite-")} == before


@pytest.fixture
def small_disk(tmp_path):
    """A 16 MiB file system of its own (tmpfs), so that it can be filled."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("filling a disk needs a small file system of its own: mounting one needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory: Path) -> Path:
    filler = directory / "filler"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_ends_the_ingest_in_one_line_and_keeps_the_index(tmp_path, sample_dir, small_disk):
    docs, more = tmp_path / "docs", tmp_path / "more"
    shutil.copytree(sample_dir, docs)
    more.mkdir()
    for n in range(10):  # a MiB of new text: the database must grow
        (more / f"报告{n}.md").write_text(f"# 第{n}章\n\n" + f"第{n}份报告的内容，关于茶叶的产地与工艺。" * 1000,
                                          encoding="utf-8")
    ix = small_disk / "ix"
    assert as_user("ingest", docs, "--index", ix, "--no-dense", "-q").returncode == 0
    filler = fill(small_disk)
    r = as_user("ingest", more, "--index", ix, "--no-dense", "-q")
    assert r.returncode == 1, r.stderr
    line = one_line(r)
    assert "no space left" in line or "disk is full" in line
    r = as_user("search", "龙井茶产自哪里", "--index", ix, "--mode", "bm25", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0]["doc_path"].endswith("中国茶.html")
    assert not list(ix.glob("*.tmp-*")) and not list(ix.glob(".*.tmp-*"))
    filler.unlink()  # space again: the next run finishes the work
    r = as_user("ingest", more, "--index", ix, "--no-dense", "-q")
    assert r.returncode == 0 and "added" in r.stdout, r.stderr
    assert docrag.Index.open(ix, readonly=True).info()["documents"] == 14


def test_unreadable_folders_are_reported_and_their_documents_never_pruned(index):
    docs = index.parent / "docs"
    (docs / "private").mkdir()
    (docs / "private" / "secret.md").write_text("# 机密\n\n内部资料。", encoding="utf-8")
    assert as_user("ingest", docs, "--index", index, "--no-dense", "-q").returncode == 0
    (docs / "private").chmod(0)
    try:
        r = as_user("ingest", docs, "--index", index, "--no-dense", "-q", "--prune")
    finally:
        (docs / "private").chmod(0o755)
    assert r.returncode == 3
    line = one_line(r)
    assert "private" in line and "cannot read folder" in line and "ermission denied" in line
    assert "removed" not in r.stdout
    assert any(p.endswith("secret.md") for p in docrag.Index.open(index, readonly=True).store.docs())
