"""PDF parsing speed on the FinanceBench filings, next to the bare text-extraction floor of the same run.

Configurations, interleaved file by file so that machine noise hits them alike:

- floor: pypdfium2 alone, ``get_text_range()`` per page (what any pdfium-based parser must pay);
- text: PdfParser with tables off, OCR off (reading order, headers/footers, headings, figures);
- tables: PdfParser with tables on, OCR off (the default minus OCR);
- ocr-scans: PdfParser with tables on, OCR only for pages without a text layer (ocr="auto",
  ocr_figures=False).

Reports pages/s, the ratio to the floor, table blocks and the pages holding them, OCR'd pages. For the
library choice, pdfplumber's ``extract_text()`` (pdfminer.six underneath; MIT) is timed on the first
``--library-pages`` pages of every PDF next to the floor on the same pages. PyMuPDF is not measured here:
it is AGPL, which the default install cannot take.

FinanceBench has no scanned pages, so OCR is measured on a Chinese prospectus that ends in scans
(prospectus_qa_zh/distractor_pdfs/浙江富春江环保热电股份有限公司.PDF): "tables" against "ocr-scans" on
the same file, the difference divided by the pages OCR read.

    python benchmarks/pdf_speed.py [--max-pages N] [--files K] [--library-pages P]

``--max-pages`` cuts each PDF to its first N pages (written to a temporary file with pypdfium2), for
quick runs; by default every page of all 52 PDFs is parsed.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from common import SHARED, bare_text_pages, need, save, table

CONFIGS = {
    "text": {"tables": False, "ocr": "off"},
    "tables": {"tables": True, "ocr": "off"},
    "ocr-scans": {"tables": True, "ocr": "auto", "ocr_figures": False},
}


def floor(path: Path) -> int:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        return bare_text_pages(pdf)
    finally:
        pdf.close()


def plumber(path: Path) -> int:
    import pdfplumber

    with pdfplumber.open(str(path)) as pdf:
        for page in pdf.pages:
            page.extract_text()
        return len(pdf.pages)


def first_pages(path: Path, n: int, out_dir: Path) -> Path:
    import pypdfium2 as pdfium

    src = pdfium.PdfDocument(str(path))
    try:
        if len(src) <= n:
            return path
        dst = pdfium.PdfDocument.new()
        dst.import_pages(src, list(range(n)))
        out = out_dir / path.name
        dst.save(str(out))
        dst.close()
        return out
    finally:
        src.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max-pages", type=int, default=0, help="parse only each PDF's first N pages (0: all)")
    ap.add_argument("--files", type=int, default=0, help="only the first K PDFs (0: all 52)")
    ap.add_argument("--library-pages", type=int, default=5, help="pages per PDF for the pdfplumber comparison")
    args = ap.parse_args()

    pdfs = sorted(need(SHARED / "financebench" / "pdfs").glob("*.pdf"))
    if args.files:
        pdfs = pdfs[:args.files]
    tmp = Path(tempfile.mkdtemp(prefix="pdf_speed_"))
    os.environ["DOCRAG_CACHE"] = str(tmp / "cache")  # OCR from cold, as on a first ingest

    from docrag.config import ParseConfig
    from docrag.parse import parse

    options = {name: ParseConfig(**cfg) for name, cfg in CONFIGS.items()}
    seconds = dict.fromkeys(["floor", *CONFIGS], 0.0)
    pages = 0
    table_blocks = table_pages = ocr_pages = 0
    per_file = []
    for k, original in enumerate(pdfs):
        path = first_pages(original, args.max_pages, tmp) if args.max_pages else original
        row = {"file": original.name}
        t0 = time.perf_counter()
        n = floor(path)
        row["floor"] = time.perf_counter() - t0
        for name, opts in options.items():
            t0 = time.perf_counter()
            doc = parse(path, options=opts)
            row[name] = time.perf_counter() - t0
            if name == "tables":
                tables = [b for b in doc.blocks if b.kind == "table"]
                row["table_blocks"], row["table_pages"] = len(tables), len({b.page for b in tables})
            if name == "ocr-scans":
                row["ocr_pages"] = len(doc.metadata.get("ocr_pages", []))
        row["pages"] = n
        pages += n
        table_blocks += row["table_blocks"]
        table_pages += row["table_pages"]
        ocr_pages += row["ocr_pages"]
        for name in seconds:
            seconds[name] += row[name]
        per_file.append(row)
        print(f"[{k + 1}/{len(pdfs)}] {original.name}: {n} pages, floor {n / row['floor']:.0f} p/s, "
              + ", ".join(f"{name} {n / row[name]:.1f} p/s" for name in CONFIGS), flush=True)

    libraries = compare_libraries(pdfs, args.library_pages, tmp / "sample") if args.library_pages else {}
    scans = scan_cost(options) if SCANNED.exists() else {}

    rates = {name: pages / s for name, s in seconds.items()}
    rows = [[name, pages, f"{seconds[name]:.1f}", f"{rates[name]:.1f}", f"{rates[name] / rates['floor']:.3f}"]
            for name in seconds]
    print()
    print(table(rows, ["config", "pages", "seconds", "pages/s", "ratio to floor"]))
    print(f"\n{table_blocks} table blocks on {table_pages} pages; {ocr_pages} pages read by OCR")
    if scans:
        print(f"\n{SCANNED.name}: {scans['pages']} pages, {scans['ocr_pages']} read by OCR: "
              f"{scans['seconds']['tables']:.1f} s without OCR, {scans['seconds']['ocr-scans']:.1f} s with it, "
              f"{scans['seconds_per_ocr_page']:.2f} s per OCR'd page")
    if libraries:
        print(f"\ntext extraction, first {args.library_pages} pages of each PDF ({libraries['pages']} pages):")
        print(table([[name, f"{r:.1f}", f"{r / libraries['pages_per_second']['pypdfium2']:.3f}"]
                     for name, r in libraries["pages_per_second"].items()], ["library", "pages/s", "ratio"]))
    out = save("pdf_speed", {
        "files": len(pdfs), "pages": pages, "max_pages_per_file": args.max_pages or None,
        "configs": {"floor": "pypdfium2 get_text_range per page", **{k: str(v) for k, v in CONFIGS.items()}},
        "seconds": seconds, "pages_per_second": rates,
        "ratio_to_floor": {name: rates[name] / rates["floor"] for name in rates},
        "table_blocks": table_blocks, "table_pages": table_pages, "ocr_pages": ocr_pages, "libraries": libraries,
        "scanned": scans,
        "per_file": per_file})
    print(f"wrote {out}")


SCANNED = SHARED / "prospectus_qa_zh" / "distractor_pdfs" / "浙江富春江环保热电股份有限公司.PDF"


def scan_cost(options: dict) -> dict:
    from docrag.parse import parse

    seconds, ocr_pages, pages = {}, 0, 0
    for name in ("tables", "ocr-scans"):
        t0 = time.perf_counter()
        doc = parse(SCANNED, options=options[name])
        seconds[name] = time.perf_counter() - t0
        ocr_pages = len(doc.metadata.get("ocr_pages", [])) or ocr_pages
        pages = doc.metadata["n_pages"]
    extra = (seconds["ocr-scans"] - seconds["tables"]) / max(ocr_pages, 1)
    return {"file": SCANNED.name, "pages": pages, "ocr_pages": ocr_pages, "seconds": seconds,
            "seconds_per_ocr_page": extra}


def compare_libraries(pdfs: list[Path], n: int, out_dir: Path) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    seconds = {"pypdfium2": 0.0, "pdfplumber": 0.0}
    pages = 0
    for original in pdfs:
        path = first_pages(original, n, out_dir)
        for name, run in (("pypdfium2", floor), ("pdfplumber", plumber)):
            t0 = time.perf_counter()
            count = run(path)
            seconds[name] += time.perf_counter() - t0
        pages += count
    return {"pages": pages, "seconds": seconds, "pages_per_second": {k: pages / s for k, s in seconds.items()}}


if __name__ == "__main__":
    main()
