"""One index used by many at once: threads of one process share an ``Index``, other processes open their own.
Searches and answers keep coming from committed states while a writer adds, removes and embeds; writers take
turns; nothing is lost and no call fails."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

import docrag

TOPICS = ["龙井茶", "普洱茶", "乌龙茶", "红茶", "白茶", "黄茶", "黑茶", "花茶"]


def write_docs(folder: Path, first: int, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(first, first + count):
        topic = TOPICS[n % len(TOPICS)]
        path = folder / f"doc{n:03d}.md"
        path.write_text(f"# {topic}第{n}篇\n\n{topic}的第{n}篇笔记：产地、工艺和冲泡方法。编号 N{n:03d} 只在这一篇里出现。\n",
                        encoding="utf-8")
        paths.append(path)
    return paths


def run_threads(targets) -> list[BaseException]:
    errors: list[BaseException] = []

    def guard(target):
        try:
            target()
        except BaseException as e:  # noqa: BLE001 - every failure is collected and reported
            errors.append(e)

    threads = [threading.Thread(target=guard, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads), "a thread did not finish"
    return errors


def test_two_threads_adding_to_one_index_both_succeed(tmp_path):
    a = write_docs(tmp_path / "a", 0, 20)
    b = write_docs(tmp_path / "b", 20, 20)
    idx = docrag.Index.open(tmp_path / "ix", create=True, dense=False)
    reports = []
    errors = run_threads([lambda: reports.append(idx.add(a)), lambda: reports.append(idx.add(b))])
    assert not errors, errors
    assert sorted(len(r.added) for r in reports) == [20, 20]
    assert idx.info()["documents"] == 40
    assert idx.search("N031", k=1, mode="bm25")[0].doc_path.endswith("doc031.md")


def test_many_threads_search_an_index_whose_bm25_files_are_stale(tmp_path):
    write_docs(tmp_path / "docs", 0, 30)
    idx = docrag.Index.open(tmp_path / "ix", create=True, dense=False)
    idx.add(tmp_path / "docs")
    for saved in (tmp_path / "ix").glob("bm25-g*"):
        shutil.rmtree(saved)
    shared = docrag.Index.open(tmp_path / "ix", dense=False)
    found: list[str] = []

    def searches():
        for n in range(25):
            found.append(Path(shared.search(f"N{n:03d}", k=1, mode="bm25")[0].doc_path).name)

    assert not run_threads([searches] * 8)
    assert Counter(found) == {f"doc{n:03d}.md": 8 for n in range(25)}
    assert not list((tmp_path / "ix").glob("bm25-g*"))  # readers never write


READER = """
import json, sys, docrag
idx = docrag.Index.open(sys.argv[1], readonly=True)
errors, results = [], 0
for n in range(int(sys.argv[2])):
    try:
        for hit in idx.search("茶 产地 工艺 N%03d" % (n % 60), k=5, mode="bm25"):
            assert "的第" in hit.text and hit.doc_path.endswith(".md"), hit.text
        assert idx.ask("龙井茶的产地", mode="bm25").citations
        results += 1
    except Exception as e:
        errors.append(f"{type(e).__name__}: {e}")
print(json.dumps({"errors": errors, "results": results}))
"""


@pytest.mark.slow
def test_searches_and_answers_while_a_writer_adds_removes_and_embeds(tmp_path):
    docs = tmp_path / "docs"
    write_docs(docs, 0, 20)
    idx = docrag.Index.open(tmp_path / "ix", create=True, dense=True)
    idx.add(docs)
    texts = {p.read_text(encoding="utf-8").split("\n\n", 1)[1].strip() for p in docs.glob("*.md")}
    stop = threading.Event()
    seen_errors: list[str] = []
    counts = {"searches": 0}

    def writer():
        try:
            for round_ in range(3):
                new = write_docs(docs, 20 + 5 * round_, 5)
                texts.update(p.read_text(encoding="utf-8").split("\n\n", 1)[1].strip() for p in new)
                idx.add(new, dense=False)
                idx.remove(docs / f"doc{round_:03d}.md")
                idx.embed_pending()
        finally:
            stop.set()

    def reader(mode):
        def loop():
            n = 0
            while not stop.is_set() or n < 5:
                for hit in idx.search(f"茶 产地 N{n % 60:03d}", k=5, mode=mode):
                    # every passage is one of the documents' whole texts: never half of a document's update
                    assert any(t in hit.text for t in texts), hit.text
                if n % 3 == 0:  # an extractive answer embeds its sentences: a third of a second
                    assert idx.ask("龙井茶的产地", mode=mode).citations
                counts["searches"] += 1
                n += 1
        return loop

    readers = [subprocess.Popen([sys.executable, "-c", READER, str(tmp_path / "ix"), "8"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    errors = run_threads([writer, reader("bm25"), reader("hybrid")])
    for p in readers:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        result = json.loads(out.splitlines()[-1])
        seen_errors += result["errors"]
        assert result["results"] + len(result["errors"]) == 8
    assert not errors, errors
    assert not seen_errors, seen_errors
    assert counts["searches"] >= 10
    # nothing lost: every document added and not removed is there, embedded
    info = docrag.Index.open(tmp_path / "ix").info()
    assert info["documents"] == 20 + 15 - 3 and info["embedded_share"] == 1.0
