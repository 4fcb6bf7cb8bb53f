"""PDF parsing: per-page text layer split into paragraphs, each block with its 1-based page.

Ground truth is the Markdown the PDF was rendered from (tests/conftest.py ``make_pdf``); where a
test needs to know which page a piece of text is on, pdfium's raw page text is the oracle.
"""

from __future__ import annotations

import re
import sys
import types
from dataclasses import dataclass

import pypdfium2 as pdfium
import pytest

from docrag.chunk.recursive import RecursiveSplitter
from docrag.config import ParseConfig
from docrag.errors import ParseError
from docrag.parse import parse
from docrag.types import Table, TableCell

ZH_PARAS = [
    "中国是最早发现和利用茶的国家之一。从药用、食用到饮用，从煮饮、点饮到冲泡，茶在中国经历了两千多年的演变，逐渐形成了丰富的茶类和独特的饮茶习俗。",
    "中国西南地区是茶树的重要原产地，那里至今仍生长着树龄数百年乃至上千年的古茶树。比较可靠的记载来自西汉王褒的《僮约》，说明至迟在西汉时期，四川一带已经有了煮茶和买卖茶叶的习惯。",
    "陆羽在八世纪后期写成的《茶经》，是世界上第一部系统论述茶的专著，全书共三卷十章，后人因此尊称他为茶圣。唐代流行的饮法是煎茶，茶叶采摘后经过蒸、捣、拍、焙等工序，制成饼茶。",
    "到了宋代，饮茶方式由煎茶转向点茶。人们把团茶碾成极细的茶末，放入茶盏，先注入少量沸水调成膏状，再分次注水，同时用茶筅击拂，使茶汤表面泛起洁白细密的汤花。",
    "明洪武二十四年，明太祖朱元璋下令罢造龙团，改为进贡芽茶。此后，把散茶放入壶或盏中直接用沸水冲泡的方法逐渐成为主流，并一直延续到今天。",
    "现代通常根据加工工艺和发酵程度，把茶分为绿茶、白茶、黄茶、青茶、红茶和黑茶六大类。绿茶的关键工序是杀青，用高温迅速破坏酶的活性，保持绿叶绿汤。",
    "龙井茶是最负盛名的绿茶之一，产于浙江杭州西湖周边的群山之中。龙井茶采用手工炒制，炒成扁平挺直、光滑匀整的外形，以色绿、香郁、味甘、形美四绝著称。",
    "从陆羽的《茶经》到宋代的点茶，再到明清以后的冲泡，中国茶的历史也是一部饮食习惯和工艺不断变化的历史。",
]
EN_PARAS = [
    "Retrieval augmented question answering depends on its first stage. If the passage that contains the answer is not among the candidates handed to the reader, nothing later can recover it.",
    "BM25 is a bag of words ranking function from the probabilistic relevance framework. For every query term found in a document it adds a contribution that grows with the term frequency and shrinks with document length.",
    "Dense retrievers encode the query and each passage into fixed length vectors and score them by cosine similarity. Because the encoder is trained on many related text pairs, it learns that paraphrases belong together.",
    "Reciprocal rank fusion ignores scores and uses only ranks. The fused score of a document is the sum, over all rankings, of one divided by the constant sixty plus its rank.",
    "A cross encoder feeds the query and one candidate passage into a transformer together and outputs a single relevance score. It is slow, so it reranks only the top candidates.",
    "Weighted fusion keeps the scores but first rescales them, usually with min max normalisation per query, so that the best candidate in each list gets one and the worst gets zero.",
]
HEADINGS = ["中国茶的历史", "Hybrid Search", "六大茶类", "Fusion and Reranking"]

# Chinese and English sections, long enough for two A4 pages
SECTIONS = [
    (HEADINGS[0], ZH_PARAS[:4]),
    (HEADINGS[1], EN_PARAS[:3]),
    (HEADINGS[2], ZH_PARAS[4:]),
    (HEADINGS[3], EN_PARAS[3:]),
]
SOURCE = "\n\n".join(f"# {h}\n\n" + "\n\n".join(ps) for h, ps in SECTIONS)
PARAS_IN_ORDER = [p for h, ps in SECTIONS for p in [h, *ps]]
CJK_PUNCT = "，。、；：！？《》（）“”"


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def page_texts(path) -> list[str]:
    pdf = pdfium.PdfDocument(str(path))
    try:
        out = []
        for i in range(len(pdf)):
            tp = pdf[i].get_textpage()
            out.append(squash(tp.get_text_range()))
            tp.close()
        return out
    finally:
        pdf.close()


