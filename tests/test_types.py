from docrag.types import Table, TableCell


def _table():
    return Table([TableCell(0, 0, ""), TableCell(0, 1, "Year Ended December 31,", colspan=2),
                  TableCell(1, 1, "2018"), TableCell(1, 2, "2017"),
                  TableCell(2, 0, "Purchases of PP&E"), TableCell(2, 1, "(1,577)"), TableCell(2, 2, "(1,373)"),
                  TableCell(3, 0, "Total | net"), TableCell(3, 2, "5")], n_rows=4, n_cols=3, header_rows=2)


def test_headers_join_header_rows_and_rows_read_as_sentences():
    t = _table()
    assert t.column_headers() == ["", "Year Ended December 31, 2018", "Year Ended December 31, 2017"]
    # the header all value columns share is said once, above the rows, not in every cell
    assert t.title_lines() == ["Year Ended December 31"]
    assert t.row_sentences() == ["Purchases of PP&E | 2018: (1,577) | 2017: (1,373)", "Total | net | 2017: 5"]


def test_a_shared_header_needs_every_value_column_to_say_more_than_it():
    def heads(*texts):
        return Table([TableCell(0, k, t) for k, t in enumerate(texts)] + [TableCell(1, 0, "x")], 2, len(texts))

    assert heads("", "Year Ended 2018", "Year Ended 2017").shared_header() == "Year Ended"
    assert heads("", "Total assets", "Total").shared_header() == ""  # "Total" would be left with no header
    assert heads("", "2018", "2017").shared_header() == ""
    assert heads("", "Year Ended 2018").shared_header() == ""  # one value column: nothing repeats
    assert heads("项目", "2021年", "2022年").shared_header() == ""
    table = heads("", "Year Ended 2018", "Year Ended 2017")
    table.caption = "Table 3"
    assert table.title_lines() == ["Table 3", "Year Ended"]


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
