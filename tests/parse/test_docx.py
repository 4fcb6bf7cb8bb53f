"""Word .docx parsing: headings by style, paragraphs and tables in body order."""

from __future__ import annotations

import os

import docx
import pytest
from docx.enum.style import WD_STYLE_TYPE

from docrag.errors import ParseError
from docrag.parse import parse

MD = """\
# 总标题
导言段落，介绍本地检索增强生成。
## 第一节
第一节内容，English words here: BM25 and dense retrieval.
- 要点一：离线运行
- 要点二：隐私保护
### 小节
小节内容。
## 第二节
第二节内容。
"""

# ground truth: (kind, level, text, section) of every block, in order
EXPECTED = [
    ("heading", 1, "总标题", ("总标题",)),
    ("paragraph", 0, "导言段落，介绍本地检索增强生成。", ("总标题",)),
    ("heading", 2, "第一节", ("总标题", "第一节")),
    ("paragraph", 0, "第一节内容，English words here: BM25 and dense retrieval.", ("总标题", "第一节")),
    ("list", 0, "要点一：离线运行", ("总标题", "第一节")),
    ("list", 0, "要点二：隐私保护", ("总标题", "第一节")),
    ("heading", 3, "小节", ("总标题", "第一节", "小节")),
    ("paragraph", 0, "小节内容。", ("总标题", "第一节", "小节")),
    ("heading", 2, "第二节", ("总标题", "第二节")),
    ("paragraph", 0, "第二节内容。", ("总标题", "第二节")),
]


@pytest.fixture
def doc(make_docx):
    return parse(make_docx(MD))


def test_text_matches_ground_truth_in_order(doc):
    assert [b.text for b in doc.blocks] == [t for _, _, t, _ in EXPECTED]
    assert doc.file_type == "docx"
    assert all(b.page is None for b in doc.blocks)


def test_heading_levels(doc):
    assert [(b.text, b.level) for b in doc.blocks if b.kind == "heading"] == \
        [(t, lvl) for k, lvl, t, _ in EXPECTED if k == "heading"]
    assert all(b.level == 0 for b in doc.blocks if b.kind != "heading")


def test_section_paths(doc):
    assert [(b.text, b.section) for b in doc.blocks] == [(t, s) for _, _, t, s in EXPECTED]


def test_bullets_are_list_blocks(doc):
    # "List Bullet" paragraphs are list items, as in the Markdown and HTML parsers
    assert [(b.kind, b.text) for b in doc.blocks] == [(k, t) for k, _, t, _ in EXPECTED]


def test_title_from_core_properties_or_stem(tmp_path, make_docx):
    from make_docs import markdown_to_docx  # examples/ is put on sys.path by tests/conftest.py

    titled = markdown_to_docx("# 标题\n正文。\n", tmp_path / "t.docx", title="我的文档")
    assert parse(titled).title == "我的文档"
    assert parse(make_docx("# 标题\n正文。\n", name="无题.docx")).title == "无题"


def _table_docx(path, rows, before="前文。", after="后文。"):
    d = docx.Document()
    d.add_heading("表格一节", 1)
    d.add_paragraph(before)
    table = d.add_table(rows=len(rows), cols=len(rows[0]))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    d.add_paragraph(after)
    d.save(str(path))
    return path


def test_table_block_rows(tmp_path):
    doc = parse(_table_docx(tmp_path / "t.docx", [("名称", "数量"), ("a", "b"), ("苹果", "3")]))
    assert [(b.kind, b.text) for b in doc.blocks] == [
        ("heading", "表格一节"), ("paragraph", "前文。"),
        ("table", "名称 | 数量\na | b\n苹果 | 3"), ("paragraph", "后文。")]
    assert doc.blocks[2].section == ("表格一节",)


def test_table_with_empty_row_skips_it(tmp_path):
    doc = parse(_table_docx(tmp_path / "t.docx", [("x", "y"), ("", ""), ("1", "2")]))
    assert next(b for b in doc.blocks if b.kind == "table").text == "x | y\n1 | 2"


