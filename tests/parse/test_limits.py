"""parse(max_chars=...): a file whose text passes the limit fails, naming the setting to raise; parsers
that can expand a small file into much text stop as soon as they pass it."""

from __future__ import annotations

import re

import docx
import pytest

from docrag.errors import ParseError
from docrag.parse import parse

PARA = "检索增强生成把文档切成小块，建立索引。"
N_PARAS = 200


def _write(tmp_path, suffix: str, make_docx, make_pdf):
    paras = [f"{PARA}第{i}段。" for i in range(N_PARAS)]
    if suffix == "docx":
        return make_docx("\n".join(paras))
    if suffix == "pdf":
        return make_pdf("\n".join(paras[:20]))
    path = tmp_path / f"doc.{suffix}"
    body = "".join(f"<p>{p}</p>" for p in paras) if suffix == "html" else "\n\n".join(paras)
    path.write_text(body, encoding="utf-8")
    return path


def _reported(error: ParseError, max_chars: int) -> int:
    m = re.fullmatch(rf"text too long \(([\d,]+) characters > {max_chars:,} limit; raise index.max_file_chars\)",
                     error.reason)
    assert m, error.reason
    return int(m.group(1).replace(",", ""))


@pytest.mark.parametrize("suffix", ["txt", "md", "html", "docx", "pdf"])
def test_text_over_max_chars_fails(tmp_path, make_docx, make_pdf, suffix):
    path = _write(tmp_path, suffix, make_docx, make_pdf)
    n = parse(path).n_chars
    with pytest.raises(ParseError) as ei:
        parse(path, max_chars=n - 1)
    assert ei.value.path == str(path)
    assert _reported(ei.value, n - 1) == n
    assert parse(path, max_chars=n).n_chars == n  # the limit itself is allowed


@pytest.mark.parametrize("suffix", ["txt", "md", "html", "docx"])
def test_parsers_stop_at_the_limit(tmp_path, make_docx, make_pdf, suffix):
    path = _write(tmp_path, suffix, make_docx, make_pdf)
    n = parse(path).n_chars
    with pytest.raises(ParseError) as ei:
        parse(path, max_chars=100)
    # the count the error reports is where the parser stopped: just past the limit, not the whole text
    assert 100 < _reported(ei.value, 100) < n / 10


def test_docx_table_stops_at_the_limit(tmp_path):
    # a vertically merged cell repeats its text in every row it spans: a small file, a lot of text
    d = docx.Document()
    table = d.add_table(rows=60, cols=1)
    table.cell(0, 0).merge(table.cell(59, 0)).text = "合并单元格的长文本。" * 50
    path = tmp_path / "merged.docx"
    d.save(str(path))
    with pytest.raises(ParseError) as ei:
        parse(path, max_chars=5_000)
    assert 5_000 < _reported(ei.value, 5_000) < 10_000

