"""RecursiveSplitter: structure-aware chunks that keep sentences whole, with pages and sections."""

from __future__ import annotations

import bisect
import itertools

import pytest

from docrag.chunk import RecursiveSplitter, join_blocks, make_splitter
from docrag.parse import parse
from docrag.text.analyzer import word_spans
from docrag.text.sentences import sentence_spans
from docrag.types import Block, Document

SAMPLES = ["rope_位置编码.md", "hybrid_search.txt", "中国茶.html", "notes_gbk.txt"]
CONFIGS = [(200, 50), (300, 0), (80, 20), (500, 100)]


def sent(i: int, n: int = 20) -> str:
    """A Chinese sentence of exactly ``n`` characters, numbered so that each is unique."""
    head = f"第{i:03d}句"
    return head + "测" * (n - len(head) - 1) + "。"


def sents(a: int, b: int, n: int = 20) -> str:
    return "".join(sent(i, n) for i in range(a, b))


def heading(text, section, page=None, level=None):
    return Block(text, kind="heading", level=level or len(section), section=section, page=page)


def sentence_bounds(doc: Document) -> tuple[set[int], set[int]]:
    """Start and end offsets (in the canonical text) of every sentence of every block."""
    dt = join_blocks(doc)
    starts, ends = set(), set()
    for b, s in zip(dt.blocks, dt.starts):
        for ss, se in sentence_spans(dt.text, s, s + len(b.text)):
            starts.add(ss)
            ends.add(se)
    return starts, ends


def heading_spans(doc: Document) -> list[tuple[int, int]]:
    dt = join_blocks(doc)
    return [(s, s + len(b.text)) for b, s in zip(dt.blocks, dt.starts) if b.kind == "heading"]


@pytest.fixture(scope="module")
def sample_docs(sample_dir):
    return [parse(sample_dir / name) for name in SAMPLES]


# --- basic contract ------------------------------------------------------------------------------

def test_chunk_text_is_the_canonical_text_slice(sample_docs):
    for doc in sample_docs:
        dt = join_blocks(doc)
        for size, overlap in CONFIGS:
            chunks = RecursiveSplitter(size=size, overlap=overlap).split(doc)
            assert chunks
            for c in chunks:
                if c.kind == "text":  # a table chunk's text is its heading, caption and rows (test_structure)
                    assert c.text == dt.text[c.char_start:c.char_end]
                assert c.text.strip()  # never empty
                assert c.doc_path == doc.path
            assert [c.ordinal for c in chunks] == list(range(len(chunks)))
            assert [c.char_start for c in chunks] == sorted(c.char_start for c in chunks)


def test_chunks_cover_all_text(sample_docs):
    for doc in sample_docs:
        dt = join_blocks(doc)
        for size, overlap in CONFIGS:
            covered = bytearray(len(dt.text))
            for c in RecursiveSplitter(size=size, overlap=overlap).split(doc):
                covered[c.char_start:c.char_end] = b"\x01" * (c.char_end - c.char_start)
            missing = [i for i, ch in enumerate(dt.text) if not covered[i] and not ch.isspace()]
            assert not missing, (doc.path, size, overlap, dt.text[missing[0]:missing[0] + 20])


def test_every_chunk_fits_the_size(sample_docs):
    too_long = []
    for doc in sample_docs:
        for size, overlap in CONFIGS:
            for c in RecursiveSplitter(size=size, overlap=overlap).split(doc):
                if len(c.text) > size:
                    too_long.append((doc.path.rsplit("/", 1)[-1], size, overlap, len(c.text)))
    assert not too_long, too_long


def test_block_separator_counts_towards_the_size():
    # two blocks of 50 fit in 101 characters only if the blank line between them is ignored
    doc = Document("d.txt", [Block("a" * 50), Block("b" * 50)])
    chunks = RecursiveSplitter(size=101, overlap=0).split(doc)
    assert all(len(c.text) <= 101 for c in chunks), [len(c.text) for c in chunks]


