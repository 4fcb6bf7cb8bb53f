"""Evaluation data sets: public QA sets and docrag's own JSONL, loaded into one shape.

A loader turns one format into a `Dataset`: questions with acceptable answers and gold documents
(or pages), plus the files to index. Formats that embed their documents in the data file (SQuAD,
RGB) get them written as UTF-8 .txt files under ``workdir`` so they are indexed like any folder.
Format details and quirks: docs/eval_datasets.md.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator


@dataclass
class Gold:
    doc: str                 # document file name as it will be indexed (basename)
    page: int | None = None  # 1-based page, when the gold is page-level


@dataclass
class Question:
    id: str
    question: str
    answers: list[str]       # acceptable answer strings (may be empty for unanswerable ones)
    gold: list[Gold]
    type: str = ""           # question type/category, for per-type breakdowns
    history: list[dict] = field(default_factory=list)  # prior turns (role/content) for multi-turn sets


@dataclass
class Dataset:
    name: str
    questions: list[Question]
    corpus: list[Path]       # files/folders to index for this data set
    gold_level: str          # "doc" or "page": what retrieval recall is measured against
    notes: list[str] = field(default_factory=list)  # what the loader skipped, fixed or dropped


# Gold pages of prospectus_qa_zh/dev.yaml found wrong by checking the evidence against the PDF text
# (tests/evaluate/test_datasets.py re-checks every gold page). Key: (question id, page in the file).
PROSPECTUS_PAGE_FIXES: dict[tuple[str, int], int] = {
    # dev-0: the 无形资产投资 row (12,040.47 / 358.50 / 1,526.45) is in the 重大资本性支出 table on
    # physical page 259 (printed 1-1-258); page 12 is part of the table of contents.
    ("dev-0", 12): 259,
}


def load_dataset(spec: str, workdir: Path) -> Dataset:
    """Load "FORMAT:PATH", or a PATH whose format is detected from its contents."""
    fmt, sep, rest = spec.partition(":")
    if sep and fmt in FORMATS:
        path = Path(rest)
    elif sep and len(fmt) > 1 and not Path(spec).exists():  # len > 1: leave drive letters alone
        raise ValueError(f"{spec}: unknown data set format {fmt!r} (known: {', '.join(FORMATS)})")
    else:
        path, fmt = Path(spec), detect_format(Path(spec))
    if not path.exists():
        raise ValueError(f"{path}: no such file or folder")
    try:
        return FORMATS[fmt](path, Path(workdir))
    except KeyError as e:
        raise ValueError(f"{path}: not a valid {fmt} data set (missing field {e})") from e
    except (TypeError, AttributeError, IndexError) as e:
        raise ValueError(f"{path}: not a valid {fmt} data set ({e})") from e


def detect_format(path: Path) -> str:
    """The format of a data file or folder, judged by its contents; ValueError when unknown."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: no such file or folder")
    if path.is_dir():
        if (path / "financebench_open_source.jsonl").is_file():
            return "financebench"
        if (path / "dev.yaml").is_file():
            return "prospectus"
    elif path.suffix.lower() in (".yaml", ".yml"):
        return "prospectus"
    else:
        first = _first_object(path)
        if first is not None:
            if "data" in first:
                return "squad"
            if "query" in first and "positive" in first:
                return "rgb"
            if "financebench_id" in first:
                return "financebench"
            if "docrag_eval" in first or "question" in first:
                return "jsonl"
    raise ValueError(f"{path}: cannot tell the data set format; write it as FORMAT:PATH "
                     f"(formats: {', '.join(FORMATS)})")


def _first_object(path: Path) -> dict | None:
    """The first line parsed as a JSON object, else the whole file (pretty-printed JSON), else None."""
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    for candidate in (text.lstrip().split("\n", 1)[0], text):
        try:
            obj = json.loads(candidate)
        except ValueError:
            continue
        return obj if isinstance(obj, dict) else None
    return None


