"""Table quality and speed, each next to a baseline measured in the same run.

(a) OmniDocBench demo tables (tables_gt.jsonl): each table's region is cropped from its page image,
    read by OCR and turned into a table by docrag.parse.table_image.table_from_ocr; TEDS, TEDS-struct
    and cell F1 against the ground-truth HTML. Baseline: every OCR line as a row of one column.
(b) FinanceBench statement cells (tests/parse/data/financebench_cells.json): share found in the right
    row under the right year by docrag.parse.pdf_tables; baseline: pdfplumber's text strategy on the
    same pages (its lines strategy finds no table on unruled statements), judged leniently.
(c) Speed on FinanceBench PDFs: pages/s of find_tables against bare pypdfium2 text extraction.
(d) With --scans (instead of (b) and (c)): each OmniDocBench demo page image saved as an image-only PDF
    (at the image's dpi, else 200) and parsed by docrag (OCR auto, tables on): ground-truth tables found
    (a table block's box and the GT polygon's box at IoU >= 0.5, in PDF points) and TEDS of the found ones,
    next to (a) on the same tables. OCRs ~18 pages the first time (minutes); the OCR cache makes reruns fast.

    python benchmarks/table_quality.py [--pdfs 52] [--scans]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from common import ROOT, SHARED, WORK, bare_text_pages, need, save, table

CELLS = ROOT / "tests" / "parse" / "data" / "financebench_cells.json"


def omnidocbench() -> dict:
    from PIL import Image

    from docrag.evaluate.tables import cell_f1, teds
    from docrag.parse.ocr import OCR
    from docrag.parse.table_image import table_from_ocr
    from docrag.types import Table, TableCell

    folder = need(SHARED / "omnidocbench_demo")
    rows = [json.loads(line) for line in (folder / "tables_gt.jsonl").read_text(encoding="utf-8").splitlines() if line]
    ocr = OCR()
    scores: dict[str, list[float]] = {k: [] for k in ("teds", "teds_struct", "cell_f1")}
    baseline: dict[str, list[float]] = {k: [] for k in scores}
    per_table = []
    for row in rows:
        xs, ys = row["poly"][0::2], row["poly"][1::2]
        image = Image.open(folder / row["image"]).convert("RGB").crop((min(xs), min(ys), max(xs), max(ys)))
        boxes = ocr.read(np.asarray(image))
        ours = table_from_ocr(boxes).to_html()
        lines = sorted(boxes, key=lambda b: (b.bbox[1], b.bbox[0]))
        one_column = Table([TableCell(i, 0, b.text) for i, b in enumerate(lines)], len(lines), 1, header_rows=0)
        for name, html, into in (("ours", ours, scores), ("baseline", one_column.to_html(), baseline)):
            into["teds"].append(teds(html, row["html"]))
            into["teds_struct"].append(teds(html, row["html"], structure_only=True))
            into["cell_f1"].append(cell_f1(html, row["html"]).f1)
        per_table.append({"image": row["image"], "teds": scores["teds"][-1], "teds_struct": scores["teds_struct"][-1],
                          "cell_f1": scores["cell_f1"][-1], "baseline_teds": baseline["teds"][-1]})
    return {"tables": len(rows), "table_from_ocr": {k: float(np.mean(v)) for k, v in scores.items()},
            "baseline_one_column": {k: float(np.mean(v)) for k, v in baseline.items()}, "per_table": per_table}


def _iou(a: tuple, b: tuple) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0.0, width) * max(0.0, height)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def scanned_pages(crops: dict) -> dict:
    """(d): tables found by the PDF parser on the demo pages as scans; ``crops``: omnidocbench()'s result."""
    from PIL import Image

    from docrag.config import ParseConfig
    from docrag.evaluate.tables import cell_f1, teds
    from docrag.parse import parse

    folder = need(SHARED / "omnidocbench_demo")
    rows = [json.loads(line) for line in (folder / "tables_gt.jsonl").read_text(encoding="utf-8").splitlines() if line]
    out = WORK / "omnidocbench_scans"
    out.mkdir(parents=True, exist_ok=True)
    options = ParseConfig(ocr="auto", tables=True)
    pages, seconds = [], 0.0
    for image_path in sorted((folder / "images").iterdir()):
        image = Image.open(image_path)
        dpi = float((image.info.get("dpi") or (200, 200))[0])
        pdf = out / f"{image_path.stem}.pdf"
        image.convert("RGB").save(pdf, resolution=dpi)
        t0 = time.perf_counter()
        doc = parse(pdf, options=options)
        seconds += time.perf_counter() - t0
        found = [b for b in doc.blocks if b.kind == "table"]
        gt = []  # (box in points, index into rows)
        for k, row in enumerate(rows):
            if row["image"] == f"images/{image_path.name}":
                xs, ys = row["poly"][0::2], row["poly"][1::2]
                gt.append((tuple(v * 72 / dpi for v in (min(xs), min(ys), max(xs), max(ys))), k))
        pages.append((image_path.name, found, gt))
    per_table, false_positives, n_found = [], 0, 0
    for name, found, gt in pages:
        n_found += len(found)
        matched = set()
        for box, k in gt:
            row, crop = rows[k], crops["per_table"][k]  # omnidocbench() scores the tables in file order
            best = max(found, key=lambda b: _iou(b.bbox, box), default=None)
            iou = _iou(best.bbox, box) if best is not None else 0.0
            entry = {"image": name, "iou": iou, "found": iou >= 0.5, "crop_teds": crop["teds"],
                     "crop_teds_struct": crop["teds_struct"], "crop_cell_f1": crop["cell_f1"]}
            if iou >= 0.5:
                matched.add(id(best))
                html = best.table.to_html()
                entry.update(teds=teds(html, row["html"]), teds_struct=teds(html, row["html"], structure_only=True),
                             cell_f1=cell_f1(html, row["html"]).f1)
            per_table.append(entry)
        false_positives += sum(1 for b in found if id(b) not in matched)
    hits = [t for t in per_table if t["found"]]

    def mean(key: str, entries: list[dict]) -> float | None:
        return float(np.mean([t[key] for t in entries])) if entries else None

    return {"pages": len(pages), "gt_tables": len(per_table), "found_gt_tables": len(hits),
            "tables_found": n_found, "found_matching_no_gt": false_positives, "parse_seconds": seconds,
            "found": {k: mean(k, hits) for k in ("teds", "teds_struct", "cell_f1")},
            "crop_same_tables": {k: mean(f"crop_{k}", hits) for k in ("teds", "teds_struct", "cell_f1")},
            "per_table": per_table}