@pytest.fixture
def pdf_path(make_pdf):
    return make_pdf(SOURCE, "茶与检索.pdf")


@pytest.fixture
def pdf_doc(pdf_path):
    return parse(pdf_path)


@pytest.fixture
def pages(pdf_path):
    texts = page_texts(pdf_path)
    assert len(texts) >= 2, "the test document must span at least two pages"
    return texts


def test_every_block_has_a_1_based_page(pdf_doc, pages):
    assert pdf_doc.file_type == "pdf"
    assert pdf_doc.metadata["n_pages"] == len(pages)
    assert all(isinstance(b.page, int) and 1 <= b.page <= len(pages) for b in pdf_doc.blocks)
    assert [b.page for b in pdf_doc.blocks] == sorted(b.page for b in pdf_doc.blocks)
    assert {b.page for b in pdf_doc.blocks} == set(range(1, len(pages) + 1))


def test_every_source_paragraph_appears_in_order(pdf_doc):
    text = squash("".join(b.text for b in pdf_doc.blocks))
    pos = 0
    for para in PARAS_IN_ORDER:
        i = text.find(squash(para), pos)
        assert i >= 0, f"missing or out of order: {para[:30]!r}"
        pos = i + len(squash(para))
    assert pos == len(text)  # and nothing else


def test_blocks_are_on_the_right_pages(pdf_doc, pages):
    for b in pdf_doc.blocks:
        assert squash(b.text) in pages[b.page - 1], f"block on page {b.page} not found there: {b.text[:30]!r}"


def test_first_and_last_paragraphs_pages(pdf_doc, pages):
    first = next(b for b in pdf_doc.blocks if squash(ZH_PARAS[0])[:20] in squash(b.text))
    assert first.page == 1
    last = next(b for b in pdf_doc.blocks if squash(EN_PARAS[-1])[-20:] in squash(b.text))
    assert last.page == len(pages) >= 2


def test_paragraph_split_by_a_page_break_is_on_both_pages(make_pdf):
    paras = [f"第{i:02d}段：" + "本地检索增强生成系统先把文档切成小块并建立索引，提问时检索相关片段，再据此生成带引用的答案。" * 2
             for i in range(30)]
    path = make_pdf("\n\n".join(paras), "long.pdf")
    pages = page_texts(path)
    straddling = [p for p in paras if not any(squash(p) in pg for pg in pages)]
    assert straddling, "precondition: some paragraph is cut by a page break"
    doc = parse(path)
    assert squash("".join(b.text for b in doc.blocks)) == squash("".join(paras))
    for para in straddling:
        i = next(i for i, b in enumerate(doc.blocks) if b.text.startswith(para[:5]))  # "第NN段"
        head, tail = doc.blocks[i], doc.blocks[i + 1]
        assert squash(head.text) + squash(tail.text) == squash(para)
        assert tail.page == head.page + 1
        assert squash(head.text) in pages[head.page - 1] and squash(tail.text) in pages[tail.page - 1]


def test_no_spurious_spaces_in_chinese(pdf_doc):
    cjk = rf"[\u4e00-\u9fff{CJK_PUNCT}]"
    for b in pdf_doc.blocks:
        assert not re.search(rf"{cjk}\s+{cjk}", b.text), b.text
        assert "\n" not in b.text


def test_english_words_are_separated_by_spaces(pdf_doc):
    text = " ".join(b.text for b in pdf_doc.blocks)
    assert "depends on its first stage." in text
    assert "nothing later can recover it." in text


def test_heading_is_not_merged_into_following_paragraph(pdf_doc):
    for h in HEADINGS:
        for b in pdf_doc.blocks:
            assert not (b.text.startswith(h) and len(b.text) > len(h)), f"{h!r} glued to: {b.text[:40]!r}"


def test_each_heading_is_a_block_of_its_own(pdf_doc):
    texts = [b.text for b in pdf_doc.blocks]
    for h in HEADINGS:
        assert h in texts, f"heading {h!r} is not a separate block"


