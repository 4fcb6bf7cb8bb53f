import pytest

import docrag
from docrag.errors import ConfigError
from docrag.retrieve.glossary import Glossary, bundled_names, glossary_path, read_rules
from docrag.text.analyzer import Analyzer

ANALYZER = Analyzer()


def glossary(tmp_path, text: str) -> Glossary:
    path = tmp_path / "g.txt"
    path.write_text(text, encoding="utf-8")
    return Glossary(read_rules(path), ANALYZER)


def brought(g: Glossary, question: str) -> set[str]:
    return set(g.expand(ANALYZER.tokenize(question)))


def test_rules_one_way_and_equivalent(tmp_path):
    path = tmp_path / "g.txt"
    path.write_text("# statements\nincome statement, statement of operations\n\nquick ratio => current assets, "
                    "current liabilities  # from the balance sheet\n", encoding="utf-8")
    assert read_rules(path) == [(["income statement"], ["statement of operations"]),
                                (["statement of operations"], ["income statement"]),
                                (["quick ratio"], ["current assets", "current liabilities"])]


def test_terms_match_as_analyzed_token_sequences(tmp_path):
    g = glossary(tmp_path, "statement of income => consolidated statements of operations\n"
                           "capital intensive => capital expenditures\n营业收入, 营收\n")
    assert brought(g, "What do the Statements of Income say?") == set(ANALYZER.tokenize("consolidated operations"))
    assert brought(g, "Is it a capital-intensive business?") == set(ANALYZER.tokenize("capital expenditures"))
    assert brought(g, "How is income taxed?") == set()  # part of a term is not the term
    assert brought(g, "公司2021年营收多少") == set(ANALYZER.tokenize("营业收入")) - set(ANALYZER.tokenize("营收"))


def test_terms_the_question_already_has_are_not_brought_again(tmp_path):
    g = glossary(tmp_path, "gross margin => gross profit, revenue\n")
    assert g.expand(ANALYZER.tokenize("gross margin and revenue")) == ANALYZER.tokenize("profit")


@pytest.mark.parametrize("line", ["just one term", "a => ", "=> b", "a => b => c", " , => b"])
def test_a_bad_line_is_named_with_its_file_and_number(tmp_path, line):
    path = tmp_path / "bad.txt"
    path.write_text(f"a, b\n{line}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.txt:2"):
        read_rules(path)


def test_an_unknown_glossary_lists_the_bundled_ones():
    with pytest.raises(ConfigError, match="finance-en, finance-zh"):
        glossary_path("no-such-glossary")


@pytest.mark.parametrize("name", bundled_names())
def test_bundled_glossaries_load_and_every_rule_compiles(name):
    rules = read_rules(glossary_path(name))
    assert rules and all(ANALYZER.tokenize(t) for triggers, _ in rules for t in triggers)
    assert len(Glossary(rules, ANALYZER)) >= len(rules)


def test_a_glossary_finds_a_statement_by_its_filing_title(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    # neutral file names and titles: a question naming a document would be routed to it
    (docs / "a.md").write_text("# Acme 2020\n\n## Consolidated Statements of Operations\n\nTotal revenues 280,522. "
                               "Net earnings 9,100.\n", encoding="utf-8")
    (docs / "b.md").write_text("# Acme 2020\n\n## Risk factors\n\nChanges in accounting rules may change how our "
                               "income statement looks.\n", encoding="utf-8")
    question = "What does the income statement say?"
    with docrag.Index.open(tmp_path / "idx", create=True, dense=False, glossaries=[]) as idx:
        idx.add(docs)
        assert idx.search(question, k=1)[0].doc_path.endswith("b.md")  # the question's words, literally
    with docrag.Index.open(tmp_path / "idx", glossaries=["finance-en"]) as idx:
        assert idx.search(question, k=1)[0].doc_path.endswith("a.md")
    with docrag.Index.open(tmp_path / "idx") as idx:  # default "auto": a statement's words make it a finance corpus
        assert idx.resources.profile()["finance-en"] >= 0.1
        assert idx.search(question, k=1)[0].doc_path.endswith("a.md")
    with docrag.Index.open(tmp_path / "idx", glossaries=["nope.txt"]) as idx, pytest.raises(ConfigError, match="nope"):
        idx.search(question, k=1)
