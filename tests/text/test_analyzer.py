import pytest

from docrag.text.analyzer import Analyzer, word_spans


def test_chinese_segmentation_matches_jieba():
    jieba = pytest.importorskip("jieba")
    text = "旋转位置编码通过把查询向量和键向量按位置旋转，使注意力得分只依赖于相对位置。中国人民解放军建军96周年招待会在柏林举行。"
    ours = Analyzer(stopwords=set(), stem=False).tokenize(text)
    reference = [t for t in jieba.lcut(text) if t.strip() and any(ch.isalnum() for ch in t)]
    assert ours == reference


def test_english_lowercased_stemmed_and_stopwords_dropped():
    toks = Analyzer().tokenize("The models were Running quickly over the Documents")
    assert toks == ["model", "run", "quick", "document"]


def test_numbers_keep_thousands_together_and_punctuation_is_dropped():
    toks = Analyzer().tokenize("现金流为 $1,577.00 million，同比增长 12.5%。")
    assert "1577.00" in toks and "12.5" in toks
    assert not any(t in {"$", ",", "，", "%", "。"} for t in toks)


def test_dates_split_into_numeric_parts():
    toks = Analyzer().tokenize("2023年7月28日")
    assert toks == ["2023", "年", "7", "月", "28", "日"]


def test_chinese_stopwords_and_question_words_removed():
    toks = Analyzer().tokenize("RoPE 为什么外推性更好？")
    assert "为什么" not in toks and "rope" in toks


def test_word_spans_are_character_offsets_of_words():
    text = "RoPE 的外推性，更好"
    spans = word_spans(text)
    words = [text[s:e] for s, e in spans]
    assert "RoPE" in words and "，" not in words and " " not in words