# --- SQuAD ---------------------------------------------------------------------------------------

def load_squad(path: Path, workdir: Path) -> Dataset:
    """SQuAD v1.1 JSON: each paragraph is one document, the gold of its questions."""
    data = _read_json(path)
    docs: dict[str, str] = {}
    questions: list[Question] = []
    empty = 0
    for a, article in enumerate(data["data"]):
        for p, para in enumerate(article["paragraphs"]):
            doc = _safe_name(str(para.get("id") or f"{article.get('id', a)}_{p}")) + ".txt"
            if doc in docs:
                raise ValueError(f"{path}: two paragraphs are named {doc!r}")
            docs[doc] = para["context"]
            for qa in para["qas"]:
                if not qa["question"].strip():
                    empty += 1
                    continue
                answers = _unique(ans["text"] for ans in qa.get("answers", []))
                questions.append(Question(str(qa["id"]), qa["question"], answers, [Gold(doc)]))
    name = path.stem
    notes = [f"skipped {empty} questions with empty text"] if empty else []
    return Dataset(name, questions, [_write_docs(workdir / name / "docs", docs)], "doc", notes)


# --- FinanceBench --------------------------------------------------------------------------------

def load_financebench(path: Path, workdir: Path) -> Dataset:
    """FinanceBench folder: questions on 10-K/10-Q PDFs, gold = evidence pages (0-based in the file)."""
    folder = path if path.is_dir() else path.parent
    pdfs = folder / "pdfs"
    if not pdfs.is_dir():
        raise ValueError(f"{folder}: no pdfs/ folder beside financebench_open_source.jsonl")
    files = _file_names(pdfs)
    questions: list[Question] = []
    missing = 0
    for _, row in _read_jsonl(folder / "financebench_open_source.jsonl"):
        if (row["doc_name"] + ".pdf").casefold() not in files:
            missing += 1
            continue
        gold = _unique_gold(Gold(_pdf_name(files, e.get("doc_name", row["doc_name"])),
                                 int(e["evidence_page_num"]) + 1) for e in row["evidence"])
        questions.append(Question(str(row["financebench_id"]), row["question"], [str(row["answer"])], gold,
                                  row.get("question_type") or ""))
    notes = [f"left out {missing} questions whose PDF is not in {pdfs}"] if missing else []
    return Dataset("financebench", questions, [pdfs.resolve()], "page", notes)


def _pdf_name(files: dict[str, str], doc_name: str) -> str:
    """The file name of a FinanceBench doc_name as it lies in pdfs/."""
    return files.get((doc_name + ".pdf").casefold(), doc_name + ".pdf")


# --- prospectus_qa_zh ----------------------------------------------------------------------------

def load_prospectus(path: Path, workdir: Path) -> Dataset:
    """rag_bench prospectus YAML: gold = source_file + 1-based page_no, with PROSPECTUS_PAGE_FIXES applied."""
    import yaml  # only this format is YAML: imported here to keep start-up light
    if path.is_dir():
        path = path / "dev.yaml"
    try:
        rows = yaml.safe_load(_read_text(path))
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: not valid YAML ({e})") from e
    if not isinstance(rows, list):
        raise ValueError(f"{path}: expected a list of questions")
    corpus = [d.resolve() for d in (path.parent / "pdfs", path.parent / "distractor_pdfs") if d.is_dir()]
    if not corpus:
        raise ValueError(f"{path}: no pdfs/ folder beside it")
    files = {k: v for d in corpus for k, v in _file_names(d).items()}
    questions, notes = [], []
    for row in rows:
        qid, gold = str(row["id"]), []
        for ref in row["related_documents"]:
            doc, page = files.get(ref["source_file"].casefold()), int(ref["page_no"])
            if doc is None:
                notes.append(f"{qid}: dropped gold {ref['source_file']} p.{page} (PDF not in the corpus)")
                continue
            if (qid, page) in PROSPECTUS_PAGE_FIXES:
                notes.append(f"{qid}: gold page {page} corrected to {PROSPECTUS_PAGE_FIXES[qid, page]}")
                page = PROSPECTUS_PAGE_FIXES[qid, page]
            gold.append(Gold(doc, page))
        questions.append(Question(qid, row["query"], [str(row["golden_answer"])], _unique_gold(gold),
                                  (row.get("metadata") or {}).get("modal", ""), list(row.get("history") or [])))
    return Dataset(f"{path.parent.name}_{path.stem}", questions, corpus, "page", notes)


