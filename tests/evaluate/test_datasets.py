"""Evaluation data-set loaders: tiny hand-written fixtures, then the real sets in ../shared/data."""

from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import pytest
from conftest import shared_data

from docrag.evaluate import datasets
from docrag.evaluate.datasets import FORMATS, Gold, detect_format, load_dataset

DATA = Path(__file__).resolve().parent / "data"


def _docs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# --- fixtures: one per format ---------------------------------------------------------------------

def test_squad_paragraphs_become_documents(tmp_path):
    ds = load_dataset(f"squad:{DATA / 'squad_sample.json'}", tmp_path)
    assert ds.name == "squad_sample" and ds.gold_level == "doc"
    assert ds.corpus == [(tmp_path / "squad_sample" / "docs").resolve()]
    assert _docs(ds.corpus[0]) == {
        "ART_1_P0.txt": "长城是古代中国修建的军事防御工程，总长度超过两万公里。".encode(),
        "ART_1_1.txt": "明长城东起鸭绿江，西至嘉峪关。".encode(),  # no paragraph id: article id + index
        "EN_P_1.txt": b"Longjing tea comes from West Lake in Hangzhou.\nIt is a green tea.",
    }
    by_id = {q.id: q for q in ds.questions}
    assert list(by_id) == ["Q1", "Q3", "Q4", "Q5"]  # Q2 has a blank question
    assert ds.notes == ["skipped 1 questions with empty text"]
    assert by_id["Q1"].answers == ["两万公里", "超过两万公里"]  # duplicates dropped, order kept
    assert by_id["Q1"].gold == [Gold("ART_1_P0.txt")]
    assert by_id["Q3"].gold == [Gold("ART_1_1.txt")]
    assert by_id["Q5"].answers == [] and by_id["Q5"].gold == [Gold("EN_P_1.txt")]


def test_written_documents_are_left_alone_on_a_second_load(tmp_path):
    first = load_dataset(str(DATA / "squad_sample.json"), tmp_path)
    stamps = {p.name: p.stat().st_mtime_ns for p in first.corpus[0].iterdir()}
    (first.corpus[0] / "stale.txt").write_text("from an older version of the data", encoding="utf-8")
    second = load_dataset(str(DATA / "squad_sample.json"), tmp_path)
    assert second == first
    assert {p.name: p.stat().st_mtime_ns for p in second.corpus[0].iterdir()} == stamps


def test_financebench_gold_pages_are_one_based_and_missing_pdfs_left_out(tmp_path):
    ds = load_dataset(str(DATA / "financebench"), tmp_path)
    assert ds.name == "financebench" and ds.gold_level == "page"
    assert ds.corpus == [(DATA / "financebench" / "pdfs").resolve()]
    by_id = {q.id: q for q in ds.questions}
    assert list(by_id) == ["fb_1", "fb_2", "fb_3"]
    assert ds.notes == [f"left out 1 questions whose PDF is not in {DATA / 'financebench' / 'pdfs'}"]
    assert by_id["fb_1"].gold == [Gold("ACME_2020_10K.pdf", 1)] and by_id["fb_1"].answers == ["$1,200 million"]
    assert by_id["fb_2"].gold == [Gold("ACME_2020_10K.pdf", 2), Gold("ACME_2020_10K.pdf", 3)]  # repeated page once
    assert by_id["fb_3"].gold == [Gold("BETA_2021_10Q.PDF", 2)]  # the name as it lies on disk
    assert [q.type for q in ds.questions] == ["metrics-generated", "novel-generated", "domain-relevant"]
    assert not list(tmp_path.iterdir())  # PDFs are indexed where they are


