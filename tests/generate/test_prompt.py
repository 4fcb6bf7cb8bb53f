import pytest

from docrag.errors import ConfigError
from docrag.generate.prompt import Passage, build_messages, detect_language, load_template
from docrag.types import Hit


def _hit(cid, text, path="/docs/report.pdf", page=3):
    return Hit(chunk_id=cid, text=text, doc_path=path, score=1.0, page=page)


@pytest.mark.parametrize("text, language", [("龙井茶产自哪里？", "zh"), ("What is RRF?", "en"),
                                            ("What does 位置编码 mean?", "zh"), ("BM25 的 k1 是多少", "zh"),
                                            ("", "en")])
def test_detect_language(text, language):
    assert detect_language(text) == language


@pytest.mark.parametrize("language", ["zh", "en"])
def test_bundled_templates_load_and_are_versioned(language):
    t = load_template(language)
    assert t.name == f"answer.{language}" and t.version >= 1 and t.signature == f"answer.{language}/{t.version}"
    assert "[1]" in t.system  # the citation rule is stated


def test_system_message_is_the_same_for_every_question_and_passages_come_before_the_question():
    t = load_template("zh")
    a = build_messages(t, "问题一？", [Passage(1, _hit(1, "甲"), "甲")])
    b = build_messages(t, "问题二？", [Passage(1, _hit(2, "乙", "/x.md", None), "乙"), Passage(2, _hit(3, "丙"), "丙")])
    assert a[0] == b[0] and a[0]["role"] == "system"
    user = b[1]["content"]
    assert user.index("[1] x.md\n乙") < user.index("[2] report.pdf 第3页\n丙") < user.index("问题：问题二？")


def test_english_source_label_and_omitted_note():
    t = load_template("en")
    (system, user) = build_messages(t, "Q?", [Passage(1, _hit(1, "text"), "text")], omitted=2)
    assert "[1] report.pdf, page 3\ntext" in user["content"]
    assert "2 more relevant passages were left out" in user["content"]


def test_custom_template_file_and_errors(tmp_path):
    good = tmp_path / "t.toml"
    good.write_text('name = "mine"\nversion = 3\nsystem = "S"\npassage = "<{n}|{source}> {text}"\n'
                    'user = "{passages}\\nQ: {question}"\nomitted = "+{count}"\nsource_page = "{file}@{page}"\n'
                    'source = "{file}"\n', encoding="utf-8")
    t = load_template("en", str(good))
    assert t.signature == "mine/3"
    assert build_messages(t, "q", [Passage(1, _hit(1, "x"), "x")])[1]["content"] == "<1|report.pdf@3> x\nQ: q"
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="lacks version"):
        load_template("en", str(bad))
    with pytest.raises(ConfigError, match="not found"):
        load_template("en", str(tmp_path / "missing.toml"))


def test_tables_reach_the_model_as_markdown_and_windows_replace_sentences():
    from docrag.generate.prompt import passage_text

    table = Hit(chunk_id=1, text="Revenue | 2018: 5", doc_path="/r.pdf", score=1.0, kind="table",
                extra={"markdown": "| | 2018 |\n|---|---|\n| Revenue | 5 |", "caption": "Table 2: Income"})
    assert passage_text(table) == "Table 2: Income\n| | 2018 |\n|---|---|\n| Revenue | 5 |"
    window = Hit(chunk_id=2, text="B.", doc_path="/r.md", score=1.0, extra={"window": "A. B. C."})
    assert passage_text(window) == "A. B. C."
    assert passage_text(_hit(3, "plain")) == "plain"