def test_overlap_not_smaller_than_size_is_rejected():
    with pytest.raises(ValueError):
        RecursiveSplitter(size=100, overlap=100)
    with pytest.raises(ValueError):
        RecursiveSplitter(size=100, overlap=150)
    RecursiveSplitter(size=100, overlap=99)  # fine


def test_make_splitter_and_signature():
    from types import SimpleNamespace

    sp = make_splitter(SimpleNamespace(strategy="recursive", size=300, overlap=30, unit="chars"))
    assert isinstance(sp, RecursiveSplitter)
    assert sp.signature() == "recursive/4:300:30:chars"
    assert RecursiveSplitter(300, 30, "tokens").signature() != sp.signature()


# --- sentences ----------------------------------------------------------------------------------

def _sentence_doc():
    sec1, sec2 = ("导论",), ("导论", "方法")
    return Document("s.md", [
        heading("导论", sec1),
        Block(sents(0, 3), section=sec1),
        Block(sents(3, 9, 17), section=sec1),  # longer than the chunk size: split by sentence
        Block("Short English sentence. Another one here! A third?", section=sec1),
        heading("方法", sec2),
        Block(sents(9, 20, 23), section=sec2),
        Block(sents(20, 22), section=sec2),
    ])


@pytest.mark.parametrize("overlap", [0, 25, 45])
def test_chunks_start_and_end_at_sentence_boundaries(overlap):
    doc = _sentence_doc()
    starts, ends = sentence_bounds(doc)
    chunks = RecursiveSplitter(size=100, overlap=overlap).split(doc)
    assert len(chunks) >= 4
    for c in chunks:
        assert c.char_start in starts, c.text[:20]
        assert c.char_end in ends, c.text[-20:]


def test_sentences_are_never_cut_in_sample_documents(sample_docs):
    for doc in sample_docs:
        dt = join_blocks(doc)
        longest = max(e - s for b, st in zip(dt.blocks, dt.starts)
                      for s, e in sentence_spans(dt.text, st, st + len(b.text)))
        size = max(200, longest)  # every sentence fits
        starts, ends = sentence_bounds(doc)
        for c in RecursiveSplitter(size=size, overlap=0).split(doc):
            assert c.char_start in starts and c.char_end in ends, (doc.path, c.text[:20])


def test_a_sentence_longer_than_size_is_hard_cut():
    text = "长" * 250
    doc = Document("l.txt", [Block(text)])
    chunks = RecursiveSplitter(size=100, overlap=0).split(doc)
    assert [(c.char_start, c.char_end) for c in chunks] == [(0, 100), (100, 200), (200, 250)]
    assert "".join(c.text for c in chunks) == text


def test_hard_cut_pieces_pack_with_neighbouring_sentences():
    doc = Document("l.txt", [Block(sent(0) + "长" * 150 + "。" + sent(1))])
    chunks = RecursiveSplitter(size=100, overlap=0).split(doc)
    assert all(len(c.text) <= 100 for c in chunks)
    assert "".join(c.text for c in chunks) == doc.blocks[0].text


# --- headings -----------------------------------------------------------------------------------

def _sectioned_doc():
    s1, s2, s3 = ("总",), ("总", "甲"), ("总", "乙")
    return Document("h.md", [
        heading("总", s1), Block(sents(0, 3), section=s1),
        heading("甲", s2), Block(sents(3, 7), section=s2), Block(sents(7, 12), section=s2),
        heading("乙", s3), Block(sents(12, 14), section=s3),
    ])


@pytest.mark.parametrize("overlap", [0, 30])
def test_headings_start_chunks(overlap):
    doc = _sectioned_doc()
    chunks = RecursiveSplitter(size=100, overlap=overlap).split(doc)
    chunk_starts = {c.char_start for c in chunks}
    for hs, _ in heading_spans(doc):
        assert hs in chunk_starts
        # no chunk runs across a heading
        assert not any(c.char_start < hs < c.char_end for c in chunks)


@pytest.mark.parametrize("overlap", [0, 30])
def test_headings_never_end_a_chunk(overlap):
    doc = _sectioned_doc()
    chunks = RecursiveSplitter(size=100, overlap=overlap).split(doc)
    for _, he in heading_spans(doc):
        assert he not in {c.char_end for c in chunks}


