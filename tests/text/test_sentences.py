"""Sentence boundaries for Chinese, English and mixed text."""

from __future__ import annotations

import itertools
import re

import pytest

from docrag.text.sentences import sentence_spans, split_sentences


@pytest.mark.parametrize("text,expected", [
    ("第一句。第二句！第三句？第四句；", ["第一句。", "第二句！", "第三句？", "第四句；"]),
    ("他沉默了……然后开口", ["他沉默了……", "然后开口"]),
    ("真的吗？！不会吧", ["真的吗？！", "不会吧"]),
    ("没有结尾标点", ["没有结尾标点"]),
])
def test_chinese_sentence_ends(text, expected):
    assert split_sentences(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("他说：“你好。”然后走了。", ["他说：“你好。”", "然后走了。"]),
    ("她问：“为什么？”我没有回答。", ["她问：“为什么？”", "我没有回答。"]),
    ("书名是「茶经」。「写得好！」他说。", ["书名是「茶经」。", "「写得好！」", "他说。"]),
    ("（括号内的话。）后面的话。", ["（括号内的话。）", "后面的话。"]),
    ("‘单引号。’下一句。", ["‘单引号。’", "下一句。"]),
    ("他说：“……”然后沉默。", ["他说：“……”", "然后沉默。"]),
])
def test_closing_quotes_stay_with_their_sentence(text, expected):
    assert split_sentences(text) == expected


def test_ellipsis_then_full_stop_inside_quotes_is_one_sentence():
    assert split_sentences("他说：“好……。”下一句。") == ["他说：“好……。”", "下一句。"]


@pytest.mark.parametrize("text,expected", [
    ("First sentence. Second one! Third? Fourth", ["First sentence.", "Second one!", "Third?", "Fourth"]),
    ("Wait... what happened.", ["Wait...", "what happened."]),
    ("It costs $5. Then we left.", ["It costs $5.", "Then we left."]),
    ("The year was 1999. Then came 2000.", ["The year was 1999.", "Then came 2000."]),
])
def test_english_sentence_ends(text, expected):
    assert split_sentences(text) == expected


def test_english_full_stop_inside_closing_quote_ends_the_sentence():
    assert split_sentences('He said "stop." Then he left.') == ['He said "stop."', "Then he left."]
    assert split_sentences("(See the note.) Next sentence.") == ["(See the note.)", "Next sentence."]


@pytest.mark.parametrize("text,expected", [
    ("Pi is 3.14 today. Next.", ["Pi is 3.14 today.", "Next."]),
    ("Version v1.2 is out. Next.", ["Version v1.2 is out.", "Next."]),
    ("Release v1.2.3 ships. Done", ["Release v1.2.3 ships.", "Done"]),
    ("价格是 3.5 元。下一句", ["价格是 3.5 元。", "下一句"]),
    ("第1.2节很重要。下一句", ["第1.2节很重要。", "下一句"]),
    ("Costs 1,577.00 dollars. Next", ["Costs 1,577.00 dollars.", "Next"]),
])
def test_decimals_and_dotted_versions_do_not_split(text, expected):
    assert split_sentences(text) == expected


def test_full_stop_without_following_space_is_not_an_end():
    assert split_sentences("see example.com for details. End") == ["see example.com for details.", "End"]


def test_newline_ends_a_sentence():
    assert split_sentences("第一行\n第二行\n\n第三行") == ["第一行", "第二行", "第三行"]
    assert split_sentences("Title line\nBody text. More.") == ["Title line", "Body text.", "More."]


def test_mixed_chinese_and_english():
    text = "中文句子。English sentence here. 又一句中文！Another one? 最后"
    assert split_sentences(text) == ["中文句子。", "English sentence here.", "又一句中文！", "Another one?", "最后"]


def test_empty_and_whitespace():
    assert split_sentences("") == []
    assert split_sentences("   \n  ") == []
    assert sentence_spans("") == []


def test_spans_are_trimmed_of_whitespace():
    text = "  lead. trail  "
    assert sentence_spans(text) == [(2, 7), (8, 13)]
    for s, e in sentence_spans("今天。  明天。\n\n后天"):
        assert s < e


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


SAMPLES = [
    "他说：“你好。”然后走了。真的吗？是的！好；再见……结束",
    "Pi is 3.14 today. Version v1.2 is out.\nNext line here! And more?",
    "检索增强生成（RAG）把文档切成小块。BM25 和 dense retrieval 互补； 混合检索更稳。\n\n新段落 starts here. 结尾",
    "  leading and trailing spaces.   ",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_spans_cover_the_text(text):
    spans = sentence_spans(text)
    # ordered, non-overlapping, each trimmed and non-empty
    for (s1, e1), (s2, e2) in itertools.pairwise(spans):
        assert e1 <= s2
    for s, e in spans:
        assert s < e and not text[s].isspace() and not text[e - 1].isspace()
    # joined, the spans are the text minus whitespace between them
    assert squash("".join(text[s:e] for s, e in spans)) == squash(text)
    # and what lies between consecutive spans is whitespace only
    gaps = [text[e1:s2] for (_, e1), (s2, _) in itertools.pairwise(spans)]
    assert all(g.strip() == "" for g in gaps)
    assert text[: spans[0][0]].strip() == "" and text[spans[-1][1]:].strip() == ""


def test_spans_of_a_slice_use_absolute_offsets():
    text = "前言。\n\n第一句。第二句。\n\n后记。"
    start = text.index("第一句")
    end = text.index("第二句。") + 4
    spans = sentence_spans(text, start, end)
    assert [text[s:e] for s, e in spans] == ["第一句。", "第二句。"]
    assert spans[0][0] == start and spans[-1][1] == end


def test_split_sentences_matches_spans():
    text = SAMPLES[2]
    assert split_sentences(text) == [text[s:e] for s, e in sentence_spans(text)]
