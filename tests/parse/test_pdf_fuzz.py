"""Bad PDFs: every file ends as a Document or one clear ParseError, never another exception, a hang or
a crash; an ingest keeps the good files and names each bad one's reason."""

from __future__ import annotations

import json
import os
import random
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

import docrag
from docrag.config import ParseConfig
from docrag.errors import ParseError
from docrag.parse import parse

SOURCE = "# 财务摘要\n\n2022年营业收入为12.5亿元，同比增长18%。\n\nRevenue grew 18% to 1.25 billion yuan in 2022.\n"


@pytest.fixture
def good_pdf(make_pdf) -> Path:
    return make_pdf(SOURCE, "good.pdf")


def image_only_pdf(path: Path) -> Path:
    """A scan: one picture per page and no text layer."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (600, 800), "white")
    ImageDraw.Draw(img).rectangle([50, 50, 550, 120], fill="black")
    img.save(path, resolution=72)
    return path


def test_no_text_layer_with_ocr_off_says_so(tmp_path):
    path = image_only_pdf(tmp_path / "scan.pdf")
    with pytest.raises(ParseError, match=r"no text layer; OCR is off \(parse\.ocr\)") as ei:
        parse(path, options=ParseConfig(ocr="off"))
    assert ei.value.path == str(path)


def test_broken_xref_is_repaired(good_pdf, tmp_path):
    data = good_pdf.read_bytes()
    start = data.rindex(b"\nxref") + 1
    table = data[start:data.index(b"trailer", start)]
    # every offset in the cross-reference table points to the wrong place, and so does startxref
    wrong = re.sub(rb"(?m)^\d{10}(?= \d{5} n)", lambda m: b"%010d" % (int(m.group()) + 7), table)
    bad = data[:start] + wrong + data[start + len(table):]
    bad = re.sub(rb"startxref\s+\d+", b"startxref\n999999", bad)
    path = tmp_path / "broken_xref.pdf"
    path.write_bytes(bad)
    doc = parse(path)
    assert "2022年营业收入为12.5亿元" in " ".join(b.text for b in doc.blocks)

    no_xref = tmp_path / "no_xref.pdf"  # the table cut out altogether
    no_xref.write_bytes(data[:start] + data[data.index(b"trailer", start):])
    assert parse(no_xref).blocks


MEASURE = """
import json, resource, sys, time
from docrag.config import ParseConfig
from docrag.parse import parse
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
doc = parse(sys.argv[1], options=ParseConfig(ocr="off"))
print(json.dumps({"seconds": time.perf_counter() - t0, "n_pages": doc.metadata["n_pages"],
                  "grew_mib": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024,
                  "blocks": [[b.page, b.text] for b in doc.blocks]}))
"""


def test_thousands_of_pages_parse_in_bounded_memory(tmp_path):
    from reportlab.pdfgen import canvas

    path = tmp_path / "long.pdf"
    c = canvas.Canvas(str(path), pagesize=(595, 842))
    for i in range(3000):
        c.setFont("Helvetica", 8)
        c.drawString(60, 810, "Long Report - internal")
        c.setFont("Helvetica", 10)
        c.drawString(60, 700, f"Entry {i}: the measurement of day {i % 365} was recorded and checked.")
        c.drawString(290, 40, str(i + 1))
        c.showPage()
    c.save()
    # in a child process, so that its peak memory is the parse's alone
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True, env=env,
                         timeout=120, check=True)
    result = json.loads(out.stdout)
    blocks = result["blocks"]
    assert result["n_pages"] == 3000 and len(blocks) == 3000
    assert blocks[2999] == [3000, "Entry 2999: the measurement of day 79 was recorded and checked."]
    assert not any("Long Report" in text for _, text in blocks)  # the running header, on every page
    assert result["grew_mib"] < 150, result["grew_mib"]


# --- fuzzing: mutated copies of a real PDF through the parser entry point -------------------------------

WORKER = """
import json, sys
from docrag.config import ParseConfig
from docrag.errors import ParseError
from docrag.parse import parse
options = ParseConfig(ocr="off")
for line in sys.stdin:
    try:
        doc = parse(line.strip(), options=options)
        outcome = "document" if doc.blocks else "empty document"
    except ParseError as e:
        outcome = "error" if e.reason else "error without a reason"
    except BaseException as e:
        outcome = f"{type(e).__name__}: {e}"
    print(json.dumps(outcome), flush=True)
