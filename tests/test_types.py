from docrag.types import Table, TableCell


def _table():
    return Table([TableCell(0, 0, ""), TableCell(0, 1, "Year Ended December 31,", colspan=2),
                  TableCell(1, 1, "2018"), TableCell(1, 2, "2017"),
                  TableCell(2, 0, "Purchases of PP&E"), TableCell(2, 1, "(1,577)"), TableCell(2, 2, "(1,373)"),
                  TableCell(3, 0, "Total | net"), TableCell(3, 2, "5")], n_rows=4, n_cols=3, header_rows=2)


def test_headers_join_header_rows_and_rows_read_as_sentences():
    t = _table()
    assert t.column_headers() == ["", "Year Ended December 31, 2018", "Year Ended December 31, 2017"]
    assert t.row_sentences() == [
        "Purchases of PP&E | Year Ended December 31, 2018: (1,577) | Year Ended December 31, 2017: (1,373)",
        "Total | net | Year Ended December 31, 2017: 5"]


def test_markdown_escapes_pipes_and_html_keeps_spans_and_empty_positions():
    t = _table()
    md = t.to_markdown().splitlines()
    assert md[0] == "|  | Year Ended December 31, 2018 | Year Ended December 31, 2017 |"
    assert md[-1] == "| Total \\| net |  | 5 |"
    html = t.to_html()
    assert '<td colspan="2">Year Ended December 31,</td>' in html
    # row 1 has no cell at column 0 (nothing covers it): an empty cell keeps "2018" in column 1
    assert "<tr><td></td><td>2018</td><td>2017</td></tr>" in html
    assert "<tr><td>Total | net</td><td></td><td>5</td></tr>" in html
