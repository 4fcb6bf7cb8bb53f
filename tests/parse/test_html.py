"""HTML parsing: body text in blocks, page furniture dropped, declared and undeclared charsets."""

from __future__ import annotations

from pathlib import Path

import pytest

from docrag.parse import parse

SAMPLE = "中国茶.html"
H1 = "中国茶的历史：从《茶经》到六大茶类"


@pytest.fixture(scope="module")
def tea(sample_dir):
    return parse(sample_dir / SAMPLE)


def all_text(doc) -> str:
    return "\n".join(b.text for b in doc.blocks)


def test_title_from_title_tag(tea):
    assert tea.title == "中国茶的历史与六大茶类"
    assert tea.file_type == "html"


@pytest.mark.parametrize("noise", [
    "首页", "茶具商城", "免费注册",  # <nav>
    "pageInfo", "DOMContentLoaded", "订阅我们的新闻邮件", "console.log",  # <script>
    "版权所有", "京ICP备", "隐私政策", "联系我们",  # <footer>
    "viewport",  # <head>
])
def test_page_furniture_is_dropped(tea, noise):
    assert noise not in all_text(tea)


def test_headings_with_levels_and_sections(tea):
    headings = [(b.level, b.text) for b in tea.blocks if b.kind == "heading"]
    assert headings[0] == (1, H1)
    assert (2, "茶的起源") in headings
    assert (2, "陆羽与《茶经》") in headings
    assert (2, "六大茶类") in headings
    assert headings[-1] == (2, "结语")
    assert all(level == 2 for level, _ in headings[1:])
    # an h2 closes the previous h2: sections are h1 > current h2
    para = next(b for b in tea.blocks if b.text.startswith("唐代流行的饮法是煎茶。"))
    assert para.section == (H1, "唐代的煎茶")
    intro = next(b for b in tea.blocks if b.text.startswith("中国是最早发现和利用茶的国家之一。"))
    assert intro.section == (H1,)


def test_body_text_is_complete(tea):
    text = all_text(tea)
    assert "陆羽（733—804），字鸿渐" in text
    assert "相传乾隆皇帝南巡时曾到狮峰山下品茶" in text
    assert tea.blocks[-1].text.startswith("从陆羽的《茶经》到宋代的点茶")


def test_list_items(tea):
    items = [b for b in tea.blocks if b.kind == "list"]
    assert len(items) == 10
    assert items[0].text == "一之源：茶树的形态、名称和品质。"
    assert items[-1].text == "十之图：把全书内容写在绢上张挂，便于随时观看。"
    assert all(b.section == (H1, "陆羽与《茶经》") for b in items)


def test_table_rows(tea):
    tables = [b for b in tea.blocks if b.kind == "table"]
    assert len(tables) == 1
    rows = tables[0].text.split("\n")
    assert rows[0] == "茶类 | 发酵程度 | 代表茶"
    assert rows[1] == "绿茶 | 不发酵 | 西湖龙井、洞庭碧螺春"
    assert "青茶（乌龙茶） | 半发酵 | 安溪铁观音、武夷大红袍" in rows
    assert rows[-1] == "黑茶 | 后发酵 | 安化黑茶、普洱熟茶"
    assert len(rows) == 7
    assert tables[0].section == (H1, "六大茶类")
    # the table's cells are not repeated as paragraphs
    assert sum(b.text.count("祁门红茶") for b in tea.blocks) == 1


def test_no_block_has_newlines_or_cjk_spaces(tea):
    import re

    for b in tea.blocks:
        if b.kind != "table":
            assert "\n" not in b.text
        assert not re.search(r"[\u4e00-\u9fff] [\u4e00-\u9fff]", b.text), b.text


# --- charsets -----------------------------------------------------------------------------------

BODY = ("<html><head>{meta}<title>茶叶简介</title></head><body>"
        "<h1>绿茶</h1><p>龙井茶产于杭州西湖，以色绿、香郁、味甘、形美著称。</p>"
        "<h2>红茶</h2><p>祁门红茶产于安徽祁门一带，香气高长，被誉为“祁门香”。</p></body></html>")
EXPECTED = [("heading", 1, "绿茶", ("绿茶",)),
            ("paragraph", 0, "龙井茶产于杭州西湖，以色绿、香郁、味甘、形美著称。", ("绿茶",)),
            ("heading", 2, "红茶", ("绿茶", "红茶")),
            ("paragraph", 0, "祁门红茶产于安徽祁门一带，香气高长，被誉为“祁门香”。", ("绿茶", "红茶"))]


def blocks(doc):
    return [(b.kind, b.level, b.text, b.section) for b in doc.blocks]


@pytest.mark.parametrize("meta", [
    '<meta charset="gbk">',
    "<meta charset=GBK>",
    '<meta charset="gb2312">',
    '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">',
    "",  # no declaration: detected
    '<meta charset="utf-8">',  # a wrong declaration falls back to detection
])
def test_gbk_html_declared_undeclared_or_misdeclared(tmp_path, meta):
    path = tmp_path / "gbk.html"
    path.write_bytes(BODY.format(meta=meta).encode("gbk"))
    doc = parse(path)
    assert doc.title == "茶叶简介"
    assert blocks(doc) == EXPECTED