def test_prospectus_pages_history_types_and_fixes(tmp_path, monkeypatch):
    monkeypatch.setitem(datasets.PROSPECTUS_PAGE_FIXES, ("p-0", 3), 2)
    ds = load_dataset(str(DATA / "prospectus" / "dev.yaml"), tmp_path)
    folder = DATA / "prospectus"
    assert ds.name == "prospectus_dev" and ds.gold_level == "page"
    assert ds.corpus == [(folder / "pdfs").resolve(), (folder / "distractor_pdfs").resolve()]
    q0, q1, q2 = ds.questions
    assert (q0.id, q0.question, q0.answers, q0.type) == ("p-0", "甲公司2020年营业收入是多少？", ["1,234.56万元"], "表格")
    assert q0.gold == [Gold("甲公司股份有限公司.PDF", 2)]  # page 3 corrected by the fix table
    assert q1.gold == [Gold("甲公司股份有限公司.PDF", 2)]  # '.pdf' in the YAML, '.PDF' on disk
    assert q1.history == [{"role": "user", "content": "介绍一下甲公司"},
                          {"role": "assistant", "content": "甲公司是一家制造企业。"}]
    assert q2.gold == [Gold("甲公司股份有限公司.PDF", 1)] and q2.type == "文本"
    assert ds.notes == ["p-0: gold page 3 corrected to 2",
                        "p-2: dropped gold 丙公司股份有限公司.PDF p.7 (PDF not in the corpus)"]
    assert load_dataset(str(folder), tmp_path) == ds  # the folder works too


def test_rgb_passages_deduplicated_and_answers_flattened(tmp_path):
    ds = load_dataset(str(DATA / "rgb_sample.json"), tmp_path)
    assert ds.name == "rgb_rgb_sample" and ds.gold_level == "doc"
    docs = {data.decode("utf-8"): name for name, data in _docs(ds.corpus[0]).items()}
    assert sorted(docs) == sorted([
        "2022年冬奥会在北京举办。", "北京是第一个举办过夏季和冬季奥运会的城市。", "2008年夏季奥运会在北京举办。",
        "Avatar was directed by James Cameron.\r\nIt was released in 2009.", "Titanic was released in 1997.",
        "翟志刚担任指令长。", "王亚平是首位进驻中国空间站的女航天员。",
    ])  # positive_wrong left out, blank passage skipped, shared passages written once, text byte-exact
    q0, q1, q2 = ds.questions
    assert (q0.id, q0.answers, q0.type) == ("0", ["北京"], "single-answer")
    assert q0.gold == [Gold(docs["2022年冬奥会在北京举办。"]), Gold(docs["北京是第一个举办过夏季和冬季奥运会的城市。"])]
    assert (q1.answers, q1.type) == (["James Cameron", "Cameron"], "single-answer")  # one item, two spellings
    assert (q2.answers, q2.type) == (["翟志刚", "王亚平", "王亚萍", "叶光富"], "multi-answer")
    assert q2.gold == [Gold(docs["翟志刚担任指令长。"]), Gold(docs["王亚平是首位进驻中国空间站的女航天员。"]),
                       Gold(docs["2022年冬奥会在北京举办。"])]
    assert load_dataset(str(DATA / "rgb_sample.json"), tmp_path) == ds


def test_jsonl_with_header(tmp_path):
    ds = load_dataset(f"jsonl:{DATA / 'jsonl' / 'questions.jsonl'}", tmp_path)
    assert ds.name == "questions" and ds.gold_level == "doc" and ds.notes == []
    assert ds.corpus == [(DATA / "jsonl" / "docs").resolve()]
    q1, q2, q3 = ds.questions
    assert (q1.id, q1.answers, q1.gold, q1.type) == ("tea-1", ["杭州西湖", "西湖"], [Gold("tea.txt")], "fact")
    assert (q2.id, q2.gold) == ("q2", [Gold("fusion.md")])  # gold names are basenames
    assert q2.history[0] == {"role": "user", "content": "Tell me about hybrid search."}
    assert (q3.id, q3.answers, q3.gold) == ("q3", [], [])


def test_jsonl_without_header_is_page_level_when_every_gold_has_a_page(tmp_path):
    ds = load_dataset(str(DATA / "jsonl" / "pages.jsonl"), tmp_path)
    assert ds.corpus == [(DATA / "jsonl").resolve()] and ds.gold_level == "page"
    assert ds.questions[1].gold == [Gold("manual.pdf", 5), Gold("terms.pdf", 1)]
    assert ds.notes == ["gold documents not found in the corpus: manual.pdf, terms.pdf"]