def test_heading_after_a_full_last_line_is_its_own_block(make_pdf):
    # the paragraph's last line is as wide as the page: the short heading line after it is
    # a new block, not the paragraph's tail
    body = ("检索增强生成先从文档中找出相关的片段再让模型据此回答问题" * 4)[:77] + "。"
    path = make_pdf(f"# 第一节\n\n{body}\n\n# 第二节\n\n第二节的内容很短。\n", "full_line.pdf")
    pdf = pdfium.PdfDocument(str(path))
    lines = pdf[0].get_textpage().get_text_range().split("\r\n")
    pdf.close()
    assert lines[-2] == "第二节" and len(lines[-3]) == max(map(len, lines))  # precondition
    doc = parse(path)
    assert [b.text for b in doc.blocks] == ["第一节", body, "第二节", "第二节的内容很短。"]


def test_a_paragraph_within_one_page_is_one_block(pdf_doc, pages):
    # Chinese lines hold ~half as many characters as English ones: on a page with both, a
    # Chinese paragraph must not be cut at every line end
    for para in ZH_PARAS + EN_PARAS:
        if not any(squash(para) in pg for pg in pages):
            continue  # split by a page break
        assert any(squash(para) in squash(b.text) for b in pdf_doc.blocks), f"paragraph split: {para[:30]!r}"


def test_single_language_chinese_pdf(make_pdf):
    doc = parse(make_pdf("# 中文标题\n\n" + "\n\n".join(ZH_PARAS[:3]), "zh.pdf"))
    assert doc.blocks[0].text == "中文标题"
    assert squash("".join(b.text for b in doc.blocks)) == squash("中文标题" + "".join(ZH_PARAS[:3]))
    for para in ZH_PARAS[:3]:
        assert any(squash(para) in squash(b.text) for b in doc.blocks)
    assert all(b.page == 1 for b in doc.blocks)


def test_bullets_start_new_blocks(make_pdf):
    doc = parse(make_pdf("# 要点\n\n- 离线运行，不联网。\n- 隐私保护，日志脱敏。\n- 显存规划。\n", "bullets.pdf"))
    texts = [b.text for b in doc.blocks]
    for item in ("离线运行，不联网。", "隐私保护，日志脱敏。", "显存规划。"):
        assert any(t.endswith(item) and len(t) <= len(item) + 2 for t in texts), texts


# --- errors -------------------------------------------------------------------------------------

def test_truncated_pdf(pdf_path, tmp_path):
    data = pdf_path.read_bytes()
    bad = tmp_path / "truncated.pdf"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ParseError) as ei:
        parse(bad)
    assert str(bad) in str(ei.value)
    assert ei.value.path == str(bad)


def test_not_a_pdf(tmp_path):
    bad = tmp_path / "fake.pdf"
    bad.write_bytes(b"this is plain text with a .pdf name\n" * 20)
    with pytest.raises(ParseError) as ei:
        parse(bad)
    assert str(bad) in str(ei.value)


@pytest.mark.parametrize("how", ["string", "standard"])
def test_encrypted_pdf(tmp_path, how):
    from reportlab.lib import pdfencrypt
    from reportlab.pdfgen import canvas

    path = tmp_path / f"locked_{how}.pdf"
    encrypt = "secret" if how == "string" else pdfencrypt.StandardEncryption("user", "owner")
    c = canvas.Canvas(str(path), encrypt=encrypt)
    c.drawString(100, 700, "Confidential text behind a password")
    c.save()
    with pytest.raises(ParseError, match="encrypted") as ei:
        parse(path)
    assert str(path) in str(ei.value)


def test_pdf_without_text(tmp_path):
    from reportlab.pdfgen import canvas

    path = tmp_path / "scan.pdf"
    c = canvas.Canvas(str(path))
    c.rect(100, 100, 200, 300, fill=1)
    c.save()
    with pytest.raises(ParseError, match="no text found") as ei:
        parse(path)
    assert str(path) in str(ei.value)


# --- layout: boxes, headings, columns, running headers, hyphenation ------------------------------------

