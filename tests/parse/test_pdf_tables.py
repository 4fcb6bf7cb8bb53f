import json
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from conftest import cjk_font, shared_data

from docrag.evaluate.tables import lookup, same_value
from docrag.parse import pdf_tables
from docrag.parse.pdf_tables import FoundTable, continues, find_tables, merge, numeric_line_count
from docrag.types import Table, TableCell

CELLS = Path(__file__).parent / "data" / "financebench_cells.json"

ROWS = [
    ("Cash Flows from Operating Activities", None),
    ("Net income including noncontrolling interest", ("$", "5,363", "$", "4,869", "$", "5,058")),
    ("Depreciation and amortization", ("1,488", "1,544", "1,474")),
    ("Gain on sale of businesses", ("(545)", "(586)", "(111)")),
    ("Cash Flows from Investing Activities", None),
    ("Purchases of property, plant and equipment (PP&E)", ("(1,577)", "(1,373)", "(1,420)")),
    ("Proceeds from sale of businesses, net of cash", None),
    ("sold", ("846", "1,065", "\u2014")),
]
COLUMN_RIGHT_EDGES = (400, 470, 540)


def _statement(canvas, top: float, rows=ROWS, header=True) -> float:
    """A 10-K style statement: no rules, numbers right-aligned, "$" apart from its number."""
    y = top
    if header:
        canvas.setFont("Helvetica-Bold", 11)
        canvas.drawString(60, y, "Consolidated Statement of Cash Flows")
        y -= 24
        canvas.setFont("Helvetica", 9)
        canvas.drawCentredString(470, y, "Year Ended December 31,")
        y -= 12
        canvas.drawString(60, y, "(Millions)")
        for edge, year in zip(COLUMN_RIGHT_EDGES, ("2018", "2017", "2016")):
            canvas.drawRightString(edge, y, year)
        y -= 14
    canvas.setFont("Helvetica", 9)
    for label, values in rows:
        canvas.drawString(60 if label[:1].isupper() else 70, y, label)
        if values:
            numbers = [v for v in values if v != "$"]
            for edge, number in zip(COLUMN_RIGHT_EDGES, numbers):
                canvas.drawRightString(edge + (3 if number.endswith(")") else 0), y, number)
            if "$" in values:
                for edge in COLUMN_RIGHT_EDGES:
                    canvas.drawString(edge - 45, y, "$")
        y -= 12
    return y


def _prose(canvas, y: float) -> float:
    canvas.setFont("Helvetica", 9)
    for line in ("Capital spending was $1,577 million in 2018 and $1,373 million in 2017, and we expect",
                 "spending of 1,600 to 1,800 in 2019; 12 plants and 3 offices were opened in 2018 2017."):
        canvas.drawString(60, y, line)
        y -= 12
    return y


@pytest.fixture
def statement_pdf(tmp_path) -> Path:
    from reportlab.pdfgen.canvas import Canvas

    path = tmp_path / "statement.pdf"
    canvas = Canvas(str(path), pagesize=(612, 792))
    y = _prose(canvas, 760)
    y = _statement(canvas, y - 20)
    _prose(canvas, y - 20)
    canvas.showPage()
    _prose(canvas, 760)
    canvas.save()
    return path


def _find(path: Path, turned: dict[int, int] | None = None) -> list[FoundTable]:
    pdf = pdfium.PdfDocument(str(path))
    try:
        return find_tables(path, pdf, turned)
    finally:
        pdf.close()


