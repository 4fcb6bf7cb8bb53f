""".docx parsing speed on a document with many paragraphs and many styles (a report exported from a template).

Measures, in one run, on the same generated file:
  baseline   python-docx's own reading: every paragraph's text and ``paragraph.style`` (how docrag read styles
             before: each lookup scans the document's styles, so the time grows with paragraphs x styles)
  docrag     ``docrag.parse.parse`` of the file (styles mapped once per document)

    python benchmarks/docx_speed.py [--paragraphs 5000] [--styles 300]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import save, table


def make_docx(path: Path, paragraphs: int, styles: int) -> Path:
    import docx
    from docx.enum.style import WD_STYLE_TYPE

    d = docx.Document()
    names = [d.styles.add_style(f"正文样式{i}", WD_STYLE_TYPE.PARAGRAPH).name for i in range(styles)]
    for i in range(paragraphs):
        if i % 50 == 0:
            d.add_heading(f"第{i // 50 + 1}节 经营情况", level=1)
        d.add_paragraph(f"第{i}段：报告期内公司营业收入保持增长，主要产品的毛利率较上年略有上升。",
                        style=names[i % styles])
    d.save(path)
    return path


def python_docx_styles(path: Path) -> int:
    import docx

    d = docx.Document(str(path))
    return sum(len(p.text) + len(p.style.name) for p in d.paragraphs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--paragraphs", type=int, default=5000)
    ap.add_argument("--styles", type=int, default=300)
    args = ap.parse_args()
    from docrag.parse import parse

    with tempfile.TemporaryDirectory() as tmp:
        path = make_docx(Path(tmp) / "report.docx", args.paragraphs, args.styles)
        t0 = time.perf_counter()
        python_docx_styles(path)
        baseline = time.perf_counter() - t0
        t0 = time.perf_counter()
        blocks = len(parse(path).blocks)
        ours = time.perf_counter() - t0
    rows = [["python-docx text + paragraph.style (baseline)", f"{baseline:.2f}", "1.00"],
            ["docrag parse", f"{ours:.2f}", f"{ours / baseline:.2f}"]]
    print(table(rows, ["what", "seconds", "x baseline"]))
    save("docx_speed", {"paragraphs": args.paragraphs, "styles": args.styles, "blocks": blocks,
                        "baseline_s": baseline, "docrag_s": ours, "ratio": ours / baseline})


if __name__ == "__main__":
    main()