def canvas_pdf(path, pages, title: str = ""):
    """A PDF drawn page by page with reportlab: ``pages`` are functions of the canvas (A4, 595 x 842 pt,
    y up). Chinese text uses the built-in STSong-Light font."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    c = canvas.Canvas(str(path), pagesize=(595, 842))
    if title:
        c.setTitle(title)
    for draw in pages:
        draw(c)
        c.showPage()
    c.save()
    return path


def lines_at(c, texts, x, y, size=10, leading=14, font="Helvetica"):
    c.setFont(font, size)
    for k, t in enumerate(texts):
        c.drawString(x, y - k * leading, t)


def test_blocks_have_boxes_on_their_page(pdf_doc):
    for b in pdf_doc.blocks:
        x0, top, x1, bottom = b.bbox
        assert 0 <= x0 < x1 <= 595.3 and 0 <= top < bottom <= 842, (b.bbox, b.text[:20])
    heading = next(b for b in pdf_doc.blocks if b.text == HEADINGS[0])
    first = next(b for b in pdf_doc.blocks if squash(ZH_PARAS[0])[:10] in squash(b.text))
    assert heading.bbox[3] <= first.bbox[1]  # the heading sits above its paragraph


def test_headings_levels_and_section_paths(make_pdf):
    md = ("# 第一章 总则\n\n本章说明文档的范围。\n\n## 1.1 适用范围\n\n本规范适用于本地检索系统。\n\n"
          "## 1.2 术语\n\n检索增强生成是先检索后生成。\n\n# 第二章 设计\n\n系统分为解析、切块和索引。\n")
    doc = parse(make_pdf(md, "levels.pdf"))
    heads = [(b.level, b.text) for b in doc.blocks if b.kind == "heading"]
    assert heads == [(1, "第一章总则"), (2, "1.1 适用范围"), (2, "1.2 术语"), (1, "第二章设计")]
    by_text = {b.text: b for b in doc.blocks}
    assert by_text["检索增强生成是先检索后生成。"].section == ("第一章总则", "1.2 术语")
    assert by_text["系统分为解析、切块和索引。"].section == ("第二章设计",)


def test_numbered_headings_at_body_size(make_pdf):
    md = "第一节 概览\n\n一、基本情况\n\n公司主要从事太阳能边框的生产和销售。\n\n（一）公司简介\n\n公司成立于2006年。\n\n二、财务数据\n\n营业收入持续增长。\n"
    doc = parse(make_pdf(md, "numbered.pdf"))
    levels = {b.text: b.level for b in doc.blocks if b.kind == "heading"}
    assert levels["第一节概览"] < levels["一、基本情况"] == levels["二、财务数据"] < levels["（一）公司简介"]
    body = next(b for b in doc.blocks if b.text == "公司成立于2006年。")
    assert body.kind == "paragraph" and body.section == ("第一节概览", "一、基本情况", "（一）公司简介")


def test_two_column_page_reads_left_column_then_right(tmp_path):
    left = [f"Left column sentence number {i} continues the first story" for i in range(25)]
    right = [f"Right column sentence number {i} continues the second one" for i in range(25)]

    def draw(c):
        c.setFont("Helvetica-Bold", 18)
        c.drawString(60, 790, "A Two Column Newsletter Page")
        c.setFont("Helvetica", 9)
        for k, (a, b) in enumerate(zip(left, right)):  # drawn row by row, as many generators do
            c.drawString(60, 750 - 13 * k, a)
            c.drawString(315, 750 - 13 * k, b)

    doc = parse(canvas_pdf(tmp_path / "columns.pdf", [draw]))
    text = " ".join(b.text for b in doc.blocks)
    assert text.startswith("A Two Column Newsletter Page")
    assert " ".join(left) in text and " ".join(right) in text
    assert text.index(left[-1]) < text.index(right[0])
    assert doc.blocks[0].kind == "heading"


def test_running_headers_footers_and_page_numbers_are_removed(tmp_path):
    footers = ["- 1 -", "Page 2 of 4", "第3页", "4"]
    bodies = [[f"Page {p} paragraph line {i}: the annual report discusses revenue and risk factors." for i in range(12)]
              for p in range(4)]

    def page(p):
        def draw(c):
            lines_at(c, ["ACME Corporation  2023 Annual Report"], 60, 805, size=8)
            lines_at(c, bodies[p], 60, 740)
            lines_at(c, [footers[p]], 290, 40, size=8, font="STSong-Light")
        return draw

    doc = parse(canvas_pdf(tmp_path / "running.pdf", [page(p) for p in range(4)]))
    text = " ".join(b.text for b in doc.blocks)
    assert "ACME" not in text and not any(f in text for f in footers[:3])
    assert not any(b.text == "4" for b in doc.blocks)
    for p in range(4):
        assert " ".join(bodies[p]) in text


def test_hyphenated_line_ends_are_joined(tmp_path):
    def draw(c):
        lines_at(c, ["A retrieval system splits every document into small pas-",
                     "sages and indexes them; the reader then answers from the best",
                     "ones."], 60, 780)

    doc = parse(canvas_pdf(tmp_path / "hyphen.pdf", [draw]))
    assert [b.text for b in doc.blocks] == [(
        "A retrieval system splits every document into small passages and indexes them; the reader then answers "
        "from the best ones.")]


def test_title_comes_from_pdf_metadata(tmp_path):
    doc = parse(canvas_pdf(tmp_path / "t.pdf", [lambda c: lines_at(c, ["Some text."], 60, 780)], title="Annual Report"))
    assert doc.title == "Annual Report"


# --- figures ---------------------------------------------------------------------------------------------

def chart_image(width=300, height=180):
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(img)
    for k, h in enumerate((60, 100, 140)):
        d.rectangle([40 + 80 * k, height - 20 - h, 90 + 80 * k, height - 20], fill=(40, 90, 160))
    return img


def figure_pdf(path, caption="Figure 3: Revenue by year", labels=("Revenue", "2021", "2022", "2023")):
    from reportlab.lib.utils import ImageReader

    def draw(c):
        lines_at(c, ["Revenue grew in each of the last three years, as the chart below shows."], 60, 780)
        c.drawImage(ImageReader(chart_image()), 100, 500, width=300, height=180)  # top 162, bottom 342
        c.setFont("Helvetica", 8)
        for k, label in enumerate(labels):  # chart labels drawn as text over the picture
            c.drawString(120 + 70 * k, 505, label)
        if caption:
            lines_at(c, [caption], 100, 485, size=9)
        lines_at(c, ["The next section turns to costs."], 60, 440)

    return canvas_pdf(path, [draw])


def test_figure_block_with_caption_and_text_layer_labels(tmp_path):
    doc = parse(figure_pdf(tmp_path / "fig.pdf"), options=ParseConfig(ocr="off"))
    kinds = [b.kind for b in doc.blocks]
    assert kinds == ["paragraph", "figure", "paragraph"]
    fig = doc.blocks[1]
    assert fig.figure.caption == "Figure 3: Revenue by year"
    assert fig.figure.ocr_text == "Revenue 2021 2022 2023"  # the text layer inside the picture, not OCR
    assert fig.text == "Figure 3: Revenue by year\nRevenue 2021 2022 2023"
    assert fig.page == 1 and fig.bbox == pytest.approx((100, 162, 400, 342), abs=1)
    assert len(fig.figure.image_sha) == 64
    assert not any("2022" in b.text or "Figure 3" in b.text for b in doc.blocks if b.kind != "figure")


def test_small_and_textless_pictures_are_not_figures(tmp_path):
    doc = parse(figure_pdf(tmp_path / "fig.pdf", caption="", labels=()), options=ParseConfig(ocr="off"))
    assert [b.kind for b in doc.blocks] == ["paragraph", "paragraph"]  # nothing to search for in the picture
    doc = parse(figure_pdf(tmp_path / "fig2.pdf"), options=ParseConfig(ocr="off", min_figure_area=0.5))
    assert "figure" not in [b.kind for b in doc.blocks]


def test_figures_are_described_by_a_vision_model_once(tmp_path, monkeypatch):
    from fake_openai import FakeOpenAI

    monkeypatch.setenv("DOCRAG_CACHE", str(tmp_path / "cache"))

    with FakeOpenAI("vl-model") as server:
        server.answer = lambda messages: "A bar chart of revenue rising from 2021 to 2023."
        options = ParseConfig(ocr="off", vlm="openai:vl-model", vlm_base_url=server.base_url)
        path = figure_pdf(tmp_path / "fig.pdf")
        doc = parse(path, options=options)
        fig = next(b for b in doc.blocks if b.kind == "figure")
        assert fig.figure.description == "A bar chart of revenue rising from 2021 to 2023."
        assert fig.text.endswith(fig.figure.description)
        (body,) = server.bodies("/v1/chat/completions")
        text_part, image_part = body["messages"][0]["content"]
        assert "Figure 3: Revenue by year" in text_part["text"]
        assert image_part["image_url"]["url"].startswith("data:image/png;base64,")
        parse(path, options=options)
        assert len(server.bodies("/v1/chat/completions")) == 1  # cached by image hash and model


def test_an_unreachable_vision_model_costs_only_the_description(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCRAG_CACHE", str(tmp_path / "cache"))
    options = ParseConfig(ocr="off", vlm="openai:vl", vlm_base_url="http://127.0.0.1:9/v1")
    monkeypatch.setattr("docrag.http.JSONClient._wait", lambda *a: None)
    doc = parse(figure_pdf(tmp_path / "fig.pdf"), options=options)
    fig = next(b for b in doc.blocks if b.kind == "figure")
    assert fig.figure.caption and not fig.figure.description


# --- tables (pdf_tables is stubbed here; its own tests cover detection) -------------------------------

@dataclass
class FakeFound:
    page: int
    bbox: tuple
    table: Table


def grid_table(rows: list[list[str]]) -> Table:
    cells = [TableCell(r, c, text) for r, row in enumerate(rows) for c, text in enumerate(row)]
    return Table(cells, n_rows=len(rows), n_cols=len(rows[0]))


@pytest.fixture
def fake_tables(monkeypatch):
    """Replace docrag.parse.pdf_tables with a stub whose tables the test sets."""
    import docrag.parse

    stub = types.SimpleNamespace(found=[], find_tables=None, continues=lambda prev, nxt: False,
                                 merge=lambda prev, nxt: Table(prev.cells + [
                                     TableCell(c.row + prev.n_rows - nxt.header_rows, c.col, c.text)
                                     for c in nxt.cells if c.row >= nxt.header_rows],
                                     prev.n_rows + nxt.n_rows - nxt.header_rows, prev.n_cols))
    stub.find_tables = lambda path, pdf, turned=None: list(stub.found)
    monkeypatch.setitem(sys.modules, "docrag.parse.pdf_tables", stub)
    monkeypatch.setattr(docrag.parse, "pdf_tables", stub, raising=False)
    return stub


def table_page(caption: str, rows: list[list[str]], top_text: str = "", bottom_text: str = ""):
    def draw(c):
        if top_text:
            lines_at(c, [top_text], 60, 780, font="STSong-Light")
        if caption:
            lines_at(c, [caption], 60, 740, font="STSong-Light")
        for r, row in enumerate(rows):  # table rows from y 720 down, 16 pt apart
            for k, cell in enumerate(row):
                lines_at(c, [cell], 60 + 150 * k, 720 - 16 * r, font="STSong-Light")
        if bottom_text:
            lines_at(c, [bottom_text], 60, 720 - 16 * len(rows) - 30, font="STSong-Light")
    return draw


ROWS = [["项目", "2021年", "2022年"], ["营业收入", "1,200", "1,500"], ["净利润", "300", "420"]]


def test_table_lines_become_one_table_block_with_caption(tmp_path, fake_tables):
    path = canvas_pdf(tmp_path / "table.pdf", [table_page("表2 主要财务数据", ROWS, "公司经营情况如下：", "数据来源：年报。")])
    fake_tables.found = [FakeFound(0, (55, 110, 420, 160), grid_table(ROWS))]  # rows' boxes, below the caption
    doc = parse(path)
    assert [b.kind for b in doc.blocks] == ["paragraph", "table", "paragraph"]
    table = doc.blocks[1]
    assert table.table.caption == "表2 主要财务数据"
    assert table.text == "表2 主要财务数据\n营业收入 | 2021年: 1,200 | 2022年: 1,500\n净利润 | 2021年: 300 | 2022年: 420"
    assert table.page == 1 and table.bbox == (55, 110, 420, 160)
    assert doc.blocks[0].text == "公司经营情况如下：" and doc.blocks[2].text == "数据来源：年报。"


def test_a_table_continued_on_the_next_page_is_merged(tmp_path, fake_tables):
    more = [["项目", "2021年", "2022年"], ["毛利", "500", "610"]]
    path = canvas_pdf(tmp_path / "two.pdf", [table_page("表3 利润表", ROWS), table_page("续表", more)])
    fake_tables.found = [FakeFound(0, (55, 110, 420, 160), grid_table(ROWS)),
                         FakeFound(1, (55, 110, 420, 145), grid_table(more))]
    fake_tables.continues = lambda prev, nxt: (prev.page, nxt.page) == (0, 1)
    doc = parse(path)
    (table,) = [b for b in doc.blocks if b.kind == "table"]
    assert (table.page, table.page_end) == (1, 2) and table.table.n_rows == 4 and table.table.caption == "表3 利润表"
    assert table.text.endswith("毛利 | 2021年: 500 | 2022年: 610")
    assert not any("续表" in b.text for b in doc.blocks)
    (chunk,) = [c for c in RecursiveSplitter(size=400, overlap=0).split(doc) if c.kind == "table"]
    assert (chunk.page_start, chunk.page_end) == (1, 2)


@pytest.mark.parametrize("title, caption", [("合并现金流量表", ""), ("", "表4 现金流量表"), ("数据来源：年报。", "")])
def test_a_table_after_a_title_or_note_on_the_next_page_is_a_table_of_its_own(tmp_path, fake_tables, title, caption):
    # same columns, at the top of the next page: still a new table when text or its own caption comes between
    more = [["项目", "2021年", "2022年"], ["经营活动现金流量", "500", "610"]]
    path = canvas_pdf(tmp_path / "two.pdf", [table_page("表3 利润表", ROWS), table_page(caption, more, title)])
    fake_tables.found = [FakeFound(0, (55, 110, 420, 160), grid_table(ROWS)),
                         FakeFound(1, (55, 110, 420, 145), grid_table(more))]
    fake_tables.continues = lambda prev, nxt: (prev.page, nxt.page) == (0, 1)
    tables = [b for b in parse(path).blocks if b.kind == "table"]
    assert [(t.page, t.page_end) for t in tables] == [(1, None), (2, None)]
    assert tables[1].text.endswith("经营活动现金流量 | 2021年: 500 | 2022年: 610")


def test_tables_off_keeps_table_text_in_the_flow(tmp_path, fake_tables):
    path = canvas_pdf(tmp_path / "table.pdf", [table_page("表2 主要财务数据", ROWS)])
    fake_tables.found = [FakeFound(0, (55, 110, 420, 160), grid_table(ROWS))]
    doc = parse(path, options=ParseConfig(tables=False))
    assert "table" not in [b.kind for b in doc.blocks]
    assert "营业收入 1,200 1,500" in " ".join(b.text for b in doc.blocks)


@pytest.mark.parametrize("caption, kind", [
    ("图3 2019-2021年营业收入", "figure"), ("图表 12：公司股权结构", "figure"), ("Figure 3: Revenue by segment", "figure"),
    ("Fig. 3 Architecture", "figure"), ("表2 主要财务数据", "table"), ("续表", "table"), ("续上表", "table"),
    ("Table 2: Selected data", "table"), ("TABLE 4", "table"), ("Table of Contents", None), ("图书馆", None),
    ("Figures 3 and 4 show", None), ("表示公司的收入", None)])
def test_caption_patterns(caption, kind):
    from docrag.parse.figures import FIGURE_CAPTION, TABLE_CAPTION

    found = "figure" if FIGURE_CAPTION.match(caption) else "table" if TABLE_CAPTION.match(caption) else None
    assert found == kind


@pytest.mark.parametrize("turn", [90, 180, 270])
def test_text_set_turned_on_the_page_is_read_upright(tmp_path, turn):
    # a landscape statement set sideways on a portrait page: read in the frame where its text is upright
    rows = [f"Line {k} of the results explains revenue of {k},000 in the quarter." for k in range(10)]

    def page(c):
        c.saveState()
        c.translate(*{90: (595, 0), 180: (595, 842), 270: (0, 842)}[turn])
        c.rotate(turn)
        c.setFont("Helvetica-Bold", 16)
        c.drawString(60, 540 if turn != 180 else 780, "Quarterly results")
        lines_at(c, rows, 60, 510 if turn != 180 else 750, size=11)
        c.restoreState()

    path = canvas_pdf(tmp_path / "turned.pdf", [lambda c: lines_at(c, ["An upright first page."], 60, 780), page])
    doc = parse(path)
    turned = [b for b in doc.blocks if b.page == 2]
    assert [b.kind for b in turned] == ["heading", "paragraph"] and turned[0].text == "Quarterly results"
    assert turned[1].text == " ".join(rows)
    assert doc.blocks[0].text == "An upright first page."
