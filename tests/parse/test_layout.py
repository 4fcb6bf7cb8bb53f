"""Layout rules on hand-placed lines (PDF points, top-left origin): running headers and footers, page
numbers, two-column reading order, paragraphs and heading styles."""

from __future__ import annotations

import pytest

from docrag.parse.layout import (
    Line,
    Paragraph,
    Region,
    find_gutter,
    heading_style,
    is_page_number,
    numbered_style,
    paragraphs,
    reading_order,
    running_lines,
    usual_line_gap,
)


def body_lines(texts: list[str], top: float = 100, x0: float = 72, x1: float = 540, size: float = 10,
               leading: float = 14) -> list[Line]:
    return [Line(t, x0, top + k * leading, x1, top + k * leading + size, size) for k, t in enumerate(texts)]


def page(k: int, header: str, footer: str) -> list[Line]:
    return [Line(header, 72, 30, 300, 40, 9), *body_lines([f"Body text {k} line {i} of this page." for i in range(30)]),
            Line(footer, 290, 760, 320, 770, 9)]


@pytest.mark.parametrize("text", ["12", "- 12 -", "— 7 —", "Page 12", "Page 12 of 80", "page 3/10", "第12页",
                                  "第 3 页 共 80 页", "F-12", "1-1-25", "iv", "12 / 80"])
def test_page_number_forms(text):
    assert is_page_number(text)


@pytest.mark.parametrize("text", ["2018 Annual Report", "Item 7", "Revenue grew 12%", "第一节 概览", "12 months"])
def test_not_page_numbers(text):
    assert not is_page_number(text)


def test_repeated_header_and_footer_with_changing_numbers_are_running():
    pages = [page(k, f"ACME Corp 2023 Annual Report | {k + 1}", f"{k + 1}") for k in range(5)]
    drops = running_lines(pages)
    for lines, drop in zip(pages, drops):
        assert {lines[i].text for i in drop} == {lines[0].text, lines[-1].text}


def test_a_header_on_few_pages_is_kept_but_its_page_number_goes():
    pages = [page(k, "Chapter one" if k < 2 else f"Other header {'x' * k}", f"- {k + 1} -") for k in range(6)]
    drops = running_lines(pages)
    assert all(0 not in drop for drop in drops)  # "Chapter one" repeats on 2 of 6 pages only
    assert all(len(lines) - 1 in drop for lines, drop in zip(pages, drops))


def test_repeated_body_lines_are_not_headers():
    # every page starts with the same sentence, in the body's flow (no gap, long line): not a header
    pages = [body_lines(["The same long opening sentence is repeated on each page of this report."]
                        + [f"Page {k} continues with its own text here and there." for _ in range(20)], top=40)
             for k in range(5)]
    assert all(not d for d in running_lines(pages))


def test_two_columns_read_left_then_right_below_a_full_width_title():
    title = Line("A Title Across The Whole Page Of This Document", 72, 40, 540, 56, 16)
    left = body_lines([f"left column line {i} with running text." for i in range(20)], x0=72, x1=290)
    right = body_lines([f"right column line {i} with running text" for i in range(20)], x0=322, x1=540)
    interleaved = [ln for pair in zip(right, left) for ln in pair]  # content streams often go row by row
    assert find_gutter(left + right) == pytest.approx(306, abs=16)
    groups = reading_order([title, *interleaved])
    order = [ln.text for g in groups for ln in g]
    assert order == [title.text] + [ln.text for ln in left] + [ln.text for ln in right]


def test_table_cells_are_not_columns():
    # a label column and number columns: short cells, not two columns of running text
    rows = []
    for i in range(15):
        y = 100 + 14 * i
        rows += [Line(f"Row label number {i}", 72, y, 200, y + 10, 10), Line("1,234", 320, y, 350, y + 10, 10),
                 Line("(5,678)", 400, y, 440, y + 10, 10), Line("12.5%", 500, y, 530, y + 10, 10)]
    assert find_gutter(rows) is None
    (group,) = reading_order(rows)
    assert group[0].text == "Row label number 0 1,234 (5,678) 12.5%"  # one visual line per row, left to right