"""


def mutations(data: bytes, n: int, seed: int = 4):
    """Byte flips, truncations, deleted and duplicated ranges, random junk spliced in."""
    rng = random.Random(seed)
    for k in range(n):
        out = bytearray(data)
        how = k % 5
        if how == 0:
            for _ in range(rng.randint(1, 20)):
                out[rng.randrange(len(out))] = rng.randrange(256)
        elif how == 1:
            out = out[:rng.randrange(len(out))]
        elif how == 2:
            a = rng.randrange(len(out))
            del out[a:a + rng.randint(1, 2000)]
        elif how == 3:
            a, b = sorted(rng.randrange(len(out)) for _ in range(2))
            out[a:a] = out[a:b][:5000]
        else:
            a = rng.randrange(len(out))
            out[a:a] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 300)))
        yield bytes(out)


class Worker:
    """The parser in a child process: a crash or a hang there is a test failure, not a dead test run."""

    def __init__(self):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, env=env)

    def parse(self, path: Path, timeout: float) -> str:
        self.proc.stdin.write(f"{path}\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.close()
            return f"hang (> {timeout:g} s)"
        line = self.proc.stdout.readline()
        if not line:
            self.close()
            return f"crash (exit {self.proc.wait()})"
        return json.loads(line)

    def close(self):
        self.proc.kill()
        self.proc.wait()


def test_fuzzed_pdfs_end_as_a_document_or_a_parse_error(good_pdf, tmp_path):
    data = good_pdf.read_bytes()
    outcomes = {}
    worker = Worker()
    try:
        for k, mutant in enumerate(mutations(data, 200)):
            path = tmp_path / f"mutant_{k:03d}.pdf"
            path.write_bytes(mutant)
            outcome = worker.parse(path, timeout=60 if k == 0 else 15)  # the first call imports everything
            outcomes[path.name] = outcome
            if outcome.startswith(("hang", "crash")):
                worker = Worker()
            else:
                path.unlink()
    finally:
        worker.close()
    bad = {name: o for name, o in outcomes.items() if o not in ("document", "error")}
    assert not bad, bad
    assert {"document", "error"} <= set(outcomes.values())  # the mutations reach both ends


# --- an ingest over good and bad PDFs ------------------------------------------------------------------

def test_ingest_keeps_good_pdfs_and_names_each_bad_ones_reason(tmp_path, make_pdf):
    from reportlab.pdfgen import canvas

    folder = tmp_path / "docs"
    folder.mkdir()
    good = make_pdf(SOURCE, "good.pdf")
    (folder / "good.pdf").write_bytes(good.read_bytes())
    (folder / "also_good.pdf").write_bytes(make_pdf("# Notes\n\nHybrid search fuses BM25 and dense ranks.\n",
                                                    "also_good.pdf").read_bytes())
    (folder / "truncated.pdf").write_bytes(good.read_bytes()[:400])
    c = canvas.Canvas(str(folder / "locked.pdf"), encrypt="secret")
    c.drawString(72, 720, "secret text")
    c.save()
    image_only_pdf(folder / "scan.pdf")
    (folder / "empty.pdf").write_bytes(b"")
    (folder / "not_a.pdf").write_bytes(b"<html>not a pdf</html>\n" * 50)

    idx = docrag.Index.open(tmp_path / "ix", create=True, dense=False, ocr="off")
    report = idx.add([folder])
    reasons = {Path(r.path).name: r.reason for r in report.failed}
    assert sorted(Path(r.path).name for r in report.added) == ["also_good.pdf", "good.pdf"]
    assert set(reasons) == {"truncated.pdf", "locked.pdf", "scan.pdf", "empty.pdf", "not_a.pdf"}
    assert "corrupt" in reasons["truncated.pdf"] and "encrypted" in reasons["locked.pdf"]
    assert "no text layer" in reasons["scan.pdf"] and "empty" in reasons["empty.pdf"]
    assert "corrupt" in reasons["not_a.pdf"]
    assert all("\n" not in r and len(r) < 200 for r in reasons.values())
    hits = idx.search("营业收入", k=3, mode="bm25")
    assert hits and Path(hits[0].doc_path).name == "good.pdf"
