import pytest
from fake_llm import ScriptedLLM

import docrag
from docrag.errors import BackendError
from docrag.retrieve.followup import FollowUp, standalone_question
from docrag.retrieve.routing import DocRouter
from docrag.text.analyzer import Analyzer

DOCS = {f"/r/{name}": {"title": ""} for name in [
    "3M_2018_10K.pdf", "3M_2022_10K.pdf", "BESTBUY_2019_10K.pdf", "BOEING_2022_10K.pdf",
    "MGMRESORTS_2022Q4_EARNINGS.pdf", "贵州茅台_2021_年报.pdf", "江苏爱康太阳能科技股份有限公司.PDF",
    "国电电力发展股份有限公司.PDF"]}
ROUTER = DocRouter(DOCS)
ANALYZER = Analyzer()


def rewrite(question: str, *history: str, router: DocRouter | None = ROUTER, llm=None) -> str:
    return standalone_question(question, list(history), router, ANALYZER, llm)


@pytest.mark.parametrize("history, question, expected", [
    # a pronoun takes the previous question's company; the year comes along when the follow-up has none
    ("贵州茅台2021年的营业收入是多少？", "那它的净利润呢？", "那贵州茅台2021年的净利润呢？"),
    ("江苏爱康太阳能2008年度无形资产投资多少？", "该公司有哪些控股子公司？", "江苏爱康太阳能2008年度有哪些控股子公司？"),
    # no pronoun, a short question: the company is put in front
    ("江苏爱康太阳能科技股份有限公司的设立历史", "实际控制人是谁？", "江苏爱康太阳能科技股份有限公司实际控制人是谁？"),
    # nothing asked but a period or a company: the previous question about it
    ("贵州茅台2021年的营业收入是多少？", "那2020年呢？", "贵州茅台2020年的营业收入是多少？"),
    ("贵州茅台2021年的营业收入是多少？", "那国电电力呢？", "国电电力2021年的营业收入是多少？"),
])
def test_chinese_follow_ups_get_the_company_and_year(history, question, expected):
    assert rewrite(question, history) == expected


@pytest.mark.parametrize("history, question, expected", [
    ("What is the FY2018 capital expenditure amount (in USD millions) for 3M?", "What about its net income?",
     "What about 3M's net income in FY2018?"),
    ("What is the FY2018 capital expenditure amount (in USD millions) for 3M?", "and in 2022?",
     "What is the FY2022 capital expenditure amount (in USD millions) for 3M?"),
    ("What is the FY2018 capital expenditure amount (in USD millions) for 3M?", "What about Boeing?",
     "What is the FY2018 capital expenditure amount (in USD millions) for Boeing?"),
    ("What is Best Buy's total revenue in FY2019?", "What was the net income?",
     "What was the net income for Best Buy in FY2019?"),
    ("What is Best Buy's total revenue in FY2019?", "What were its inventories? Answer in USD millions.",
     "What were Best Buy's inventories in FY2019? Answer in USD millions."),
    ("Which region did best for MGM in 2022?", "How much cash did it generate?",
     "How much cash did MGM generate in 2022?"),
    # the first pronoun takes the company
    ("Has 3M's capex grown since FY2018?", "Has it increased its debt since FY2018?",
     "Has 3M increased its debt since FY2018?"),
])
def test_english_follow_ups_get_the_company_and_year(history, question, expected):
    assert rewrite(question, history) == expected


def test_a_chain_of_follow_ups_keeps_the_first_subject():
    assert rewrite("2020年呢？", "贵州茅台2021年的营业收入是多少？", "那它的净利润呢？") == "那贵州茅台2020年的净利润呢？"


