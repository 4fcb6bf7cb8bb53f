"""The corpus profile and the glossaries retrieve.glossaries = ["auto"] chooses from it."""

import pytest

import docrag
from docrag.retrieve.profile import SHARE, corpus_profile, glossaries_for, resolve

FILING = ["Consolidated Statements of Operations. Net income was $2.1 billion in fiscal year 2022.",
          "Total assets and total liabilities at December 31.", "Risk factors: competition may hurt our business.",
          "Cash flows from operating activities; depreciation and amortization."]
PROSPECTUS = ["发行人报告期内营业收入分别为 1.2 亿元、1.5 亿元。", "本招股说明书摘要的目的仅为向公众提供有关本次发行的简要情况。",
              "公司的主要产品为太阳能电池边框。"]
NEWS_EN = ["The Lakers beat the Celtics 110-102 on Sunday.", "Apple unveiled its new iPhone; sales start Friday.",
           "The company said profit rose as revenue grew."]  # revenue and profit are not a filing's vocabulary
NEWS_ZH = ["第十四届全运会在西安开幕。", "苹果公司发布新款手机，周五开售。", "该公司表示利润上升。"]


@pytest.mark.parametrize("texts, chosen", [(FILING, ["finance-en"]), (PROSPECTUS, []), (NEWS_EN, []), (NEWS_ZH, []),
                                           ([], [])])
def test_the_profile_chooses_finance_en_for_filings_only(texts, chosen):
    assert glossaries_for(corpus_profile(texts)) == chosen


def test_the_profile_measures_both_domains():
    # finance-zh is measured (a prospectus speaks it) but not chosen by "auto": it was measured to help nowhere
    profile = corpus_profile(PROSPECTUS)
    assert profile["finance-zh"] >= SHARE and profile["finance-en"] == 0
    assert corpus_profile(FILING)["finance-en"] == 0.75


def test_resolve_replaces_auto_and_leaves_explicit_choices_alone():
    calls = []

    def profile():
        calls.append(1)
        return {"finance-en": 0.5, "finance-zh": 0.5}

    assert resolve([], profile) == [] and resolve(["finance-zh"], profile) == ["finance-zh"]
    assert not calls  # the corpus is only read when "auto" asks for it
    assert resolve(["auto"], profile) == ["finance-en"]
    assert resolve(["auto", "finance-en", "my.txt"], profile) == ["finance-en", "my.txt"]
    assert resolve(["auto"], lambda: {"finance-en": 0.0}) == []


def test_an_index_profiles_its_corpus_once_per_generation(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "news.txt").write_text("\n\n".join(NEWS_EN), encoding="utf-8")
    with docrag.Index.open(tmp_path / "idx", create=True, dense=False) as idx:
        idx.add(docs)
        assert idx.resources.glossary() is None  # news: no glossary
        (docs / "filing.md").write_text("\n\n".join(FILING * 3), encoding="utf-8")
        idx.add(docs)
        assert idx.resources.profile()["finance-en"] >= SHARE  # the new generation is profiled again
        assert idx.resources.glossary() is not None
    with docrag.Index.open(tmp_path / "idx", glossaries=[]) as idx:  # the switch still turns it off
        assert idx.resources.glossary() is None
