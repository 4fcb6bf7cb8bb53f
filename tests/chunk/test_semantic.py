"""SemanticSplitter: cuts where adjacent sentences stop being similar, with embedders whose vectors we control."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from chunk_checks import TopicEmbedder, check_chunks, en_doc, heading, zh_doc

from docrag.chunk import SemanticSplitter, join_blocks
from docrag.chunk.semantic import EMBED_BATCH
from docrag.models.embed import Embedder
from docrag.text.sentences import sentence_spans
from docrag.types import Block, Document

TEA = [f"绿茶第{i}种的茶叶冲泡时水温要低一些。" for i in range(6)]
ROCKET = [f"火箭第{i}级的发动机推力需要重新计算。" for i in range(6)]


class AngleEmbedder(Embedder):
    """Sentence i ("第i句…") lies at angle ``angles[i]``: similarity of neighbours = cos(step)."""

    name = "fake-angles"
    dim = 2

    def __init__(self, angles: list[float]):
        self.angles = angles

    def embed_passages(self, texts):
        idx = [int(t[1:t.index("句")]) for t in texts]
        return np.array([[math.cos(self.angles[i]), math.sin(self.angles[i])] for i in idx], dtype=np.float32)


def semantic(embedder: Embedder, size: int = 1000, threshold: float = 0.25, **kw) -> SemanticSplitter:
    return SemanticSplitter(size, 0, embedder=lambda: embedder, embedder_name=embedder.name, threshold=threshold, **kw)


def texts(chunks):
    return [c.text for c in chunks if c.kind == "text"]


def test_cuts_exactly_at_a_topic_change():
    doc = Document("t.txt", [Block("".join(TEA + ROCKET))])
    chunks = semantic(TopicEmbedder(["茶", "火箭"])).split(doc)
    assert texts(chunks) == ["".join(TEA), "".join(ROCKET)]
    check_chunks(doc, chunks)


def test_cuts_at_every_topic_change_in_english_across_paragraphs():
    tea = [f"Green tea number {i} is brewed with cooler water." for i in range(5)]
    rocket = [f"The rocket stage {i} needs its engine thrust recomputed." for i in range(5)]
    doc = Document("e.txt", [Block(" ".join(tea[:3])), Block(" ".join(tea[3:] + rocket)), Block(" ".join(tea))])
    chunks = semantic(TopicEmbedder(["tea", "rocket"])).split(doc)
    dt = join_blocks(doc)
    assert texts(chunks) == [dt.text[:dt.text.index("The rocket")].rstrip(), " ".join(rocket), " ".join(tea)]


@pytest.mark.parametrize("threshold,expected_cuts", [(0.0, [3, 6]), (0.25, [6]), (3.0, [])])
def test_threshold_is_in_standard_deviations_below_the_mean(threshold, expected_cuts):
    # neighbour similarities 1, 1, 0.8 (before 3), 1, 1, 0.07 (before 6), 1, 1: mean 0.86, std 0.31
    steps = [0, 0, 0, math.acos(0.8), 0, 0, 1.5, 0, 0]
    angles = list(np.cumsum(steps))
    sentences = [f"第{i}句，内容足够长不会被合并。" for i in range(9)]
    doc = Document("a.txt", [Block("".join(sentences))])
    chunks = semantic(AngleEmbedder(angles), threshold=threshold).split(doc)
    bounds = [0, *expected_cuts, 9]
    assert texts(chunks) == ["".join(sentences[a:b]) for a, b in itertools.pairwise(bounds)]


def test_size_cuts_between_sentences_when_the_topic_does_not_change():
    doc = Document("s.txt", [Block("".join(TEA * 4))])  # one topic: no breakpoint
    chunks = semantic(TopicEmbedder(["茶"]), size=100).split(doc)
    sentence_starts = {s for s, _ in sentence_spans(doc.blocks[0].text)}
    sentence_ends = {e for _, e in sentence_spans(doc.blocks[0].text)}
    assert len(chunks) > 3
    for c in chunks:
        assert len(c.text) <= 100 and (c is chunks[-1] or len(c.text) > 100 - len(TEA[0]))  # packed full
        assert c.char_start in sentence_starts and c.char_end in sentence_ends
    check_chunks(doc, chunks, 100)


def test_only_a_sentence_longer_than_size_is_cut_inside():
    doc = Document("l.txt", [Block(TEA[0] + "长" * 150 + "。" + TEA[1])])
    chunks = semantic(TopicEmbedder(["茶"]), size=60).split(doc)
    assert all(len(c.text) <= 60 for c in chunks)
    assert "".join(texts(chunks)) == doc.blocks[0].text


def test_a_heading_always_starts_a_chunk():
    s1, s2 = ("茶",), ("茶", "冲泡")
    doc = Document("h.md", [heading("茶", s1), Block("".join(TEA[:3]), section=s1),
                            heading("冲泡", s2), Block("".join(TEA[3:]), section=s2)])
    chunks = semantic(TopicEmbedder(["茶"])).split(doc)
    assert texts(chunks) == ["茶\n\n" + "".join(TEA[:3]), "冲泡\n\n" + "".join(TEA[3:])]


def test_sentences_are_embedded_in_batches_and_the_embedder_is_made_once():
    embedder, made = TopicEmbedder(["茶", "火箭"]), []

    def make():
        made.append(1)
        return embedder

    splitter = SemanticSplitter(400, 0, embedder=make, embedder_name="fake-topics")
    doc = Document("b.txt", [Block("".join(TEA * 20 + ROCKET * 5))])
    splitter.split(doc)
    splitter.split(zh_doc())
    assert made == [1]
    assert max(embedder.batches) <= EMBED_BATCH and sum(embedder.batches[:3]) == 150


def test_a_single_sentence_is_not_embedded():
    embedder = TopicEmbedder(["茶"])
    chunks = semantic(embedder).split(Document("o.txt", [Block(TEA[0])]))
    assert texts(chunks) == [TEA[0]] and embedder.batches == []


@pytest.mark.parametrize("make_doc", [zh_doc, en_doc])
def test_invariants(make_doc):
    doc = make_doc()
    for size in (80, 200):
        check_chunks(doc, semantic(TopicEmbedder(["收入", "检索", "Revenue", "retriev"]), size=size).split(doc), size)


def test_negative_threshold_is_rejected():
    with pytest.raises(ValueError):
        semantic(TopicEmbedder([]), threshold=-0.5)
