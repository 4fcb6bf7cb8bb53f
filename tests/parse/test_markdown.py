"""Markdown parsing: headings become section paths, inline markup stripped, code/tables/lists kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from docrag.parse import parse
from docrag.parse.markdown import strip_inline


def md(tmp_path: Path, text: str, name: str = "doc.md"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return parse(path)


def by_text(doc, text):
    matches = [b for b in doc.blocks if b.text == text]
    assert matches, f"no block {text!r} in {[b.text for b in doc.blocks]}"
    return matches[0]


NESTED = """\
# 总标题

导言段落。

## 第一节

第一节内容。

### 小节 1.1

小节内容。

#### 更深一层

四级内容。

## 第二节

第二节内容。

### 小节 2.1

二点一内容。

# 另一个顶层

顶层内容。
"""


def test_heading_levels_and_section_paths(tmp_path):
    doc = md(tmp_path, NESTED)
    headings = [(b.text, b.level) for b in doc.blocks if b.kind == "heading"]
    assert headings == [("总标题", 1), ("第一节", 2), ("小节 1.1", 3), ("更深一层", 4), ("第二节", 2),
                        ("小节 2.1", 3), ("另一个顶层", 1)]
    assert by_text(doc, "导言段落。").section == ("总标题",)
    assert by_text(doc, "第一节内容。").section == ("总标题", "第一节")
    assert by_text(doc, "小节内容。").section == ("总标题", "第一节", "小节 1.1")
    assert by_text(doc, "四级内容。").section == ("总标题", "第一节", "小节 1.1", "更深一层")
    # back to ## pops both ### and ####
    assert by_text(doc, "第二节内容。").section == ("总标题", "第二节")
    assert by_text(doc, "二点一内容。").section == ("总标题", "第二节", "小节 2.1")
    assert by_text(doc, "顶层内容。").section == ("另一个顶层",)
    # a heading's own section path ends with itself
    assert by_text(doc, "第二节").section == ("总标题", "第二节")
    assert all(b.level == 0 for b in doc.blocks if b.kind != "heading")


def test_title_is_first_h1(tmp_path):
    doc = md(tmp_path, "## 二级在前\n\n正文。\n\n# 真正的标题\n\n# 第二个一级\n")
    assert doc.title == "真正的标题"
    assert doc.file_type == "md"


def test_title_falls_back_to_file_stem(tmp_path):
    doc = md(tmp_path, "## 只有二级\n\n正文。\n", name="笔记.md")
    assert doc.title == "笔记"


def test_closing_hashes_are_not_part_of_heading(tmp_path):
    doc = md(tmp_path, "## 标题 ##\n\n正文。\n")
    assert doc.blocks[0].text == "标题"
    assert doc.blocks[0].level == 2


def test_inline_markup_is_stripped(tmp_path):
    doc = md(tmp_path, "导言包含[链接文字](http://example.com)和**加粗**以及`code_span`，还有__粗体__。\n")
    assert doc.blocks[0].text == "导言包含链接文字和加粗以及code_span，还有粗体。"


def test_emphasis_between_chinese_characters_is_stripped(tmp_path):
    # CommonMark: '*' emphasis may be intraword, and Chinese has no spaces around words
    doc = md(tmp_path, "还有*强调*和文字。\n")
    assert doc.blocks[0].text == "还有强调和文字。"


def test_inline_markup_in_english_and_headings(tmp_path):
    doc = md(tmp_path, "# The **BM25** [ranking](u) function\n\nSee ![a diagram](x.png) and <em>this</em>.\n")
    assert doc.blocks[0].text == "The BM25 ranking function"
    assert doc.blocks[1].text == "See a diagram and this."


def test_strip_inline_keeps_underscores_and_math_asterisks():
    assert strip_inline("snake_case_name") == "snake_case_name"
    assert strip_inline("2*3*4 = 24") == "2*3*4 = 24"


def test_hard_wrapped_paragraph_is_unwrapped(tmp_path):
    doc = md(tmp_path, "第一节的内容\n跨越两行。\n\nEnglish text that\nwraps onto a second line.\n")
    assert [b.text for b in doc.blocks] == ["第一节的内容跨越两行。", "English text that wraps onto a second line."]


def test_fenced_code_is_one_block(tmp_path):
    doc = md(tmp_path, "# 代码\n\n前文。\n\n```python\ndef f(x):\n\n    return x * 2  # **not bold**\n```\n\n后文。\n")
    code = [b for b in doc.blocks if b.kind == "code"]
    assert len(code) == 1
    assert code[0].text.split("\n")[0] == "def f(x):"
    assert "return x * 2" in code[0].text
    assert "**not bold**" in code[0].text  # no inline stripping inside code
    assert "```" not in code[0].text
    assert code[0].section == ("代码",)
    assert [b.text for b in doc.blocks if b.kind == "paragraph"] == ["前文。", "后文。"]


def test_heading_syntax_inside_code_fence_is_not_a_heading(tmp_path):
    doc = md(tmp_path, "# 真标题\n\n~~~\n# comment, not a heading\n~~~\n")
    assert [b.text for b in doc.blocks if b.kind == "heading"] == ["真标题"]
    assert [b.text for b in doc.blocks if b.kind == "code"] == ["# comment, not a heading"]


def test_table_rows_kept_and_rule_removed(tmp_path):
    doc = md(tmp_path, "## 表\n\n| 列A | 列B |\n| --- | :---: |\n| a | b |\n| **c** | [d](u) |\n\n后文。\n")
    tables = [b for b in doc.blocks if b.kind == "table"]
    assert len(tables) == 1
    assert tables[0].text == "列A | 列B\na | b\nc | d"
    assert "---" not in tables[0].text
    assert tables[0].section == ("表",)
    assert doc.blocks[-1].text == "后文。"


def test_paragraph_directly_after_table_is_separate(tmp_path):
    doc = md(tmp_path, "| x | y |\n|---|---|\n| 1 | 2 |\n紧跟的段落。\n")
    assert [(b.kind, b.text) for b in doc.blocks] == [("table", "x | y\n1 | 2"), ("paragraph", "紧跟的段落。")]


def test_list_items(tmp_path):
    doc = md(tmp_path, "## 列表\n\n- 项目一\n* 项目二 [link](u)\n+ 项目三\n1. 第一步\n2) 第二步\n")
    items = [b for b in doc.blocks if b.kind == "list"]
    assert [b.text for b in items] == ["项目一", "项目二 link", "项目三", "第一步", "第二步"]
    assert all(b.section == ("列表",) for b in items)


def test_setext_headings(tmp_path):
    doc = md(tmp_path, "Setext 标题\n===========\n\n段落。\n\nSub setext\n----------\n\n最后一段。\n")
    assert [(b.kind, b.level, b.text) for b in doc.blocks] == [
        ("heading", 1, "Setext 标题"), ("paragraph", 0, "段落。"),
        ("heading", 2, "Sub setext"), ("paragraph", 0, "最后一段。")]
    assert doc.blocks[-1].section == ("Setext 标题", "Sub setext")
    assert doc.title == "Setext 标题"


def test_sample_markdown(sample_dir):
    doc = parse(sample_dir / "rope_位置编码.md")
    assert doc.title == "旋转位置编码（RoPE）与长上下文外推"
    h2 = [b.text for b in doc.blocks if b.kind == "heading" and b.level == 2]
    assert h2[0] == "为什么 Transformer 需要位置编码"
    assert "YaRN" in h2
    table = next(b for b in doc.blocks if b.kind == "table")
    assert table.text.split("\n")[0] == "方法 | 是否需要微调 | 核心思想"
    assert table.section == ("旋转位置编码（RoPE）与长上下文外推", "方法对比")
    yarn = [b for b in doc.blocks if b.kind == "paragraph" and b.section[-1:] == ("YaRN",)]
    assert len(yarn) == 2
    assert not any("**" in b.text or "](" in b.text for b in doc.blocks if b.kind != "code")


# --- markdown that should not leak syntax into the indexed text ----------------------------------

@pytest.mark.parametrize("rule", ["---", "***", "* * *", "___"])
def test_thematic_break_is_not_text(tmp_path, rule):
    doc = md(tmp_path, f"# T\n\n段落一。\n\n{rule}\n\n段落二。\n")
    assert [b.text for b in doc.blocks] == ["T", "段落一。", "段落二。"]


def test_list_item_continuation_line_belongs_to_the_item(tmp_path):
    doc = md(tmp_path, "- item that wraps\n  onto the next line\n- second\n")
    assert [(b.kind, b.text) for b in doc.blocks] == [("list", "item that wraps onto the next line"),
                                                     ("list", "second")]


def test_blockquote_markers_are_stripped(tmp_path):
    doc = md(tmp_path, "> 引用的第一行\n> 引用的第二行。\n")
    assert [b.text for b in doc.blocks] == ["引用的第一行引用的第二行。"]


# --- raw HTML that a reader never sees ----------------------------------------------------------

def test_script_and_style_blocks_are_not_indexed(tmp_path):
    doc = md(tmp_path, "# 标题\n\n前文。\n\n<script>\nvar s = '<script>脚本';\n# not a heading\n</script>\n\n"
                       "<style>\np { color: red }\n</style>\n\n<template><p>模板</p></template>\n\n<noscript>请启用脚本</noscript>\n\n"
                       "后文。\n")
    assert [b.text for b in doc.blocks] == ["标题", "前文。", "后文。"]


@pytest.mark.parametrize("hidden", [
    '<div hidden>\n隐藏一。\n\n隐藏二 <div>内层</div> 仍隐藏。\n</div>',
    '<div style="display: none">隐藏。</div>',
    '<p aria-hidden="true">隐藏。</p>',
    "<!-- 隐藏的注释\n跨行 -->",
])
def test_hidden_html_is_not_indexed(tmp_path, hidden):
    doc = md(tmp_path, f"前文。\n\n{hidden}\n\n后文。\n")
    assert [b.text for b in doc.blocks] == ["前文。", "后文。"]


def test_inline_hidden_html_is_not_indexed(tmp_path):
    doc = md(tmp_path, '可见<span style="visibility:hidden">隐藏</span>文字<!-- 注释 -->。<script>x()</script>\n')
    assert [b.text for b in doc.blocks] == ["可见文字。"]


def test_html_in_code_is_text_not_markup(tmp_path):
    # in a code span or fenced code, <script> is literal text: nothing between two of them is dropped
    doc = md(tmp_path, "用 `<script>` 开始，中间的文字保留，用 `</script>` 结束。\n\n"
                       "```html\n<script>alert(1)</script>\n```\n")
    assert "中间的文字保留" in doc.blocks[0].text
    assert [b.text for b in doc.blocks if b.kind == "code"] == ["<script>alert(1)</script>"]


def test_unclosed_hidden_element_keeps_the_rest_of_the_file(tmp_path):
    doc = md(tmp_path, "<div hidden>\n\n正文一。\n\n正文二。\n")
    assert [b.text for b in doc.blocks] == ["正文一。", "正文二。"]