@pytest.mark.parametrize("history, question", [
    # names its own company
    ("贵州茅台2021年的营业收入是多少？", "江苏爱康太阳能公司有哪些国有法人股东？"),
    ("What is Best Buy's total revenue in FY2019?",
     "Are there any product categories that represent more than 20% of Boeing's revenue for FY2022?"),
    ("What is the FY2018 capital expenditure amount for 3M?", "Is 3M a capital-intensive business based on FY2022 data?"),
    # long and specific, no pronoun: standalone even without a company
    ("What is Best Buy's total revenue in FY2019?",
     "Which debt securities are registered to trade on a national securities exchange under the issuer's name?"),
    # names its own subject without a router: a person, a title
    ("范廷颂是什么时候被任为主教的？", "《战国无双3》是由哪两个公司合作开发的？"),
])
def test_standalone_questions_are_unchanged(history, question):
    assert rewrite(question, history) == question
    assert rewrite(question, history, router=None) == question


def test_no_history_or_nothing_to_carry_leaves_the_question():
    assert rewrite("那它的净利润呢？") == "那它的净利润呢？"
    assert rewrite("What about its net income?", "hello there") == "What about its net income?"


def test_without_a_router_proper_names_are_carried():
    assert rewrite("他的父亲是谁？", "范廷颂是什么时候被任为主教的？", router=None) == "范廷颂的父亲是谁？"


def test_the_llm_writes_the_standalone_question():
    llm = ScriptedLLM("独立问题：贵州茅台2021年的净利润是多少？\n")
    assert rewrite("那它的净利润呢？", "贵州茅台2021年的营业收入是多少？", llm=llm) == "贵州茅台2021年的净利润是多少？"
    system, user = llm.prompts[0]
    assert "追问" in system["content"] and "贵州茅台2021年的营业收入是多少？" in user["content"]
    assert user["content"].rstrip().endswith("独立问题：")
    english = ScriptedLLM("What was 3M's FY2018 net income?")
    assert rewrite("And its net income?", "What is 3M's FY2018 capex?", llm=english) == "What was 3M's FY2018 net income?"
    assert "Follow-up: And its net income?" in english.prompts[0][1]["content"]


def test_no_llm_call_without_history():
    llm = ScriptedLLM("x")
    assert rewrite("贵州茅台2021年的营业收入是多少？", llm=llm) == "贵州茅台2021年的营业收入是多少？"
    assert llm.prompts == []


def fail(messages):
    raise BackendError("openai: connection refused")


@pytest.mark.parametrize("reply", [fail, "", "   \n", "很长" * 200])
def test_llm_failure_falls_back_to_the_rules(reply):
    llm = ScriptedLLM(reply)
    assert rewrite("那它的净利润呢？", "贵州茅台2021年的营业收入是多少？", llm=llm) == "那贵州茅台2021年的净利润呢？"
    assert len(llm.prompts) == 1


def test_subject_spans_are_as_written():
    f = FollowUp(ROUTER, ANALYZER)
    assert f.subjects("How did Best Buy do?") == ["Best Buy"]
    assert f.subjects("江苏爱康太阳能公司有哪些控股子公司？") == ["江苏爱康太阳能"]
    assert f.subjects("Which region did best for MGM?") == ["MGM"]


def test_index_standalone(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "贵州茅台_2021_年报.txt").write_text("贵州茅台2021年营业收入1094.64亿元。\n", encoding="utf-8")
    (tmp_path / "docs" / "国电电力_2021_年报.txt").write_text("国电电力2021年营业收入1685亿元。\n", encoding="utf-8")
    with docrag.Index.open(tmp_path / "ix", create=True, dense=False) as idx:
        idx.add(tmp_path / "docs")
        assert idx.standalone("那它的净利润呢？", ["贵州茅台2021年的营业收入是多少？"]) == "那贵州茅台2021年的净利润呢？"
        assert idx.standalone("那它的净利润呢？", ["贵州茅台2021年的营业收入是多少？"], llm="extractive") == \
            "那贵州茅台2021年的净利润呢？"
        llm = ScriptedLLM("贵州茅台2021年的净利润是多少？")
        assert idx.standalone("那它的净利润呢？", ["贵州茅台2021年的营业收入是多少？"], llm=llm) == \
            "贵州茅台2021年的净利润是多少？"
