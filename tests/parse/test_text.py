"""Plain-text parsing: encodings, and the errors the ingest reports for unreadable files."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from docrag.errors import ParseError
from docrag.parse import parse, supported

ZH = "检索增强生成把文档切成小块，建立索引。\n\n提问时先检索相关片段，再据此生成答案。"
ZH_PARAS = ["检索增强生成把文档切成小块，建立索引。", "提问时先检索相关片段，再据此生成答案。"]


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def texts(doc) -> list[str]:
    return [b.text for b in doc.blocks]


# --- encodings ----------------------------------------------------------------------------------

def test_utf8(tmp_path):
    doc = parse(write(tmp_path / "a.txt", ZH.encode("utf-8")))
    assert texts(doc) == ZH_PARAS
    assert doc.file_type == "txt"
    assert doc.title == "a"
    assert all(b.kind == "paragraph" and b.page is None for b in doc.blocks)


def test_utf8_with_bom_drops_the_bom(tmp_path):
    doc = parse(write(tmp_path / "bom.txt", ZH.encode("utf-8-sig")))
    assert texts(doc) == ZH_PARAS
    assert "\ufeff" not in doc.blocks[0].text


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_utf16_with_bom(tmp_path, encoding):
    data = ZH.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    doc = parse(write(tmp_path / "u16.txt", data))
    assert texts(doc) == ZH_PARAS


def test_sample_gbk_notes(sample_dir):
    path = sample_dir / "notes_gbk.txt"
    raw = path.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # the fixture really is not UTF-8
    truth = raw.decode("gbk")
    doc = parse(path)
    assert doc.blocks[0].text == "本地部署检索增强生成的注意事项"
    assert doc.blocks[1].text.startswith("一、离线运行。")
    assert doc.blocks[-1].text.startswith("五、记录版本。")
    # every paragraph decoded exactly (ground truth: the file decoded as GBK)
    expected = [p.replace("\n", "").strip() for p in truth.replace("\r\n", "\n").split("\n\n") if p.strip()]
    assert texts(doc) == expected


@pytest.mark.parametrize("encoding", ["gbk", "gb18030"])
def test_tmp_gbk_file(tmp_path, encoding):
    text = ("本地知识库问答系统的部署说明：首先安装依赖，然后导入文档，最后启动服务。\n\n"
            "如果导入失败，请检查文件编码是否正确，以及文件是否损坏。")
    doc = parse(write(tmp_path / "gbk.txt", text.encode(encoding)))
    assert texts(doc) == [p for p in text.split("\n\n")]


@pytest.mark.parametrize("text", ["你好世界", "今天天气很好。", "检索增强生成", "中文字", "你好吗"])
def test_short_gbk_file(tmp_path, text):
    # A Chinese-first engine sees many short GBK notes (titles, one-line memos); they must not be
    # decoded as Korean or another CJK code page.
    doc = parse(write(tmp_path / "short.txt", text.encode("gbk")))
    assert texts(doc) == [text]


@pytest.mark.parametrize("text", [ZH, "Hybrid search fuses BM25 and dense retrieval.\n\nSecond paragraph.",
                                  "第1章 Introduction 简介\r\n一个人一生一世，一心一意。"])
@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom(tmp_path, text, encoding):
    # .NET and SQL Server exports write UTF-16 without a BOM: its zero bytes must not read as binary
    doc = parse(write(tmp_path / "u16.txt", text.encode(encoding)))
    assert texts(doc) == texts(parse(write(tmp_path / "u8.txt", text.encode("utf-8"))))


def test_crlf_line_ends(tmp_path):
    data = "第一行\r\n第二行\r\n\r\nsecond para\r\nline".encode("utf-8")
    doc = parse(write(tmp_path / "crlf.txt", data))
    assert texts(doc) == ["第一行第二行", "second para line"]


def test_one_record_per_line_without_blank_lines(tmp_path):
    doc = parse(write(tmp_path / "records.txt", "记录一。\n记录二。\nrecord three".encode("utf-8")))
    assert texts(doc) == ["记录一。", "记录二。", "record three"]


def test_sample_english_text(sample_dir):
    doc = parse(sample_dir / "hybrid_search.txt")
    assert doc.blocks[0].text == "Hybrid Search For Question Answering"
    assert any("reciprocal rank fusion" in b.text.lower() for b in doc.blocks)
    assert all("\n" not in b.text for b in doc.blocks)


def test_upper_case_extension_is_supported(tmp_path):
    path = write(tmp_path / "UPPER.TXT", b"upper case extension")
    assert supported(path)
    assert texts(parse(path)) == ["upper case extension"]


# --- errors -------------------------------------------------------------------------------------

def test_binary_file_is_rejected(tmp_path):
    path = write(tmp_path / "blob.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(ParseError) as ei:
        parse(path)
    msg = str(ei.value)
    assert str(path) in msg
    assert "binary" in msg
    assert ei.value.path == str(path)


@pytest.mark.parametrize("data", [
    struct.pack("<600H", *range(1, 601)),  # zero bytes every other position, like UTF-16 text
    struct.pack("<300f", *(i / 7 for i in range(300))),
])
def test_binary_numbers_are_not_taken_for_utf16(tmp_path, data):
    with pytest.raises(ParseError, match="binary"):
        parse(write(tmp_path / "numbers.txt", data))


def test_empty_file(tmp_path):
    path = write(tmp_path / "empty.txt", b"")
    with pytest.raises(ParseError, match="empty file") as ei:
        parse(path)
    assert str(path) in str(ei.value)


def test_whitespace_only_file_has_no_text(tmp_path):
    path = write(tmp_path / "blank.txt", b"  \n\n \t \n")
    with pytest.raises(ParseError, match="no text found"):
        parse(path)


def test_file_over_max_bytes(tmp_path):
    path = write(tmp_path / "big.txt", b"x" * 5000)
    with pytest.raises(ParseError, match="too large") as ei:
        parse(path, max_bytes=1000)
    assert str(path) in str(ei.value)
    # under the limit the same file parses
    assert parse(path, max_bytes=10_000).blocks[0].text == "x" * 5000


@pytest.mark.parametrize("name", ["data.xyz", "archive.zip", "noext"])
def test_unsupported_extension(tmp_path, name):
    path = write(tmp_path / name, b"some text")
    assert not supported(path)
    with pytest.raises(ParseError, match="unsupported file type") as ei:
        parse(path)
    assert str(path) in str(ei.value)


def test_nonexistent_file(tmp_path):
    path = tmp_path / "missing.txt"
    with pytest.raises(ParseError) as ei:
        parse(path)
    assert str(path) in str(ei.value)
    assert ei.value.path == str(path)


def test_parse_error_str_is_path_colon_reason(tmp_path):
    path = write(tmp_path / "e.txt", b"")
    with pytest.raises(ParseError) as ei:
        parse(path)
    assert str(ei.value) == f"{path}: {ei.value.reason}"


@pytest.mark.parametrize("text", ["這是繁體中文的文件，用於測試大五碼的偵測是否正確。我們希望它能被正確解碼。",
                                  "繁體中文", "臺北市政府公告"])
def test_big5_text_is_not_taken_for_gbk(tmp_path, text):
    path = tmp_path / "big5.txt"
    path.write_bytes(text.encode("big5"))
    assert parse(path).blocks[0].text == text
