"""Question-answer pairs drawn from the bundled sample's index: offline pseudo-queries by kind, the split by
document, and LLM pairs kept only when supported by their chunk and not copied from it (a scripted LLM)."""

from __future__ import annotations

import json
import re
from dataclasses import asdict

import pytest
from fake_llm import ScriptedLLM

from docrag.adapt.pairs import (
    OFFLINE_KINDS,
    PairSynthesizer,
    copies_a_sentence,
    document_splits,
    parse_pairs,
    read_pairs,
    table_cells,
    write_pairs,
)
from docrag.errors import DocragError
from docrag.text.sentences import split_sentences


@pytest.fixture(scope="module")
def offline(sample_index):
    pairs, report = PairSynthesizer().synthesize(sample_index.store, sample_index.resources.analyzer)
    chunks = {h.chunk_id: h for h in sample_index.store.hits([(p.chunk_id, 0.0) for p in pairs])}
    return pairs, report, chunks


def test_every_offline_kind_is_drawn_and_labelled(offline):
    pairs, report, _ = offline
    kinds = {p.kind for p in pairs}
    assert kinds == set(OFFLINE_KINDS)
    assert sum(report.kept.values()) == len(pairs)
    assert all(report.kept[k] <= report.candidates[k] for k in report.candidates)


def test_cloze_query_is_a_sentence_of_its_chunk_and_left_out_of_the_positive(offline):
    pairs, _, chunks = offline
    cloze = [p for p in pairs if p.kind == "cloze"]
    for p in cloze:
        assert p.query in split_sentences(chunks[p.chunk_id].text)
        assert p.query not in p.positive
        assert p.positive != chunks[p.chunk_id].text


def test_table_and_heading_queries_come_from_their_chunk(offline):
    pairs, _, chunks = offline
    for p in pairs:
        chunk = chunks[p.chunk_id]
        assert p.doc == chunk.doc_path and p.page == chunk.page
        if p.kind == "table":
            assert chunk.kind == "table" and p.positive == chunk.text
            assert any(p.query == f"{label} {header}" for label, header in table_cells(chunk.text))
        if p.kind == "heading":
            assert p.query.startswith(chunk.section[-1]) and p.positive == chunk.text
            assert len(p.query) > len(chunk.section[-1])  # key terms follow the heading


def test_pairs_are_split_by_document_never_by_pair(offline):
    pairs, report, _ = offline
    split_of: dict[str, set[str]] = {}
    for p in pairs:
        split_of.setdefault(p.doc, set()).add(p.split)
    assert all(len(splits) == 1 for splits in split_of.values())
    assert {s for splits in split_of.values() for s in splits} == {"train", "dev"}
    assert report.documents["train"] + report.documents["dev"] == len(split_of)


def test_document_splits_are_stable_and_hold_out_at_least_one_document():
    docs = [f"doc{i}.pdf" for i in range(10)]
    splits = document_splits(docs, 0.2)
    assert list(splits.values()).count("dev") == 2
    assert document_splits(list(reversed(docs)) + docs[:3], 0.2) == splits  # order and repeats do not matter
    assert list(document_splits(docs[:2], 0.01).values()).count("dev") == 1
    assert set(document_splits(docs[:1], 0.5).values()) == {"train"}  # one document: nothing to hold out
    assert set(document_splits(docs, 0).values()) == {"train"}


def test_max_pairs_samples_and_reports_what_it_dropped(sample_index, offline):
    pairs, _, _ = offline
    few, report = PairSynthesizer(max_pairs=10).synthesize(sample_index.store, sample_index.resources.analyzer)
    assert len(few) == 10 and report.dropped["max_pairs"] == len(pairs) - 10
    assert {(p.query, p.chunk_id) for p in few} <= {(p.query, p.chunk_id) for p in pairs}


def test_kinds_can_be_chosen(sample_index):
    pairs, _ = PairSynthesizer(kinds=["table"]).synthesize(sample_index.store, sample_index.resources.analyzer)
    assert pairs and {p.kind for p in pairs} == {"table"}
    with pytest.raises(DocragError, match="unknown pair kinds"):
        PairSynthesizer(kinds=["riddle"])


def _scripted_reply(messages):
    """Per chunk: a fair question with an answer from the chunk, a question copying the chunk's first sentence,
    and an answer the chunk does not hold."""
    chunk = messages[1]["content"].split("\n\n", 2)[2].rsplit("\n\n", 1)[0]
    sentences = [s for s in split_sentences(chunk) if len(s) > 12]
    first = sentences[0] if sentences else chunk[:40]
    return ("Q: What does this passage of the document say about it?\n"
            f"A: {first}\n"
            f"Q: {first}\n"
            f"A: {first}\n"
            "问：宇宙飞船的燃料是什么？\n"
            "答：香蕉和彩虹糖浆，产自火星。\n")


def test_llm_pairs_keep_only_supported_answers_and_uncopied_questions(sample_index):
    llm = ScriptedLLM(_scripted_reply)
    pairs, report = PairSynthesizer(llm, per_chunk=3).synthesize(sample_index.store, sample_index.resources.analyzer)
    n_chunks = report.chunks
    assert len(llm.prompts) == n_chunks
    assert report.candidates["llm"] == 3 * n_chunks
    assert report.dropped["unsupported"] >= n_chunks  # the invented answer, in every chunk
    assert report.dropped["copied"] > 0
    assert pairs and all(p.kind == "llm" and p.prompt.startswith("questions.") for p in pairs)
    chunks = {h.chunk_id: h for h in sample_index.store.hits([(p.chunk_id, 0.0) for p in pairs])}
    for p in pairs:
        assert not copies_a_sentence(p.query, chunks[p.chunk_id].text)
        assert "香蕉" not in p.answer


def test_the_prompt_asks_in_the_chunk_language(sample_index):
    llm = ScriptedLLM("Q: q\nA: a")
    PairSynthesizer(llm).synthesize(sample_index.store, sample_index.resources.analyzer)
    systems = {m[0]["content"] for m in llm.prompts}
    assert any("用中文提问" in s for s in systems) and any("Ask in English" in s for s in systems)
    zh = next(m for m in llm.prompts if re.search(r"[\u4e00-\u9fff]{4}", m[1]["content"].split("\n\n", 2)[2]))
    assert "用中文提问" in zh[0]["content"]


def test_parse_pairs_and_table_cells():
    assert parse_pairs("Q: a?\nA: b\nnoise\n问：甲？\n答：乙\nQ: orphan?") == [("a?", "b"), ("甲？", "乙")]
    assert table_cells("Cash flows\nRevenue | 2023: 5.1 | 2022: 4.8\n2023: 1 | 2022: 2") == [
        ("Revenue", "2023"), ("Revenue", "2022")]


def test_pairs_file_round_trips_and_a_bad_line_is_named(tmp_path, offline):
    pairs = offline[0][:5]
    path = tmp_path / "pairs.jsonl"
    write_pairs(path, pairs)
    assert read_pairs(path) == pairs
    path.write_text(path.read_text(encoding="utf-8") + json.dumps({"query": "only"}) + "\n", encoding="utf-8")
    with pytest.raises(DocragError, match=r"pairs.jsonl:6"):
        read_pairs(path)
    record = {**asdict(pairs[0]), "chunk_id": "doc.pdf#3"}
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    with pytest.raises(DocragError, match=r"pairs.jsonl:1: .*chunk_id 'doc.pdf#3' is not an index chunk id"):
        read_pairs(path)
    with pytest.raises(DocragError, match="no such pairs file"):
        read_pairs(tmp_path / "missing.jsonl")