def test_statement_columns_rows_and_headers(statement_pdf):
    [found] = _find(statement_pdf)
    table = found.table
    assert found.page == 0 and table.n_cols == 4 and table.header_rows == 2
    assert table.column_headers() == ["(Millions)", "Year Ended December 31, 2018", "Year Ended December 31, 2017",
                                      "Year Ended December 31, 2016"]
    spanning = [c for c in table.cells if c.text == "Year Ended December 31,"]
    assert [(c.row, c.col, c.colspan) for c in spanning] == [(0, 1, 3)]
    assert lookup(table, "Purchases of property, plant and equipment (PP&E)", "2018") == "(1,577)"
    assert lookup(table, "Net income including", "2016") == "$5,058"
    assert lookup(table, "Gain on sale", "2017") == "(586)"
    # a label wrapped onto the line with the numbers is one row label; a dash is a value
    assert lookup(table, "Proceeds from sale of businesses, net of cash sold", "2016") == "\u2014"
    assert ["Cash Flows from Investing Activities", "", "", ""] in table.grid()
    # the prose above and below (numbers inside sentences) is not part of it
    assert not any("Capital spending" in c.text or "plants" in c.text for c in table.cells)
    assert len(table.cells) == table.n_rows * table.n_cols - 2  # every position has a cell; one spans three
    assert 'colspan="3"' in table.to_html()


def test_pages_without_signals_are_not_laid_out(statement_pdf, monkeypatch):
    calls = []
    real = pdf_tables.page_words
    monkeypatch.setattr(pdf_tables, "page_words", lambda *a: calls.append(1) or real(*a))
    _find(statement_pdf)
    assert len(calls) == 1  # the statement page only; the prose page is skipped on its text layer


def test_numeric_line_signal():
    assert numeric_line_count("Net income $ 5,363 $ 4,869\nOther — net 9 (6) (4)\nIn 2018 we grew 5%.") == 2
    assert numeric_line_count("Capital spending was $1,577 million in 2018 and 2017.") == 0


@pytest.mark.parametrize("turn", [0, 90])
def test_ruled_grid_with_merged_cells(tmp_path, turn):
    # turn 90: the grid set sideways on the page, read in the frame where its text is upright
    from reportlab.lib import colors
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus import Table as PdfTable
    from reportlab.platypus import TableStyle

    if turn:
        # pdfium measures the non-embedded STSong-Light with a system font; with no Chinese glyphs there it
        # drops the sideways Chinese-only strings from the text layer
        cjk_font()
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    data = [["序号", "房产坐落", "租金（万元）", ""],
            ["", "", "2010 年", "2009 年"],
            ["1", "西湖苑", "2.34", "3.51"],
            ["2", "恒隆大厦", "11.60", "17.40"]]
    grid = PdfTable(data, colWidths=[50, 120, 80, 80])
    grid.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                              ("FONTNAME", (0, 0), (-1, -1), "STSong-Light"),
                              ("SPAN", (2, 0), (3, 0)), ("SPAN", (0, 0), (0, 1)), ("SPAN", (1, 0), (1, 1))]))
    path = tmp_path / "ruled.pdf"
    canvas = Canvas(str(path), pagesize=(612, 792))
    if turn:
        canvas.translate(612, 0)
        canvas.rotate(turn)
    grid.wrapOn(canvas, 400, 300)
    grid.drawOn(canvas, 60, 400)
    canvas.showPage()
    canvas.save()
    [found] = _find(path, {0: turn} if turn else None)
    table = found.table
    assert (table.n_rows, table.n_cols, table.header_rows) == (4, 4, 2)
    spans = {c.text: (c.row, c.col, c.rowspan, c.colspan) for c in table.cells}
    assert spans["租金（万元）"] == (0, 2, 1, 2)
    assert spans["序号"] == (0, 0, 2, 1)
    assert table.grid()[3] == ["2", "恒隆大厦", "11.60", "17.40"]
    assert table.column_headers()[2:] == ["租金（万元） 2010 年", "租金（万元） 2009 年"]


def _found(page: int, top: float, bottom: float, table: Table) -> FoundTable:
    return FoundTable(page=page, bbox=(50, top, 550, bottom), table=table, page_height=792)