# --- RGB -----------------------------------------------------------------------------------------

def load_rgb(path: Path, workdir: Path) -> Dataset:
    """RGB JSON lines: positive and negative passages become documents; gold = the positive ones.

    Counterfactual passages (positive_wrong, *_fact files) are left out: this is a plain retrieval
    and answer check. RGB's answer is a list of required items, each a string or a list of
    alternatives; all strings are flattened into one list of acceptable answers, so a question
    with several required items ("multi-answer") is scored leniently.
    """
    docs: dict[str, str] = {}
    questions: list[Question] = []
    for _, row in _read_jsonl(path):
        positive = [_rgb_doc(docs, t) for t in _flatten(row["positive"]) if t.strip()]
        for text in row.get("negative") or []:
            if text.strip():
                _rgb_doc(docs, text)
        items = row["answer"] if isinstance(row["answer"], list) else [row["answer"]]
        questions.append(Question(str(row["id"]), row["query"], _unique(_flatten(items)),
                                  [Gold(d) for d in dict.fromkeys(positive)],
                                  "multi-answer" if len(items) > 1 else "single-answer"))
    name = f"rgb_{path.stem}"
    return Dataset(name, questions, [_write_docs(workdir / name / "docs", docs)], "doc")


def _rgb_doc(docs: dict[str, str], text: str) -> str:
    """Register a passage under a name derived from its text (identical passages share one file)."""
    text = text.strip()
    name = hashlib.sha1(text.encode("utf-8")).hexdigest()[:16] + ".txt"
    docs[name] = text
    return name


# --- docrag JSONL --------------------------------------------------------------------------------

def load_jsonl(path: Path, workdir: Path) -> Dataset:
    """docrag's own format (docs/eval_datasets.md): optional header line, then one question per line."""
    corpus = [path.parent.resolve()]
    questions: list[Question] = []
    for lineno, obj in _read_jsonl(path):
        where = f"{path}:{lineno}"
        if "docrag_eval" in obj:
            if questions:
                raise ValueError(f"{where}: the docrag_eval header must be the first line")
            corpus = _jsonl_corpus(obj, path.parent, where)
        else:
            questions.append(_jsonl_question(obj, f"q{len(questions) + 1}", where))
    golds = [g for q in questions for g in q.gold]
    level = "page" if golds and all(g.page is not None for g in golds) else "doc"
    return Dataset(path.stem, questions, corpus, level, _missing_gold_notes(golds, corpus))


def _jsonl_corpus(header: dict, base: Path, where: str) -> list[Path]:
    """The header's corpus: one path or a list, relative ones taken from the JSONL file's folder."""
    if header["docrag_eval"] != 1:
        raise ValueError(f"{where}: unsupported docrag_eval version {header['docrag_eval']!r} (expected 1)")
    paths = header.get("corpus", ".")
    paths = [paths] if isinstance(paths, str) else paths
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
        raise ValueError(f"{where}: 'corpus' must be a path or a list of paths")
    corpus = [(base / Path(p).expanduser()).resolve() for p in paths]
    for p in corpus:
        if not p.exists():
            raise ValueError(f"{where}: corpus path {p} does not exist")
    return corpus