def test_table_merged_cell_appears_once(tmp_path):
    path = tmp_path / "merged.docx"
    d = docx.Document()
    table = d.add_table(rows=2, cols=3)
    merged = table.cell(0, 0).merge(table.cell(0, 1))
    merged.text = "合并"
    table.cell(0, 2).text = "c"
    for c, value in enumerate(("1", "2", "3")):
        table.cell(1, c).text = value
    d.save(str(path))
    assert parse(path).blocks[0].text == "合并 | c\n1 | 2 | 3"


def test_table_equal_adjacent_cells_are_both_kept(tmp_path):
    # two different cells that happen to hold the same value are two columns, not a merged cell
    doc = parse(_table_docx(tmp_path / "eq.docx", [("项目", "2023", "2024"), ("收入", "100", "100")]))
    table = next(b for b in doc.blocks if b.kind == "table")
    assert table.text == "项目 | 2023 | 2024\n收入 | 100 | 100"


def test_corrupt_docx_names_the_file(tmp_path):
    path = tmp_path / "corrupt.docx"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(ParseError) as ei:
        parse(path)
    assert str(path) in str(ei.value)
    assert ei.value.path == str(path)


def test_truncated_docx_names_the_file(tmp_path):
    good = _table_docx(tmp_path / "good.docx", [("a", "b")])
    path = tmp_path / "truncated.docx"
    path.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(ParseError) as ei:
        parse(path)
    assert str(path) in str(ei.value)


def test_docx_without_text(tmp_path):
    path = tmp_path / "blank.docx"
    docx.Document().save(str(path))
    with pytest.raises(ParseError, match="no text found"):
        parse(path)


def test_paragraph_styles_with_many_styles(tmp_path):
    # styles are looked up in a map read once per document (python-docx searches every style for each
    # paragraph); the lookup keeps python-docx's rules: an unknown id, a character style's id or no id at
    # all mean the default paragraph style, which here is a list style
    d = docx.Document()
    for i in range(100):
        d.styles.add_style(f"Custom {i}", WD_STYLE_TYPE.PARAGRAPH)
    d.styles.add_style("标题 2", WD_STYLE_TYPE.PARAGRAPH)
    nameless = d.styles.add_style("Nameless", WD_STYLE_TYPE.PARAGRAPH)
    nameless.element._remove_name()  # Word accepts a style without a name
    char_style = d.styles.add_style("Strong Char", WD_STYLE_TYPE.CHARACTER)
    d.styles["Normal"].element.default = False
    d.styles["List Bullet"].element.default = True
    variants = [  # (style name, or a raw style id with "#"), expected kind, level
        ("Heading 1", "heading", 1), ("Custom 0", "paragraph", 0), ("Custom 99", "paragraph", 0),
        ("标题 2", "heading", 2), ("#Nameless", "paragraph", 0), ("Title", "heading", 1),
        (None, "list", 0), ("#NoSuchStyle", "list", 0), (f"#{char_style.style_id}", "list", 0),
    ]
    expected = []
    for i in range(450):
        style, kind, level = variants[i % len(variants)]
        text = f"第{i}段 paragraph {i}"
        p = d.add_paragraph(text, style=None if style is None or style.startswith("#") else style)
        if style and style.startswith("#"):
            p._p.style = style[1:]
        expected.append((kind, level, text))
    path = tmp_path / "styles.docx"
    d.save(str(path))
    assert [(b.kind, b.level, b.text) for b in parse(path).blocks] == expected


def test_expanded_size_over_max_bytes(tmp_path):
    path = tmp_path / "bomb.docx"
    d = docx.Document()
    for _ in range(40):
        d.add_paragraph("重复的文字。" * 5000)
    d.save(str(path))
    assert path.stat().st_size < 100_000  # 40 x 30,000 characters compress to a small file
    with pytest.raises(ParseError, match=r"expands to [\d.]+ MiB unzipped > 1,000,000 bytes limit") as ei:
        parse(path, max_bytes=1_000_000)
    assert str(path) in str(ei.value)
    assert len(parse(path, max_bytes=20_000_000).blocks) == 40
