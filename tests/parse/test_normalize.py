"""docrag.parse.normalize: character and whitespace normalisation shared by every parser."""

from __future__ import annotations

import pytest

from docrag.parse.normalize import normalize, paragraphs, unwrap

# --- characters ---------------------------------------------------------------------------------

def test_fullwidth_letters_and_digits_become_halfwidth():
    assert normalize("ＧＰＴ－４") == "GPT-4"
    assert normalize("ＡＢＣａｂｃ０１２３４５６７８９") == "ABCabc0123456789"
    # inside Chinese text too: the identifiers index like their ASCII spelling
    assert normalize("我们用ＢＥＲＴ模型训练了１２轮") == "我们用BERT模型训练了12轮"


def test_fullwidth_number_symbols_become_halfwidth():
    assert normalize("增长３．５％") == "增长3.5%"
    assert normalize("ａ＋ｂ＝ｃ") == "a+b=c"


@pytest.mark.parametrize("punct", ["，", "。", "！", "？", "；", "：", "、", "（", "）", "《", "》", "“", "”"])
def test_cjk_punctuation_is_kept(punct):
    text = f"前文{punct}后文"
    assert normalize(text) == text


def test_cjk_sentence_keeps_its_punctuation():
    text = "你好，世界。真的吗？是的！好；"
    assert normalize(text) == text


def test_ideographic_and_nonbreaking_spaces_become_ascii_spaces():
    assert normalize("hello\u3000world") == "hello world"
    assert normalize("hello\u00a0world") == "hello world"
    assert normalize("a\u202fb\u2007c") == "a b c"


def test_zero_width_and_soft_hyphen_characters_are_removed():
    assert normalize("A\u200bB\u200cC\u200dD\u2060E\ufeffF\u00adG") == "ABCDEFG"
    assert normalize("检\u200b索") == "检索"


def test_control_characters_are_removed_but_tabs_and_newlines_handled():
    assert normalize("a\x00b\x01c\x07d\x1be\x7ff") == "abcdef"
    # tab is whitespace (collapsed), newline kept, form feed / vertical tab are line ends
    assert normalize("a\tb") == "a b"
    assert normalize("a\nb") == "a\nb"
    assert normalize("a\x0cb") == "a\nb"
    assert normalize("a\x0bb") == "a\nb"


def test_crlf_and_cr_become_newlines():
    assert normalize("one\r\ntwo\rthree") == "one\ntwo\nthree"


# --- spaces ---------------------------------------------------------------------------------------

def test_spaces_between_cjk_characters_are_removed():
    assert normalize("中文 中文 之间") == "中文中文之间"
    assert normalize("检 索 增 强") == "检索增强"
    # between CJK punctuation and CJK characters too
    assert normalize("你好， 世界 。") == "你好，世界。"


def test_spaces_between_cjk_and_latin_are_kept():
    assert normalize("使用 BERT 模型") == "使用 BERT 模型"
    assert normalize("English 中文 mixed") == "English 中文 mixed"


def test_runs_of_spaces_collapse_and_lines_are_stripped():
    assert normalize("a   b\t\t c") == "a b c"
    assert normalize("  lead  \n  trail  ") == "lead\ntrail"


def test_normalize_keeps_line_structure():
    text = "第一行\n第二行\n\nthird line"
    assert normalize(text) == text


# --- unwrap -------------------------------------------------------------------------------------

def test_english_is_dehyphenated_across_line_breaks():
    assert unwrap("the con-\nnection is slow") == "the connection is slow"
    assert unwrap("retrie-\nval") == "retrieval"


def test_hyphen_before_capital_or_digit_is_not_removed():
    # only a lower-case continuation marks a word broken by hyphenation; the hyphen stays
    assert unwrap("GPT-\n4").replace(" ", "") == "GPT-4"
    assert unwrap("Anglo-\nSaxon").replace(" ", "") == "Anglo-Saxon"


def test_hard_wrapped_chinese_lines_join_without_spaces():
    assert unwrap("中文第一行\n第二行") == "中文第一行第二行"
    assert unwrap("句子的前半，\n后半。") == "句子的前半，后半。"


def test_english_lines_join_with_one_space():
    assert unwrap("line one\nline two\nline three") == "line one line two line three"


def test_mixed_line_join_uses_a_space_between_latin_and_cjk():
    assert unwrap("使用 BERT\n模型") == "使用 BERT 模型"


# --- paragraphs ---------------------------------------------------------------------------------

def test_paragraphs_blank_line_mode_joins_hard_wraps():
    text = "p1 line1\np1 line2\n\np2 line\n\n\n中文一\n中文二"
    assert paragraphs(text) == ["p1 line1 p1 line2", "p2 line", "中文一中文二"]


def test_paragraphs_blank_line_mode_ignores_whitespace_only_lines():
    assert paragraphs(normalize("a\n   \nb")) == ["a", "b"]


def test_paragraphs_without_blank_lines_is_one_per_line():
    assert paragraphs("line a\nline b\nline c") == ["line a", "line b", "line c"]
    assert paragraphs("第一条记录。\n第二条记录。") == ["第一条记录。", "第二条记录。"]


def test_paragraphs_of_empty_text():
    assert paragraphs("") == []
    assert paragraphs("   \n  ") == []


def test_paragraphs_dehyphenate_inside_a_paragraph():
    assert paragraphs("infor-\nmation retrieval\n\nnext") == ["information retrieval", "next"]