def _plumber_lookup(rows: list[list[str | None]], row_label: str, column: str) -> str | None:
    """Lenient reading of a pdfplumber grid: the row whose cells joined contain the label; a value in a
    column where some cell above contains the header."""
    from docrag.evaluate.tables import normalise_cell

    def fold(text: str | None) -> str:
        return normalise_cell(text or "").lower().replace(" ", "")

    for i, row in enumerate(rows):
        if fold(row_label) in fold("".join(c or "" for c in row)):
            for k, cell in enumerate(row):
                header_above = any(k < len(r) and fold(column) in fold(r[k]) for r in rows[:i])
                if header_above and cell and cell.strip() not in ("", "$"):
                    return cell
            return None
    return None


def financebench_cells() -> dict:
    import pypdfium2 as pdfium

    from docrag.evaluate.tables import lookup, same_value
    from docrag.parse.pdf_tables import page_tables

    pdfs = need(SHARED / "financebench" / "pdfs")
    cells = json.loads(CELLS.read_text(encoding="utf-8"))["cells"]
    pages = sorted({(c["doc"], c["page"]) for c in cells})
    ours, ours_seconds = {}, 0.0
    for doc, index in pages:
        pdf = pdfium.PdfDocument(str(pdfs / f"{doc}.pdf"))
        page = pdf[index]
        t0 = time.perf_counter()
        ours[(doc, index)] = [found.table for found in page_tables(page, index)]
        ours_seconds += time.perf_counter() - t0
        page.close()
        pdf.close()
    correct = sum(any(same_value(lookup(t, c["row"], c["column"]), c["value"]) for t in ours[(c["doc"], c["page"])])
                  for c in cells)
    result = {"cells": len(cells), "pages": len(pages), "companies": len({c["doc"].split("_")[0] for c in cells}),
              "pdf_tables": {"accuracy": correct / len(cells), "seconds_per_page": ours_seconds / len(pages)}}
    try:
        import pdfplumber
    except ImportError:
        return result
    plumbed, plumber_seconds = {}, 0.0
    for doc, index in pages:
        t0 = time.perf_counter()
        with pdfplumber.open(str(pdfs / f"{doc}.pdf"), pages=[index + 1]) as pdf:
            plumbed[(doc, index)] = pdf.pages[0].extract_tables({"vertical_strategy": "text",
                                                                 "horizontal_strategy": "text"})
        plumber_seconds += time.perf_counter() - t0
    correct = sum(any(same_value(_plumber_lookup(rows, c["row"], c["column"]), c["value"])
                      for rows in plumbed[(c["doc"], c["page"])]) for c in cells)
    result["pdfplumber_text_strategy"] = {"accuracy": correct / len(cells),
                                          "seconds_per_page": plumber_seconds / len(pages)}
    return result


