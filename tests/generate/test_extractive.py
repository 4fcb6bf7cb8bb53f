from docrag.generate import ExtractiveAnswerer
from docrag.text.analyzer import Analyzer
from docrag.types import Hit


def _hit(cid, text, path="/d.md", page=None):
    return Hit(chunk_id=cid, text=text, doc_path=path, score=1.0, page=page)


HITS = [
    _hit(1, "## 龙井\n\n龙井茶是著名的绿茶。龙井茶产于浙江杭州西湖周边的群山之中。它的外形扁平挺直。", "/tea.md"),
    _hit(2, "乌龙茶属于半发酵茶。红茶是全发酵茶。", "/tea2.md", page=4),
]


def test_picks_the_answering_sentence_and_cites_its_source():
    ans = ExtractiveAnswerer(Analyzer(), max_sentences=1).answer("龙井茶产自哪里？", HITS)
    assert ans.text == "龙井茶产于浙江杭州西湖周边的群山之中。[1]"
    (c,) = ans.citations
    assert (c.number, c.doc_path, c.chunk_id, c.quote) == (1, "/tea.md", 1, "龙井茶产于浙江杭州西湖周边的群山之中。")


def test_citation_numbers_follow_first_use_and_carry_pages():
    ans = ExtractiveAnswerer(Analyzer(), max_sentences=2).answer("红茶是什么发酵程度的茶", HITS)
    assert ans.text.startswith("红茶是全发酵茶。[1]")
    assert ans.citations[0].doc_path == "/tea2.md" and ans.citations[0].page == 4


def test_headings_are_not_answers_and_no_hits_gives_empty_answer():
    ans = ExtractiveAnswerer(Analyzer()).answer("龙井", [_hit(1, "龙井\n\n这是一段关于龙井的文字。")])
    assert "龙井[1]" not in ans.text
    empty = ExtractiveAnswerer(Analyzer()).answer("龙井", [])
    assert not empty.found and empty.text == "资料中没有找到答案。" and empty.citations == []


def test_respects_sentence_and_length_budget():
    many = [_hit(i, f"龙井茶第{i}个事实是关于龙井茶的说明。") for i in range(10)]
    ans = ExtractiveAnswerer(Analyzer(), max_sentences=2, max_chars=1000).answer("龙井茶", many)
    assert ans.text.count("[") == 2
    ans = ExtractiveAnswerer(Analyzer(), max_sentences=5, max_chars=25).answer("龙井茶", many)
    assert ans.text.count("[") == 1


def test_a_sentence_announcing_reasons_brings_them_along():
    hit = _hit(1, "RoPE 的外推性更好，主要有两个原因。其一，位置由公式给出。其二，得分只依赖相对位置。另外，它很常用。")
    ans = ExtractiveAnswerer(Analyzer(), max_sentences=1).answer("RoPE 外推性为什么更好", [hit])
    assert ans.text == "RoPE 的外推性更好，主要有两个原因。其一，位置由公式给出。其二，得分只依赖相对位置。[1]"