def test_heading_followed_by_a_block_of_exactly_size_is_not_alone():
    s1, s2 = ("总",), ("总", "甲")
    doc = Document("h.md", [heading("总", s1), Block(sents(0, 3), section=s1),
                            heading("甲", s2), Block(sents(3, 8), section=s2)])  # 100 chars
    chunks = RecursiveSplitter(size=100, overlap=0).split(doc)
    assert "甲" not in [c.text for c in chunks], "a chunk holding only a heading"
    for _, he in heading_spans(doc):
        assert he not in {c.char_end for c in chunks}


def test_heading_after_a_small_chunk_joins_it():
    s1, s2 = ("总",), ("总", "甲")
    doc = Document("h.md", [heading("总", s1), Block("短。", section=s1),
                            heading("甲", s2), Block(sents(0, 2), section=s2)])
    chunks = RecursiveSplitter(size=100, overlap=0).split(doc)
    assert len(chunks) == 1
    assert chunks[0].text.startswith("总\n\n短。\n\n甲")


def test_sections_are_carried(sample_docs):
    for doc in sample_docs:
        dt = join_blocks(doc)
        for size, overlap in CONFIGS:
            for c in RecursiveSplitter(size=size, overlap=overlap).split(doc):
                first = dt.blocks[bisect.bisect_right(dt.starts, c.char_start) - 1]
                assert c.section == first.section


def test_section_of_chunks_in_sectioned_doc():
    chunks = RecursiveSplitter(size=100, overlap=0).split(_sectioned_doc())
    by_start = {c.text[:1]: c.section for c in chunks}
    assert by_start["总"] == ("总",)
    assert by_start["甲"] == ("总", "甲")
    assert by_start["乙"] == ("总", "乙")
    assert chunks[-1].section == ("总", "乙")


# --- pages ---------------------------------------------------------------------------------------

def _paged_doc():
    return Document("p.pdf", [
        Block(sents(0, 3), page=1), Block(sents(3, 6), page=1),
        Block(sents(6, 8), page=2), Block(sents(8, 14), page=2),  # the second is split by sentences
        Block(sents(14, 16), page=3),
        Block(sents(16, 18), page=4),
    ])


def expected_pages(doc, c):
    dt = join_blocks(doc)
    pages = [b.page for b, s in zip(dt.blocks, dt.starts)
             if s < c.char_end and s + len(b.text) > c.char_start and b.page is not None]
    return min(pages), max(pages)


@pytest.mark.parametrize("overlap", [0, 30])
def test_page_spans(overlap):
    doc = _paged_doc()
    chunks = RecursiveSplitter(size=100, overlap=overlap).split(doc)
    for c in chunks:
        assert (c.page_start, c.page_end) == expected_pages(doc, c)
        assert c.pages == list(range(c.page_start, c.page_end + 1))
    assert {p for c in chunks for p in c.pages} == {1, 2, 3, 4}


def test_a_new_page_starts_a_new_chunk():
    chunks = RecursiveSplitter(size=100, overlap=0).split(_paged_doc())
    # every page here has at least size/4 characters: a chunk names one page
    assert all(c.page_start == c.page_end for c in chunks)
    assert [c.page_start for c in chunks] == sorted(c.page_start for c in chunks)


def test_chunk_across_pages_has_a_page_range():
    # page 1 holds only a short tail: it is packed with page 2's text and both pages are named
    doc = Document("p.pdf", [Block("短。", page=1), Block(sents(0, 2), page=2), Block(sents(2, 3), page=3)])
    chunks = RecursiveSplitter(size=100, overlap=0).split(doc)
    assert (chunks[0].page_start, chunks[0].page_end) == (1, 2)
    assert chunks[0].pages == [1, 2]
    for c in chunks:
        assert (c.page_start, c.page_end) == expected_pages(doc, c)


def test_non_paged_documents_have_no_pages():
    chunks = RecursiveSplitter(size=100, overlap=0).split(_sectioned_doc())
    assert all(c.page_start is None and c.page_end is None and c.pages == [] for c in chunks)


# --- overlap -------------------------------------------------------------------------------------