def _two_column(header: str, rows: list[tuple[str, str]]) -> Table:
    cells = [TableCell(0, 0, ""), TableCell(0, 1, header)]
    for r, (label, value) in enumerate(rows, 1):
        cells += [TableCell(r, 0, label), TableCell(r, 1, value)]
    return Table(cells=cells, n_rows=len(rows) + 1, n_cols=2)


def test_continues_and_merge():
    first = _found(4, 300, 760, _two_column("2018", [("Cash", "1"), ("Inventories", "2")]))
    repeated_header = _found(5, 60, 200, _two_column("2018", [("Goodwill", "3")]))
    assert continues(first, repeated_header)
    merged = merge(first.table, repeated_header.table)
    assert merged.n_rows == 4 and [row[0] for row in merged.grid()] == ["", "Cash", "Inventories", "Goodwill"]
    headless = Table(cells=[TableCell(0, 0, "Goodwill"), TableCell(0, 1, "3")], n_rows=1, n_cols=2, header_rows=0)
    assert continues(first, _found(5, 60, 100, headless))
    assert merge(first.table, headless).grid()[-1] == ["Goodwill", "3"]
    # not a continuation: another header, a page further, the first table ending high on its page,
    # or the next one starting low on its page
    assert not continues(first, _found(5, 60, 200, _two_column("2017", [("Goodwill", "3")])))
    assert not continues(first, _found(6, 60, 200, repeated_header.table))
    assert not continues(_found(4, 100, 300, first.table), repeated_header)
    assert not continues(first, _found(5, 500, 700, repeated_header.table))


def test_continued_statement_across_pages(tmp_path):
    from reportlab.pdfgen.canvas import Canvas

    path = tmp_path / "two_pages.pdf"
    canvas = Canvas(str(path), pagesize=(612, 792))
    _statement(canvas, 760, rows=ROWS * 7)
    canvas.showPage()
    _statement(canvas, 760, rows=ROWS[:3])
    canvas.save()
    first, second = _find(path)
    assert continues(first, second)
    merged = merge(first.table, second.table)
    assert merged.n_rows == first.table.n_rows + second.table.n_rows - second.table.header_rows


@pytest.mark.slow
def test_financebench_statement_cells():
    """Cells of real 10-K statements (checked by hand) found in the right row under the right year."""
    pdfs = shared_data("financebench") / "pdfs"
    cells = json.loads(CELLS.read_text(encoding="utf-8"))["cells"]
    tables: dict[tuple[str, int], list[Table]] = {}
    for doc, page_index in {(c["doc"], c["page"]) for c in cells}:
        pdf = pdfium.PdfDocument(str(pdfs / f"{doc}.pdf"))
        page = pdf[page_index]
        tables[(doc, page_index)] = [found.table for found in pdf_tables.page_tables(page, page_index)]
        page.close()
        pdf.close()
    correct = sum(any(same_value(lookup(t, c["row"], c["column"]), c["value"]) for t in tables[(c["doc"], c["page"])])
                  for c in cells)
    assert correct / len(cells) >= 0.95, f"{correct}/{len(cells)}"


@pytest.mark.parametrize("turn", [90, 270])
def test_a_statement_set_sideways_is_found_upright_by_the_parser(tmp_path, turn):
    # a landscape statement on a portrait page: its text and its table are read in the upright frame
    from reportlab.pdfgen.canvas import Canvas

    from docrag.parse import parse

    path = tmp_path / "turned.pdf"
    canvas = Canvas(str(path), pagesize=(612, 792))
    canvas.translate(*{90: (612, 0), 270: (0, 792)}[turn])
    canvas.rotate(turn)
    y = _prose(canvas, 560)
    _statement(canvas, y - 20)
    canvas.showPage()
    canvas.save()
    [table] = [b for b in parse(path).blocks if b.kind == "table"]
    assert table.page == 1 and table.table.n_cols == 4
    assert lookup(table.table, "Purchases of property, plant and equipment (PP&E)", "2018") == "(1,577)"
    assert lookup(table.table, "Gain on sale", "2017") == "(586)"