def speed(n_pdfs: int) -> dict:
    import pypdfium2 as pdfium

    from docrag.parse.pdf_tables import find_tables

    files = sorted(need(SHARED / "financebench" / "pdfs").glob("*.pdf"))[:n_pdfs]
    pages, bare, ours, tables = 0, 0.0, 0.0, 0
    for path in files:
        pdf = pdfium.PdfDocument(str(path))
        t0 = time.perf_counter()
        bare_text_pages(pdf)
        bare += time.perf_counter() - t0
        t0 = time.perf_counter()
        tables += len(find_tables(path, pdf))
        ours += time.perf_counter() - t0
        pages += len(pdf)
        pdf.close()
    return {"pdfs": len(files), "pages": pages, "tables": tables, "bare_text_pages_per_s": pages / bare,
            "find_tables_pages_per_s": pages / ours, "find_tables_speed_vs_bare": bare / ours}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pdfs", type=int, default=52, help="FinanceBench PDFs for the speed run")
    ap.add_argument("--scans", action="store_true", help="(a) and (d) only: tables on the demo pages as scans")
    args = ap.parse_args()
    omni = omnidocbench()
    rows = [[f"OmniDocBench ({omni['tables']} tables): table_from_ocr",
             *(f"{omni['table_from_ocr'][k]:.3f}" for k in ("teds", "teds_struct", "cell_f1"))],
            ["  baseline: OCR lines as one column", *(f"{omni['baseline_one_column'][k]:.3f}"
                                                      for k in ("teds", "teds_struct", "cell_f1"))]]
    print(table(rows, ["table images", "TEDS", "TEDS-struct", "cell F1"]))
    print()
    if args.scans:
        scans = scanned_pages(omni)

        def scores(into: dict) -> list[str]:
            return [f"{into[k]:.3f}" if into[k] is not None else "-" for k in ("teds", "teds_struct", "cell_f1")]

        print(table([[f"{scans['pages']} pages as scans: tables found by the PDF parser",
                      f"{scans['found_gt_tables']} / {scans['gt_tables']}", scans["found_matching_no_gt"],
                      *scores(scans["found"])],
                     ["  same tables: table_from_ocr on the GT crop", "", "", *scores(scans["crop_same_tables"])]],
                    ["OmniDocBench scanned pages", "GT tables found", "other tables", "TEDS", "TEDS-struct",
                     "cell F1"]))
        print(f"\nwrote {save('table_quality_scans', {'omnidocbench': omni, 'scanned_pages': scans})}")
        return
    cells = financebench_cells()
    pace = speed(args.pdfs)
    rows = [[f"pdf_tables ({cells['cells']} cells, {cells['pages']} pages)", f"{cells['pdf_tables']['accuracy']:.3f}",
             f"{cells['pdf_tables']['seconds_per_page'] * 1000:.0f}"]]
    if "pdfplumber_text_strategy" in cells:
        rows.append(["  baseline: pdfplumber text strategy", f"{cells['pdfplumber_text_strategy']['accuracy']:.3f}",
                     f"{cells['pdfplumber_text_strategy']['seconds_per_page'] * 1000:.0f}"])
    print(table(rows, ["FinanceBench statement cells", "accuracy", "ms/page"]))
    print()
    print(table([[f"{pace['pdfs']} PDFs, {pace['pages']} pages, {pace['tables']} tables",
                  f"{pace['bare_text_pages_per_s']:.0f}", f"{pace['find_tables_pages_per_s']:.1f}",
                  f"{pace['find_tables_speed_vs_bare']:.2f}x"]],
                ["FinanceBench speed", "bare text pages/s", "find_tables pages/s", "find_tables speed / bare"]))
    print(f"\nwrote {save('table_quality', {'omnidocbench': omni, 'financebench_cells': cells, 'speed': pace})}")


if __name__ == "__main__":
    main()