def _one_paragraph(n_sentences=20, n=20):
    return Document("o.txt", [Block(sents(0, n_sentences, n))])


def test_overlap_repeats_whole_trailing_sentences():
    doc = _one_paragraph()
    starts, _ends = sentence_bounds(doc)
    chunks = RecursiveSplitter(size=100, overlap=45).split(doc)
    assert len(chunks) >= 4
    for a, b in itertools.pairwise(chunks):
        shared = a.char_end - b.char_start
        assert shared == 40, (a.char_start, a.char_end, b.char_start)  # two 20-char sentences fit in 45
        assert b.char_start in starts
        assert b.char_end > a.char_end


@pytest.mark.parametrize("overlap", [10, 25, 45, 60])
def test_overlap_never_exceeds_the_limit(overlap):
    doc = Document("o.txt", [Block(sents(0, 30, 12) + sents(30, 40, 25))])
    sentence_starts, _ = sentence_bounds(doc)
    chunks = RecursiveSplitter(size=100, overlap=overlap).split(doc)
    for a, b in itertools.pairwise(chunks):
        shared = max(0, a.char_end - b.char_start)
        assert shared <= overlap
        assert b.char_start in sentence_starts
        if shared:
            assert a.text.endswith(b.text[:shared])


def test_overlap_in_english_text():
    text = " ".join(f"Sentence number {i} talks about retrieval." for i in range(20))
    doc = Document("e.txt", [Block(text)])
    chunks = RecursiveSplitter(size=150, overlap=50).split(doc)
    assert len(chunks) >= 3
    for a, b in itertools.pairwise(chunks):
        shared = doc.blocks[0].text[b.char_start:a.char_end]
        assert 0 < len(shared) <= 50
        assert shared.endswith("retrieval.") and shared[0] == "S"


def test_zero_overlap_gives_disjoint_chunks(sample_docs):
    for doc in [*sample_docs, _one_paragraph(), _paged_doc(), _sectioned_doc()]:
        chunks = RecursiveSplitter(size=150, overlap=0).split(doc)
        for a, b in itertools.pairwise(chunks):
            assert a.char_end <= b.char_start


def test_no_overlap_across_a_heading():
    chunks = RecursiveSplitter(size=100, overlap=45).split(_sectioned_doc())
    for c in chunks[1:]:
        if c.text.startswith(("甲", "乙")):
            prev = chunks[c.ordinal - 1]
            assert prev.char_end <= c.char_start


# --- tokens --------------------------------------------------------------------------------------

def _mixed_doc():
    zh = "".join(f"第{i}句讨论检索增强生成和重新排序的方法。" for i in range(20))
    en = " ".join(f"Sentence number {i} talks about retrieval and ranking." for i in range(20))
    return Document("t.md", [heading("检索", ("检索",)), Block(zh, section=("检索",)), Block(en, section=("检索",))])


@pytest.mark.parametrize("size,overlap", [(30, 5), (60, 10), (100, 0)])
def test_token_unit_limits_tokens(size, overlap):
    doc = _mixed_doc()
    dt = join_blocks(doc)
    chunks = RecursiveSplitter(size=size, overlap=overlap, unit="tokens").split(doc)
    assert len(chunks) > 1
    for c in chunks:
        assert len(word_spans(c.text)) <= size
        assert c.text == dt.text[c.char_start:c.char_end]
    # tokens, not characters: English chunks are much longer than ``size`` characters
    assert max(len(c.text) for c in chunks) > size


def test_token_unit_hard_cuts_a_long_sentence():
    doc = Document("w.txt", [Block("word " * 99 + "word")])
    chunks = RecursiveSplitter(size=30, overlap=0, unit="tokens").split(doc)
    assert [len(word_spans(c.text)) for c in chunks] == [30, 30, 30, 10]
    assert sum(len(word_spans(c.text)) for c in chunks) == 100


def test_sample_documents_in_tokens(sample_docs):
    for doc in sample_docs:
        for c in RecursiveSplitter(size=120, overlap=20, unit="tokens").split(doc):
            assert len(word_spans(c.text)) <= 120
