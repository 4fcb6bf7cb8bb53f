import pytest

from docrag.errors import ConfigError
from docrag.generate.budget import MIN_PASSAGE_TOKENS, fit_passages, prompt_budget, trim_around_match
from docrag.generate.extractive import QuestionMatch
from docrag.generate.prompt import load_template, render_passage
from docrag.text.analyzer import Analyzer
from docrag.types import Hit

ZH = load_template("zh")
count = len  # one token per character keeps the arithmetic visible


def _hit(cid, text):
    return Hit(chunk_id=cid, text=text, doc_path=f"/d{cid}.md", score=1.0)


FILLER = "这一句话和问题毫无关系只是填充内容。"
ANSWER = "龙井茶产于浙江杭州西湖周边的群山之中。"


def test_budget_is_window_minus_answer_minus_fixed_prompt():
    q = "龙井茶产自哪里？"
    small, large = prompt_budget(ZH, q, count, 2000, 200), prompt_budget(ZH, q, count, 3000, 200)
    assert large - small == 1000
    assert prompt_budget(ZH, q, count, 2000, 300) == small - 100
    with pytest.raises(ConfigError, match="max_new_tokens"):
        prompt_budget(ZH, q, count, 400, 300)


def test_everything_fits_unchanged_in_rank_order():
    hits = [_hit(1, "甲" * 50), _hit(2, "乙" * 50)]
    passages, omitted = fit_passages(hits, "问题", ZH, count, 1000, Analyzer())
    assert [(p.number, p.hit.chunk_id, p.text) for p in passages] == [(1, 1, "甲" * 50), (2, 2, "乙" * 50)]
    assert omitted == 0


def test_long_passage_is_trimmed_around_the_matching_sentence_not_cut_at_its_end():
    text = FILLER * 10 + ANSWER + FILLER * 10
    passages, omitted = fit_passages([_hit(1, text), _hit(2, "乙" * 60)], "龙井茶产自哪里？", ZH, count, 300, Analyzer())
    first = passages[0].text
    assert ANSWER in first and first.startswith("…") and first.endswith("…")
    assert count(render_passage(ZH, 1, passages[0].hit, first)) <= 150 + 2  # at most half the budget
    assert passages[1].text == "乙" * 60 and omitted == 0


def test_what_does_not_fit_is_left_out_and_counted():
    hits = [_hit(i, f"{i}号资料。" + "内容很长。" * 30) for i in range(1, 6)]
    passages, omitted = fit_passages(hits, "问题", ZH, count, 400, Analyzer())
    used = sum(count(render_passage(ZH, p.number, p.hit, p.text)) + 2 for p in passages)
    assert used <= 400
    assert len(passages) + omitted == 5 and omitted >= 1
    assert [p.number for p in passages] == list(range(1, len(passages) + 1))


def test_trim_expands_to_neighbours_within_budget_and_handles_tiny_budgets():
    match = QuestionMatch(Analyzer(), "龙井茶产自哪里")
    after = "它的外形扁平挺直，色泽翠绿，香气清高持久，滋味甘醇鲜爽。"
    text = "第一句。" + ANSWER + after + "第四句。"
    assert trim_around_match(text, 1000, count, match) == text
    assert trim_around_match(text, len(ANSWER) + 2 + len(after), count, match) == "…" + ANSWER + after + "…"
    assert trim_around_match(text, MIN_PASSAGE_TOKENS - 1, count, match) == ""
    one_long = "龙井茶" + "很好" * 200 + "。"
    cut = trim_around_match(one_long, 60, count, match)
    assert cut.startswith("龙井茶") and cut.endswith("…") and count(cut) <= 60
