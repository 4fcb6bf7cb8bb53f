"""SentenceWindowSplitter: one chunk per sentence, the sentences around it in extra["window"]."""

from __future__ import annotations

import pytest
from chunk_checks import check_chunks, en_doc, heading, make_table, table_block, zh_doc

from docrag.chunk import SentenceWindowSplitter, join_blocks
from docrag.types import Block, Document


def texts(chunks, kind="text"):
    return [c.text for c in chunks if c.kind == kind]


def _edges_doc():
    s = ("节",)
    return Document("w.txt", [
        Block("甲一句子内容在此。甲二句子内容在此。", section=s),
        Block("乙一句子内容在此。乙二句子内容在此。", section=s),
        table_block(make_table(["项目", "值"], [["收入", "5"]], caption="表1 收入"), s),
        Block("丙一句子内容在此。丙二句子内容在此。丙三句子内容在此。", section=s),
    ])


def test_one_chunk_per_sentence_across_chinese_and_english():
    doc = Document("m.txt", [Block("第一句话写在这里。第二句话也在这里！Is this the third sentence? "
                                   "Yes, this is the fourth sentence.")])
    chunks = SentenceWindowSplitter(window=1).split(doc)
    assert texts(chunks) == ["第一句话写在这里。", "第二句话也在这里！", "Is this the third sentence?",
                             "Yes, this is the fourth sentence."]
    check_chunks(doc, chunks)


def test_windows_stop_at_the_edges_of_a_run_of_text():
    doc = _edges_doc()
    chunks = [c for c in SentenceWindowSplitter(window=1).split(doc) if c.kind == "text"]
    windows = {c.text: c.extra["window"] for c in chunks}
    # within a run, windows cross paragraph breaks (the blank line between blocks is kept)
    assert windows["甲一句子内容在此。"] == "甲一句子内容在此。甲二句子内容在此。"
    assert windows["甲二句子内容在此。"] == "甲一句子内容在此。甲二句子内容在此。\n\n乙一句子内容在此。"
    assert windows["乙一句子内容在此。"] == "甲二句子内容在此。\n\n乙一句子内容在此。乙二句子内容在此。"
    # the table ends the run: no window reaches into it or across it
    assert windows["乙二句子内容在此。"] == "乙一句子内容在此。乙二句子内容在此。"
    assert windows["丙一句子内容在此。"] == "丙一句子内容在此。丙二句子内容在此。"
    assert windows["丙三句子内容在此。"] == "丙二句子内容在此。丙三句子内容在此。"


def test_window_sizes():
    doc = _edges_doc()
    wide = {c.text: c.extra["window"] for c in SentenceWindowSplitter(window=5).split(doc) if c.kind == "text"}
    assert wide["甲一句子内容在此。"] == "\n\n".join(b.text for b in doc.blocks[:2])  # the whole run
    none = [c for c in SentenceWindowSplitter(window=0).split(doc) if c.kind == "text"]
    assert all(c.extra["window"] == c.text for c in none)
    dt = join_blocks(doc)
    for c in SentenceWindowSplitter(window=2).split(doc):
        if c.kind == "text":
            assert c.text in c.extra["window"] and c.extra["window"] in dt.text


def test_short_sentences_and_headings_join_the_next_sentence():
    doc = Document("s.md", [
        heading("方法", ("方法",)),
        Block("是的。我们比较了三种检索方法。好。", section=("方法",)),
        Block("Yes. Then reranking narrows the candidates. OK.", section=("方法",)),
    ])
    chunks = SentenceWindowSplitter(window=1).split(doc)
    assert texts(chunks) == ["方法\n\n是的。我们比较了三种检索方法。",
                             "好。\n\nYes. Then reranking narrows the candidates. OK."]
    check_chunks(doc, chunks)


def test_a_trailing_short_sentence_joins_the_one_before():
    doc = Document("t.txt", [Block("生成器读取检索结果并作答。是的。")])
    assert texts(SentenceWindowSplitter().split(doc)) == ["生成器读取检索结果并作答。是的。"]


def test_a_sentence_longer_than_size_is_cut():
    doc = Document("l.txt", [Block("长" * 250 + "。短句子也要在这里。")])
    chunks = SentenceWindowSplitter(size=100, overlap=0).split(doc)
    assert [len(c.text) for c in chunks] == [100, 100, 51, 9]
    check_chunks(doc, chunks, 100)


@pytest.mark.parametrize("make_doc", [zh_doc, en_doc])
def test_invariants(make_doc):
    doc = make_doc()
    for window in (0, 1, 3):
        check_chunks(doc, SentenceWindowSplitter(size=200, overlap=0, window=window).split(doc), 200)


def test_negative_window_is_rejected():
    with pytest.raises(ValueError):
        SentenceWindowSplitter(window=-1)
