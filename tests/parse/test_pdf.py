"""PDF parsing: per-page text layer split into paragraphs, each block with its 1-based page.

Ground truth is the Markdown the PDF was rendered from (tests/conftest.py ``make_pdf``); where a
test needs to know which page a piece of text is on, pdfium's raw page text is the oracle.
"""

from __future__ import annotations

import re

import pypdfium2 as pdfium
import pytest

from docrag.errors import ParseError
from docrag.parse import parse

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