def test_paragraph_breaks_on_gap_indent_bullet_and_size():
    lines = [
        Line("Heading", 72, 80, 140, 96, 16),
        *body_lines(["First paragraph runs across the whole column width here and", "goes on to its end."],
                    top=110),
        Line("    Indented start of the second paragraph that runs long enough to fill", 100, 138, 540, 148, 10),
        Line("the line, then ends.", 72, 152, 200, 162, 10),
        Line("• a bullet item", 72, 190, 200, 200, 10),
        Line("• another item", 72, 204, 200, 214, 10),
    ]
    lines[2].x1 = 160  # the first paragraph's last line is short
    groups = reading_order(lines)
    paras = [p for g in groups for p in paragraphs(g, usual_line_gap(groups))]
    assert [p.text for p in paras] == [
        "Heading",
        "First paragraph runs across the whole column width here and goes on to its end.",
        "Indented start of the second paragraph that runs long enough to fill the line, then ends.",
        "a bullet item", "another item"]
    assert [p.kind for p in paras] == ["paragraph", "paragraph", "paragraph", "list", "list"]


def test_inline_enumeration_at_a_line_start_does_not_split_a_paragraph():
    lines = body_lines(["products for five markets, including 1) monitors 2) televisions",
                        "3) phones and tablets 4) notebooks and 5) car displays. The segment"])
    (group,) = reading_order(lines)
    assert len(paragraphs(group, usual_line_gap([group]))) == 1


def test_hyphenation_and_cjk_joins():
    lines = body_lines(["The retrieval sys-", "tem returns passages."]) + \
        body_lines(["中文段落在这里换行", "不应出现空格。"], top=200)
    lines[1].x1 = lines[3].x1 = 300
    groups = reading_order(lines)
    texts = [p.text for g in groups for p in paragraphs(g, usual_line_gap(groups))]
    assert texts == ["The retrieval system returns passages.", "中文段落在这里换行不应出现空格。"]


def test_regions_keep_their_place_and_end_paragraphs():
    lines = body_lines(["Text above the table, a full line of words that runs on", "and ends here."])
    table = Region(72, 140, 540, 300, ref="table")
    below = body_lines(["Text below the table."], top=320)
    groups = reading_order([*below, table, *lines])
    items = [p for g in groups for p in paragraphs(g, usual_line_gap(groups))]
    assert [getattr(p, "text", p.ref if isinstance(p, Region) else None) for p in items] == [
        "Text above the table, a full line of words that runs on and ends here.", "table", "Text below the table."]


def para(text: str, size: float = 10, bold: bool = False, n_lines: int = 1) -> Paragraph:
    lines = [Line(text, 72, 100, 300, 110, size, bold)] * n_lines
    return Paragraph(lines, "paragraph", text, size, bold)


def test_heading_styles_rank_size_then_numbering_then_bold():
    styles = {t: heading_style(p, body_size=10, body_bold=False) for t, p in {
        "Big title": para("Big title", size=18),
        "Section title": para("Section title", size=14),
        "第一节 概览": para("第一节 概览"),
        "一、基本情况": para("一、基本情况"),
        "（一）公司简介": para("（一）公司简介"),
        "1.2 Scope": para("1.2 Scope"),
        "Bold run-in heading": para("Bold run-in heading", bold=True),
    }.items()}
    order = sorted(styles, key=styles.get)
    assert order == ["Big title", "Section title", "第一节 概览", "一、基本情况", "（一）公司简介", "1.2 Scope",
                     "Bold run-in heading"]


@pytest.mark.parametrize("text", ["这是一个完整的句子。", "Revenue 1,234 5,678 9,012", "• bullet text",
                                  "A normal sentence that ends with a period."])
def test_running_text_is_not_a_heading(text):
    p = para(text, bold=text.startswith("A normal"))
    p.kind = "list" if text.startswith("•") else "paragraph"
    assert heading_style(p, body_size=10, body_bold=False) is None


def test_numbered_styles():
    assert numbered_style("1.2.3 Deep") > numbered_style("1.2 Mid") > numbered_style("1 Top")
    assert numbered_style("第三章 业务") < numbered_style("第二节 概览")
    assert numbered_style("Item 7. Management's Discussion") is not None
    assert numbered_style("2022 was a good year") is None
