"""FixedSplitter: overlapping fixed-size windows whose ends snap back to sentence ends."""

from __future__ import annotations

import bisect
import itertools
import math

import pytest

from docrag.chunk import FixedSplitter, join_blocks, make_splitter
from docrag.parse import parse
from docrag.text.analyzer import word_spans
from docrag.text.sentences import sentence_spans
from docrag.types import Block, Document

SAMPLES = ["rope_位置编码.md", "hybrid_search.txt", "中国茶.html", "notes_gbk.txt"]
CONFIGS = [(200, 50), (300, 0), (80, 20), (120, 60)]


@pytest.fixture(scope="module")
def sample_docs(sample_dir):
    return [parse(sample_dir / name) for name in SAMPLES]


def zh_doc():
    return Document("z.txt", [Block("".join(f"第{i}句讨论检索增强生成和重新排序的方法。" for i in range(20)))])


def en_doc():
    return Document("e.txt", [Block(" ".join(f"Sentence number {i} talks about retrieval and ranking."
                                             for i in range(20)))])


def mixed_doc():
    return Document("m.md", [
        Block("检索", kind="heading", level=1, section=("检索",)),
        zh_doc().blocks[0], en_doc().blocks[0],
        Block("最后一段没有句号", section=("检索",)),
    ])


def all_docs(sample_docs):
    return [*sample_docs, zh_doc(), en_doc(), mixed_doc()]


def text_runs(chunks):
    """Consecutive text chunks: the windows over one run of text between tables and figures."""
    runs = [[]]
    for c in chunks:
        if c.kind == "text":
            runs[-1].append(c)
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if run]


# --- contract ------------------------------------------------------------------------------------

def test_offsets_match_the_canonical_text(sample_docs):
    for doc in all_docs(sample_docs):
        dt = join_blocks(doc)
        for size, overlap in CONFIGS:
            chunks = FixedSplitter(size=size, overlap=overlap).split(doc)
            assert chunks
            for c in chunks:
                if c.kind == "text":  # a table chunk's text is its heading, caption and rows (test_structure)
                    assert c.text == dt.text[c.char_start:c.char_end]
                assert c.text and not c.text[0].isspace()
                assert c.doc_path == doc.path
            assert [c.ordinal for c in chunks] == list(range(len(chunks)))


def test_windows_cover_the_whole_text(sample_docs):
    for doc in all_docs(sample_docs):
        dt = join_blocks(doc)
        for size, overlap in CONFIGS:
            chunks = FixedSplitter(size=size, overlap=overlap).split(doc)
            assert chunks[0].char_start == 0
            assert chunks[-1].char_end == len(dt.text)
            for a, b in itertools.pairwise(chunks):
                # no gap except whitespace
                assert dt.text[a.char_end:b.char_start].strip() == ""


def test_lengths_fit_the_size(sample_docs):
    for doc in all_docs(sample_docs):
        for size, overlap in CONFIGS:
            for c in FixedSplitter(size=size, overlap=overlap).split(doc):
                assert len(c.text) <= size


@pytest.mark.parametrize("size,overlap", [(200, 50), (80, 20), (100, 10), (300, 0)])
def test_consecutive_windows_overlap_by_about_overlap(sample_docs, size, overlap):
    for doc in all_docs(sample_docs):
        dt = join_blocks(doc)
        pairs = [(a, b) for run in text_runs(FixedSplitter(size=size, overlap=overlap).split(doc))
                 for a, b in itertools.pairwise(run)]
        for a, b in pairs:
            shared = a.char_end - b.char_start
            if overlap == 0:
                assert shared <= 0
                continue
            # exactly ``overlap`` back from the end, moved forward past whitespace only
            assert overlap - 2 <= shared <= overlap, (a.char_end, b.char_start)
            assert dt.text[a.char_end - overlap:b.char_start].strip() == ""