def test_the_bundled_example_questions_load(tmp_path):
    examples = Path(__file__).resolve().parents[2] / "examples"
    ds = load_dataset(str(examples / "questions.jsonl"), tmp_path)
    assert len(ds.questions) == 5 and ds.corpus == [examples.resolve()] and ds.gold_level == "doc"
    assert Gold("docrag_guide.pdf") in [g for q in ds.questions for g in q.gold]


@pytest.mark.parametrize("path, fmt", [
    ("squad_sample.json", "squad"), ("financebench", "financebench"),
    ("financebench/financebench_open_source.jsonl", "financebench"), ("prospectus", "prospectus"),
    ("prospectus/dev.yaml", "prospectus"), ("rgb_sample.json", "rgb"), ("jsonl/questions.jsonl", "jsonl"),
    ("jsonl/pages.jsonl", "jsonl"),
])
def test_detect_format(path, fmt):
    assert detect_format(DATA / path) == fmt


def test_formats_registry_names_every_loader():
    assert set(FORMATS) == {"squad", "financebench", "prospectus", "rgb", "jsonl"}


# --- errors: each names the file and the reason ---------------------------------------------------

def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("spec, message", [
    ("nosuch:{tmp}/x.json", "unknown data set format 'nosuch'"),
    ("squad:{tmp}/absent.json", "absent.json: no such file or folder"),
    ("{tmp}/absent.json", "absent.json: no such file or folder"),
    ("{tmp}/notes.txt", "notes.txt: cannot tell the data set format"),
])
def test_unknown_format_or_missing_path(tmp_path, spec, message):
    _write(tmp_path, "notes.txt", "just text")
    with pytest.raises(ValueError, match=re.escape(message)):
        load_dataset(spec.format(tmp=tmp_path), tmp_path / "work")


@pytest.mark.parametrize("fmt, name, text, message", [
    ("squad", "bad.json", '{"data": [', "bad.json: not valid JSON"),
    ("squad", "bad.json", '{"data": [{"title": "x"}]}',
     "bad.json: not a valid squad data set (missing field 'paragraphs')"),
    ("rgb", "bad.json", '{"id": 1, "query": "q", "answer": "a", "positive": [], "negative": []}\n[1, 2]\n',
     "bad.json:2: expected a JSON object"),
    ("rgb", "bad.json", '{"id": 1, "query": "q", "positive": []}\n',
     "bad.json: not a valid rgb data set (missing field 'answer')"),
    ("jsonl", "bad.jsonl", '{"question": "q", "answers": "a"}\n', "bad.jsonl:1: 'answers' must be a list of strings"),
    ("jsonl", "bad.jsonl", '{"question": "q"}\n{"question": "q", "gold": [{"doc": "a.pdf", "page": 0}]}\n',
     "bad.jsonl:2: a gold 'page' must be a whole number from 1"),
    ("jsonl", "bad.jsonl", '{"question": ""}\n', "bad.jsonl:1: 'question' must be a non-empty string"),
    ("jsonl", "bad.jsonl", '{"question": "q"}\n{"docrag_eval": 1}\n',
     "bad.jsonl:2: the docrag_eval header must be the first line"),
    ("jsonl", "bad.jsonl", '{"docrag_eval": 1, "corpus": "nowhere"}\n', "bad.jsonl:1: corpus path"),
    ("jsonl", "bad.jsonl", '{"docrag_eval": 2}\n', "bad.jsonl:1: unsupported docrag_eval version 2"),
    ("jsonl", "bad.jsonl", 'not json\n', "bad.jsonl:1: not valid JSON"),
    ("prospectus", "dev.yaml", "- id: [unclosed\n", "dev.yaml: not valid YAML"),
    ("prospectus", "dev.yaml", "id: dev-0\n", "dev.yaml: expected a list of questions"),
    ("prospectus", "dev.yaml", "- id: dev-0\n", "dev.yaml: no pdfs/ folder beside it"),
    ("financebench", "financebench_open_source.jsonl", "{}\n", "no pdfs/ folder beside financebench_open_source.jsonl"),
])
def test_malformed_input_names_the_file(tmp_path, fmt, name, text, message):
    path = _write(tmp_path / "in", name, text)
    with pytest.raises(ValueError, match=re.escape(message)) as err:
        load_dataset(f"{fmt}:{path}", tmp_path / "work")
    assert str(tmp_path / "in") in str(err.value)