def test_utf8_without_declaration(tmp_path):
    path = tmp_path / "u.htm"
    path.write_bytes(BODY.format(meta="").encode("utf-8"))
    assert blocks(parse(path)) == EXPECTED


# --- structure ----------------------------------------------------------------------------------

def write(tmp_path: Path, html: str) -> Path:
    path = tmp_path / "page.html"
    path.write_text(html, encoding="utf-8")
    return path


def test_comments_and_styles_are_dropped(tmp_path):
    doc = parse(write(tmp_path, "<style>p{color:red}</style><p>正文。</p><!-- 隐藏注释 --><aside>侧栏广告</aside>"))
    assert [b.text for b in doc.blocks] == ["正文。"]


def test_title_falls_back_to_file_stem(tmp_path):
    doc = parse(write(tmp_path, "<p>没有标题的页面。</p>"))
    assert doc.title == "page"


def test_inline_elements_do_not_insert_spaces(tmp_path):
    doc = parse(write(tmp_path, '<p>Read the <a href="#">docs</a>. H<sub>2</sub>O is un<b>believ</b>able.</p>'))
    assert [b.text for b in doc.blocks] == ["Read the docs. H2O is unbelievable."]


def test_article_header_heading_is_kept(tmp_path):
    # a <header> inside the article holds the article's own title, unlike the site header
    doc = parse(write(tmp_path, "<body><header>网站标志</header><article><header><h1>文章标题</h1></header>"
                                "<p>正文内容。</p></article></body>"))
    assert "网站标志" not in all_text(doc)
    assert [(b.kind, b.text) for b in doc.blocks] == [("heading", "文章标题"), ("paragraph", "正文内容。")]
    assert doc.blocks[1].section == ("文章标题",)


# --- hidden text and deep nesting ---------------------------------------------------------------

@pytest.mark.parametrize("hidden", [
    "<p hidden>隐藏文字。</p>",
    '<div hidden="hidden"><p>隐藏文字。</p></div>',
    '<p aria-hidden="true">隐藏文字。</p>',
    '<span aria-hidden="TRUE">隐藏文字。</span>',
    '<div style="display:none">隐藏文字。</div>',
    '<div style="color: red; DISPLAY : none;">隐藏文字。</div>',
    '<p style="visibility: hidden">隐藏文字。</p>',
    "<template><p>隐藏文字。</p></template>",
    "<script>var s = '隐藏文字。';</script>",
    "<noscript>隐藏文字。</noscript>",
])
def test_hidden_elements_are_not_indexed(tmp_path, hidden):
    doc = parse(write(tmp_path, f"<body><h1>标题</h1><p>可见的前文。</p>{hidden}<p>可见的后文。</p></body>"))
    assert [b.text for b in doc.blocks] == ["标题", "可见的前文。", "可见的后文。"]


def test_hidden_text_inside_headings_and_tables_is_not_indexed(tmp_path):
    doc = parse(write(tmp_path, '<h2>第一章<span class="sr" style="display:none">隐藏</span>'
                                "<script>x()</script></h2>"
                                "<table><tr><td>名称</td><td>数量<span hidden>隐藏</span></td></tr>"
                                '<tr style="display: none"><td>隐藏</td><td>行</td></tr>'
                                "<tr><td>苹果</td><td>3</td></tr></table>"))
    assert [(b.kind, b.text) for b in doc.blocks] == [("heading", "第一章"), ("table", "名称 | 数量\n苹果 | 3")]


def test_hidden_until_found_is_indexed(tmp_path):
    # hidden="until-found" content is revealed by find-in-page: it is meant to be found
    doc = parse(write(tmp_path, '<p>问题？</p><div hidden="until-found">折叠起来的答案。</div>'))
    assert [b.text for b in doc.blocks] == ["问题？", "折叠起来的答案。"]


@pytest.mark.parametrize("tag", ["div", "span", "section"])
def test_deeply_nested_page(tmp_path, tag):
    # generated pages can nest thousands of levels: the whole file must not fail on depth
    depth = 5000
    html = f"<h1>深层</h1>{f'<{tag}>' * depth}嵌套的正文。{f'</{tag}>' * depth}<p>结尾。</p>"
    doc = parse(write(tmp_path, html))
    assert [b.text for b in doc.blocks] == ["深层", "嵌套的正文。", "结尾。"]


def test_deeply_nested_heading_and_cell(tmp_path):
    depth = 5000
    html = (f"<h2>{'<span>' * depth}深的标题{'</span>' * depth}</h2>"
            f"<table><tr><td>{'<div>' * depth}深的单元格{'</div>' * depth}</td><td>b</td></tr></table>")
    doc = parse(write(tmp_path, html))
    assert [(b.kind, b.text) for b in doc.blocks] == [("heading", "深的标题"), ("table", "深的单元格 | b")]