def test_ends_snap_to_the_last_sentence_end_in_the_second_half(sample_docs):
    for doc in all_docs(sample_docs):
        dt = join_blocks(doc)
        ends = [e for _, e in sentence_spans(dt.text)]
        for size, overlap in CONFIGS:
            windows = [c for run in text_runs(FixedSplitter(size=size, overlap=overlap).split(doc)) for c in run[:-1]]
            for c in windows:
                hard = c.char_start + size
                candidates = [e for e in ends if c.char_start + size // 2 < e <= hard]
                if candidates:
                    assert c.char_end == max(candidates)
                else:
                    assert c.char_end == hard


def test_snapping_keeps_sentences_whole():
    doc = zh_doc()  # sentences of 20-21 characters
    text = doc.blocks[0].text
    chunks = FixedSplitter(size=100, overlap=0).split(doc)
    assert all(c.text.endswith("。") for c in chunks)
    assert "".join(c.text for c in chunks) == text


def test_no_snapping_when_no_sentence_end_in_second_half():
    text = "长" * 95 + "。" + "长" * 200
    doc = Document("l.txt", [Block(text)])
    chunks = FixedSplitter(size=100, overlap=0).split(doc)
    assert chunks[0].char_end == 96  # the sentence end at 96 is in the second half
    assert chunks[1].char_end == 196  # none in (146, 196]: a hard window


def test_single_short_text_is_one_window():
    doc = Document("s.txt", [Block("只有一句话。")])
    chunks = FixedSplitter(size=100, overlap=20).split(doc)
    assert [(c.char_start, c.char_end, c.text) for c in chunks] == [(0, 6, "只有一句话。")]


def test_windows_always_advance():
    # 51-character sentences: a window snapped back to 51 with an overlap over half the size
    # must not produce a run of nearly identical windows
    text = "".join(f"第{i:02d}句" + "测" * 46 + "。" for i in range(6))
    doc = Document("a.txt", [Block(text)])
    for overlap in (10, 40, 60, 80):
        chunks = FixedSplitter(size=100, overlap=overlap).split(doc)
        for a, b in itertools.pairwise(chunks):
            assert b.char_end > a.char_end, (overlap, [(c.char_start, c.char_end) for c in chunks][:8])
            assert b.char_start > a.char_start
        assert len(chunks) <= 2 * math.ceil(len(text) / (100 - overlap)) + 1, (overlap, len(chunks))


def test_overlap_not_smaller_than_size_is_rejected():
    with pytest.raises(ValueError):
        FixedSplitter(size=50, overlap=50)
    with pytest.raises(ValueError):
        FixedSplitter(size=50, overlap=80)


def test_make_splitter_fixed():
    from types import SimpleNamespace

    sp = make_splitter(SimpleNamespace(strategy="fixed", size=256, overlap=32, unit="tokens"))
    assert isinstance(sp, FixedSplitter)
    assert (sp.size, sp.overlap, sp.unit) == (256, 32, "tokens")
    assert sp.signature() == "fixed/4:256:32:tokens"


# --- pages and sections ---------------------------------------------------------------------------

def test_page_spans_and_sections():
    blocks = [Block("".join(f"第{p}页第{i}句内容在这里。" for i in range(6)), page=p, section=(f"节{p}",))
              for p in range(1, 5)]
    doc = Document("p.pdf", blocks)
    dt = join_blocks(doc)
    chunks = FixedSplitter(size=90, overlap=15).split(doc)
    assert len(chunks) >= 3
    for c in chunks:
        first = bisect.bisect_right(dt.starts, c.char_start) - 1
        last = bisect.bisect_right(dt.starts, c.char_end - 1) - 1
        assert (c.page_start, c.page_end) == (blocks[first].page, blocks[last].page)
        assert c.section == blocks[first].section
    assert any(c.page_start != c.page_end for c in chunks)  # windows do cross pages


# --- tokens --------------------------------------------------------------------------------------

@pytest.mark.parametrize("size,overlap", [(30, 5), (50, 10), (20, 0)])
def test_token_unit(size, overlap):
    doc = mixed_doc()
    dt = join_blocks(doc)
    words = word_spans(dt.text)
    word_starts = [s for s, _ in words]
    chunks = FixedSplitter(size=size, overlap=overlap, unit="tokens").split(doc)
    assert len(chunks) > 2
    assert chunks[-1].char_end == len(dt.text)
    for c in chunks:
        assert c.text == dt.text[c.char_start:c.char_end]
        # measured over the document's words, a window holds at most ``size`` of them
        inside = [w for w in words if c.char_start <= w[0] and w[1] <= c.char_end]
        assert len(inside) <= size
        assert len(word_spans(c.text)) <= size + 1  # re-segmenting a window may split an edge word
    for a, b in itertools.pairwise(chunks):
        shared = [s for s in word_starts if b.char_start <= s < a.char_end]
        assert len(shared) == overlap, (a.char_end, b.char_start)
    # tokens, not characters: English windows are far longer than ``size`` characters
    assert max(len(c.text) for c in chunks) > 2 * size