# --- the real data sets in ../shared/data (skipped when absent) -----------------------------------

def _norm(text: str) -> str:
    """Text as compared with PDF text: NFKC (full-width to ASCII), no whitespace, no commas, lower case."""
    return re.sub(r"[\s,]", "", unicodedata.normalize("NFKC", text)).lower()


def _bigrams(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)}


def _coverage(evidence: str, page: str) -> float:
    """Share of the evidence's character bigrams found on the page (robust to OCR-ish typos and layout)."""
    wanted = _bigrams(evidence)
    return len(wanted & _bigrams(page)) / max(1, len(wanted))


@lru_cache(maxsize=None)
def _pdf(path: Path):
    import pypdfium2 as pdfium

    return pdfium.PdfDocument(path)


@lru_cache(maxsize=None)
def _page_text(path: Path, page_no: int) -> str:
    """Normalised text of a 1-based page."""
    return _norm(_pdf(path)[page_no - 1].get_textpage().get_text_range())


def _pdf_pages(path: Path) -> list[str]:
    return [_page_text(path, n) for n in range(1, len(_pdf(path)) + 1)]


def _has_image(path: Path, page_no: int) -> bool:
    import pypdfium2.raw as pdfium_c

    return any(o.type == pdfium_c.FPDF_PAGEOBJ_IMAGE for o in _pdf(path)[page_no - 1].get_objects())


def _evidence_on_page(pdf: Path, page_no: int, content: str) -> bool:
    """Whether a prospectus evidence (text, HTML table or <img alt>) is on a 1-based page.

    Every number of the evidence must be on the page, the page must be the one of the PDF that
    covers most of the evidence's character bigrams, and cover at least 80% of them; an image's
    alt text is a caption we wrote, not page text, so for it the page must instead hold an image.
    """
    image = "<img" in content
    evidence = _norm(re.sub(r"<[^>]+>", " ", re.sub(r'<img[^>]*alt="([^"]*)"[^>]*>', r" \1 ", content)))
    pages = _pdf_pages(pdf)
    coverage = [_coverage(evidence, p) for p in pages]
    here = coverage[page_no - 1]
    return (all(n in pages[page_no - 1] for n in re.findall(r"\d+(?:\.\d+)?", evidence))
            and here == max(coverage) and (here >= 0.8 or (image and _has_image(pdf, page_no))))


@pytest.mark.slow
def test_cmrc2018_trial(tmp_path):
    ds = load_dataset(str(shared_data("cmrc2018_trial") / "cmrc2018_trial.json"), tmp_path)
    assert detect_format(shared_data("cmrc2018_trial") / "cmrc2018_trial.json") == "squad"
    docs = sorted(ds.corpus[0].iterdir())
    assert len(docs) == 256 and len(ds.questions) == 1002 - 2
    assert ds.notes == ["skipped 2 questions with empty text"]
    assert {g.doc for q in ds.questions for g in q.gold} <= {p.name for p in docs}
    assert all(q.answers for q in ds.questions)
    assert (ds.corpus[0] / "TRIAL_800.txt").read_text(encoding="utf-8").startswith("基于《跑跑卡丁车》")


@pytest.mark.slow
def test_financebench(tmp_path):
    folder = shared_data("financebench")
    ds = load_dataset(str(folder), tmp_path)
    pdfs = {p.name: p for p in (folder / "pdfs").iterdir()}
    assert len(ds.questions) == 107 and len(pdfs) == 52 and ds.notes == []  # the copy keeps covered questions only
    assert {q.type for q in ds.questions} == {"metrics-generated", "domain-relevant", "novel-generated"}
    manifest = {row["financebench_id"]: row for row in _tsv(folder / "question_manifest.tsv")}
    for q in ds.questions:
        pages = int(manifest[q.id]["pdf_pages"])
        listed = [int(p) for p in manifest[q.id]["evidence_pages_0based"].split(";")]
        assert [g.page - 1 for g in q.gold] == list(dict.fromkeys(listed))
        assert all(g.doc in pdfs and 1 <= g.page <= pages == len(_pdf(pdfs[g.doc])) for g in q.gold)


