from docrag.parse.ocr import OcrBox
from docrag.parse.table_image import table_from_ocr


def box(text: str, x0: float, top: float, x1: float, height: float = 20) -> OcrBox:
    return OcrBox(text, (x0, top, x1, top + height), 0.9)


def test_rows_columns_and_header():
    boxes = [box("Item", 10, 10, 60), box("2018", 200, 10, 250), box("2017", 300, 12, 350),
             box("Sales", 10, 50, 70), box("1,200", 195, 51, 250), box("1,100", 295, 49, 350),
             box("Cost", 10, 90, 55), box("(300)", 198, 90, 252), box("(280)", 297, 91, 352)]
    table = table_from_ocr(list(reversed(boxes)))  # input order does not matter
    assert (table.n_rows, table.n_cols, table.header_rows) == (3, 3, 1)
    assert table.grid() == [["Item", "2018", "2017"], ["Sales", "1,200", "1,100"], ["Cost", "(300)", "(280)"]]


def test_box_over_two_columns_is_a_colspan_and_rows_above_numbers_are_header():
    boxes = [box("Recovery %", 220, 10, 330),
             box("Compound", 10, 45, 90), box("Soxtec", 200, 45, 250), box("PLE", 300, 45, 340),
             box("NAP", 10, 80, 50), box("68.3", 205, 80, 245), box("60.0", 300, 80, 340),
             box("ACY", 10, 115, 50), box("61.5", 205, 115, 245), box("66.4", 300, 115, 340)]
    table = table_from_ocr(boxes)
    assert (table.n_rows, table.n_cols, table.header_rows) == (4, 3, 2)
    spanning = [c for c in table.cells if c.text == "Recovery %"]
    assert [(c.row, c.col, c.colspan) for c in spanning] == [(0, 1, 2)]
    assert table.column_headers() == ["Compound", "Recovery % Soxtec", "Recovery % PLE"]
    assert 'colspan="2"' in table.to_html()


def test_split_boxes_and_a_label_between_rows():
    boxes = [box("Group", 10, 10, 70), box("A", 200, 10, 215), box("B", 300, 10, 315),
             box("first", 80, 50, 130), box("105", 195, 50, 230), box("~131", 228, 50, 270), box("7", 300, 50, 312),
             box("height", 10, 68, 70),  # centred between the two rows, column 0 only
             box("second", 80, 86, 140), box("62", 195, 86, 220), box("9", 300, 86, 312)]
    table = table_from_ocr(boxes)
    grid = table.grid()
    assert ["", "first", "105 ~131", "7"] in grid or ["height", "first", "105 ~131", "7"] in grid
    assert sum("height" in cell for row in grid for cell in row) == 1
    assert table.n_rows == 3


def test_empty_and_single_box():
    assert table_from_ocr([]).n_rows == 0
    single = table_from_ocr([box("only", 0, 0, 40)])
    assert (single.n_rows, single.n_cols, single.header_rows) == (1, 1, 0)
    assert single.grid() == [["only"]]