def _jsonl_question(obj: dict, default_id: str, where: str) -> Question:
    """One question line, validated field by field so a bad line is reported with its number."""
    def check(ok: bool, reason: str) -> None:
        if not ok:
            raise ValueError(f"{where}: {reason}")

    question, answers, gold = obj.get("question"), obj.get("answers", []), obj.get("gold", [])
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f"{where}: 'question' must be a non-empty string")
    check(isinstance(answers, list) and all(isinstance(a, str) for a in answers),
          "'answers' must be a list of strings")
    check(isinstance(gold, list) and all(isinstance(g, dict) and isinstance(g.get("doc"), str) for g in gold),
          "'gold' must be a list of {\"doc\": name, \"page\"?: number}")
    pages = [g.get("page") for g in gold]
    check(all(p is None or (isinstance(p, int) and not isinstance(p, bool) and p >= 1) for p in pages),
          "a gold 'page' must be a whole number from 1")
    history = obj.get("history", [])
    check(isinstance(history, list) and all(isinstance(h, dict) for h in history),
          "'history' must be a list of {\"role\", \"content\"} objects")
    return Question(str(obj.get("id", default_id)), question, answers,
                    [Gold(Path(g["doc"]).name, g.get("page")) for g in gold], str(obj.get("type", "")), history)


def _missing_gold_notes(golds: list[Gold], corpus: list[Path]) -> list[str]:
    """Say which gold documents are not under the corpus: their questions can never be retrieved."""
    present = {p.name for c in corpus for p in ([c] if c.is_file() else c.rglob("*"))}
    missing = sorted({g.doc for g in golds} - present)
    return [f"gold documents not found in the corpus: {', '.join(missing)}"] if missing else []


# --- shared helpers ------------------------------------------------------------------------------

def _read_text(path: Path) -> str:
    """A UTF-8 file (BOM allowed); ValueError naming it when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot read ({e})") from e


def _read_json(path: Path) -> Any:
    text = _read_text(path)
    try:
        return json.loads(text)
    except ValueError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from e


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line; ValueError naming the line otherwise.

    Split at newlines only: JSON strings may hold U+2028 or U+0085, where splitlines() would split.
    """
    for lineno, line in enumerate(_read_text(path).split("\n"), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            raise ValueError(f"{path}:{lineno}: not valid JSON ({e})") from e
        if not isinstance(obj, dict):
            raise ValueError(f"{path}:{lineno}: expected a JSON object")
        yield lineno, obj


def _write_docs(folder: Path, docs: dict[str, str]) -> Path:
    """Write documents as UTF-8 files, leaving identical ones untouched and removing stale .txt files.

    Unchanged files keep their mtime, so re-indexing a corpus after a second load is a no-op.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.txt"):
        if old.name not in docs:
            old.unlink()
    for name, text in docs.items():
        target, data = folder / name, text.encode("utf-8")
        if not (target.is_file() and target.read_bytes() == data):
            target.write_bytes(data)
    return folder.resolve()


def _file_names(folder: Path) -> dict[str, str]:
    """casefolded name -> actual name of the files in a folder (gold names differ in case: .PDF/.pdf)."""
    return {p.name.casefold(): p.name for p in folder.iterdir() if p.is_file()}


def _safe_name(text: str) -> str:
    return re.sub(r"[^\w.-]", "_", text)


def _flatten(items: Any) -> Iterator[str]:
    """Strings of arbitrarily nested lists, in order."""
    if isinstance(items, list):
        for item in items:
            yield from _flatten(item)
    else:
        yield str(items)


def _unique(texts: Iterable[str]) -> list[str]:
    """Non-empty strings, duplicates dropped, order kept."""
    return [t for t in dict.fromkeys(texts) if t.strip()]


def _unique_gold(golds: Iterable[Gold]) -> list[Gold]:
    return [Gold(d, p) for d, p in dict.fromkeys((g.doc, g.page) for g in golds)]


FORMATS: dict[str, Callable[[Path, Path], Dataset]] = {
    "squad": load_squad,
    "financebench": load_financebench,
    "prospectus": load_prospectus,
    "rgb": load_rgb,
    "jsonl": load_jsonl,
}