@pytest.mark.slow
def test_financebench_evidence_is_on_the_gold_page(tmp_path):
    """The README says evidence_page_num is 0-based: the evidence is on page + 1, not beside it."""
    folder = shared_data("financebench")
    gold = {q.id: q.gold for q in load_dataset(str(folder), tmp_path).questions}
    for line in (folder / "financebench_open_source.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        for e in row["evidence"]:
            page = e["evidence_page_num"] + 1
            assert Gold(e["doc_name"] + ".pdf", page) in gold[row["financebench_id"]]
            pdf, evidence = folder / "pdfs" / (e["doc_name"] + ".pdf"), _norm(e["evidence_text"])
            around = [_coverage(evidence, _page_text(pdf, n)) for n in (page - 1, page + 1) if 1 <= n <= len(_pdf(pdf))]
            here = _coverage(evidence, _page_text(pdf, page))
            assert here >= 0.9 and here > max(around, default=0), (row["financebench_id"], page)


@pytest.mark.slow
def test_prospectus(tmp_path):
    folder = shared_data("prospectus_qa_zh")
    ds = load_dataset(str(folder / "dev.yaml"), tmp_path)
    assert len(ds.questions) == 10 and ds.gold_level == "page"
    assert [p.name for c in ds.corpus for p in sorted(c.iterdir())][0] == "江苏爱康太阳能科技股份有限公司.PDF"
    assert sum(len(list(c.iterdir())) for c in ds.corpus) == 6
    assert {q.type for q in ds.questions} == {"文本", "表格", "图片"}
    assert [q.id for q in ds.questions if q.history] == ["dev-2"]
    assert ds.notes == ["dev-0: gold page 12 corrected to 259",
                        "dev-4: dropped gold 安徽黄山胶囊股份有限公司.PDF p.27 (PDF not in the corpus)"]


@pytest.mark.slow
def test_prospectus_gold_pages_hold_their_evidence(tmp_path):
    """Every gold page (after PROSPECTUS_PAGE_FIXES) holds its evidence; every fixed page did not."""
    import yaml

    folder = shared_data("prospectus_qa_zh")
    loaded = {q.id: q.gold for q in load_dataset(str(folder / "dev.yaml"), tmp_path).questions}
    pdfs = {p.name: p for d in ("pdfs", "distractor_pdfs") for p in (folder / d).iterdir()}
    checked = 0
    for row in yaml.safe_load((folder / "dev.yaml").read_text(encoding="utf-8")):
        for ref in row["related_documents"]:
            if ref["source_file"] not in pdfs:
                continue
            pdf, page = pdfs[ref["source_file"]], ref["page_no"]
            fixed = datasets.PROSPECTUS_PAGE_FIXES.get((row["id"], page), page)
            assert Gold(ref["source_file"], fixed) in loaded[row["id"]]
            assert _evidence_on_page(pdf, fixed, ref["content"]), (row["id"], fixed)
            assert fixed == page or not _evidence_on_page(pdf, page, ref["content"]), (row["id"], page)
            checked += 1
    assert checked == 11


@pytest.mark.slow
@pytest.mark.parametrize("name, questions, docs, multi", [
    ("en_fact", 100, 969, 0), ("zh_fact", 100, 943, 1), ("zh_int", 100, 5177, 100), ("zh_refine", 300, 7337, 43),
])
def test_rgb(tmp_path, name, questions, docs, multi):
    ds = load_dataset(str(shared_data("rgb") / f"{name}.json"), tmp_path)
    written = {p.name for p in ds.corpus[0].iterdir()}
    assert len(ds.questions) == questions and len(written) == docs
    assert sum(q.type == "multi-answer" for q in ds.questions) == multi
    assert all(q.gold and q.answers for q in ds.questions)
    assert {g.doc for q in ds.questions for g in q.gold} <= written


def _tsv(path: Path) -> list[dict[str, str]]:
    header, *rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()]
    return [dict(zip(header, row)) for row in rows]
