import json
import re

import pytest
from conftest import shared_data

from docrag.evaluate.tables import cell_f1, html_grid, levenshtein, parse_table_html, teds
from docrag.types import Table, TableCell

TWO_BY_TWO = "<table><tr><td>ab</td><td>cd</td></tr><tr><td>ef</td><td>gh</td></tr></table>"


def test_levenshtein():
    assert levenshtein("kitten", "sitting") == 3
    assert levenshtein("", "abc") == 3
    assert levenshtein(["<b>", "a"], ["a"]) == 1
    assert levenshtein("同一", "同一") == 0


def test_identical_tables_score_one():
    assert teds(TWO_BY_TWO, TWO_BY_TWO) == 1.0
    assert teds(TWO_BY_TWO, TWO_BY_TWO, structure_only=True) == 1.0
    assert cell_f1(TWO_BY_TWO, TWO_BY_TWO).f1 == 1.0


def test_one_cell_text_changed():
    # 7 nodes (table, 2 tr, 4 td); "gh" -> "gx" renames one cell at cost 1/2
    changed = TWO_BY_TWO.replace("gh", "gx")
    assert teds(changed, TWO_BY_TWO) == pytest.approx(1 - 0.5 / 7)
    assert teds(changed, TWO_BY_TWO, structure_only=True) == 1.0
    scores = cell_f1(changed, TWO_BY_TWO)
    assert (scores.precision, scores.recall, scores.f1) == (0.75, 0.75, 0.75)


def test_missing_row():
    # deleting one tr and its 2 td costs 3 of the larger tree's 7 nodes
    one_row = "<table><tr><td>ab</td><td>cd</td></tr></table>"
    assert teds(one_row, TWO_BY_TWO) == pytest.approx(1 - 3 / 7)
    assert teds(one_row, TWO_BY_TWO, structure_only=True) == pytest.approx(1 - 3 / 7)
    scores = cell_f1(one_row, TWO_BY_TWO)
    assert (scores.precision, scores.recall) == (1.0, 0.5)
    assert scores.f1 == pytest.approx(2 / 3)


def test_colspan_change_costs_in_structure_mode():
    merged = "<table><tr><td colspan=\"2\">ab</td></tr><tr><td>ef</td><td>gh</td></tr></table>"
    split = "<table><tr><td>ab</td><td></td></tr><tr><td>ef</td><td>gh</td></tr></table>"
    # the spanning cell is renamed (spans differ: 1) and one empty td inserted (1), of 7 nodes
    assert teds(merged, split, structure_only=True) == pytest.approx(1 - 2 / 7)
    # spans expand onto the grid: the merged cell's text sits at (0, 0) and (0, 1)
    assert html_grid(merged) == [["ab", "ab"], ["ef", "gh"]]


def test_header_cells_and_sections():
    with_th = "<table><thead><tr><th>Year</th></tr></thead><tbody><tr><td>2018</td></tr></tbody></table>"
    with_td = "<table><thead><tr><td>Year</td></tr></thead><tbody><tr><td>2018</td></tr></tbody></table>"
    assert teds(with_th, with_td) == 1.0
    no_sections = "<table><tr><td>Year</td></tr><tr><td>2018</td></tr></table>"
    assert teds(no_sections, with_td) == pytest.approx(1 - 2 / 7)  # thead and tbody deleted
    assert cell_f1(no_sections, with_td).f1 == 1.0


def test_latex_and_markup_inside_cells_stay_text():
    html = "<table><tr><td>68.3 $ \\pm $ 19.7</td><td>a<br>b &amp; c</td></tr></table>"
    assert html_grid(html) == [["68.3 $ \\pm $ 19.7", "ab & c"]]
    assert parse_table_html(html).children[0].children[1].content == ["a", "<br>", "</br>", "b", " ", "&", " ", "c"]


def test_normalised_cell_text():
    full_width = "<table><tr><td>２０１８　年</td></tr></table>"
    assert cell_f1(full_width, "<table><tr><td> 2018 年</td></tr></table>").f1 == 1.0


def test_empty_tables():
    assert teds("", TWO_BY_TWO) == 0.0
    assert teds("<p>no table</p>", TWO_BY_TWO) == 0.0
    assert teds("<table></table>", "<table></table>") == 1.0
    assert teds("<table></table>", TWO_BY_TWO) == pytest.approx(1 / 7)
    assert cell_f1("<table></table>", "<table></table>").f1 == 1.0
    assert cell_f1("", TWO_BY_TWO).f1 == 0.0
    assert html_grid("") == []


def test_rowspan_and_unclosed_cells():
    html = "<table><tr><td rowspan=2>a<td>b<tr><td>c</table>"
    assert html_grid(html) == [["a", "b"], ["a", "c"]]


def test_table_to_html_round_trip():
    cells = [TableCell(0, 0, ""), TableCell(0, 1, "2018", colspan=2),
             TableCell(1, 0, "Sales"), TableCell(1, 1, "10"), TableCell(1, 2, "20")]
    table = Table(cells, n_rows=2, n_cols=3)
    html = table.to_html()
    assert html_grid(html) == [["", "2018", "2018"], ["Sales", "10", "20"]]
    assert teds(html, html) == 1.0


PARITY_PAIRS = [(TWO_BY_TWO.replace("gh", "gx"), TWO_BY_TWO),
                ("<table><tr><td colspan=\"2\"><b>ab</b></td></tr></table>", TWO_BY_TWO),
                ("<table><tr><td>ab</td></tr></table>", TWO_BY_TWO)]


def _assert_parity(pairs, structure_only):
    reference = pytest.importorskip("table_recognition_metric")  # PubTabNet TEDS as packaged (dev extra)
    score = reference.TEDS(structure_only=structure_only)
    for predicted, true in pairs:
        wrapped = [f"<html><body>{html}</body></html>" for html in (predicted, true)]  # the form it reads
        assert teds(predicted, true, structure_only) == pytest.approx(score(*wrapped), abs=1e-9)


@pytest.mark.parametrize("structure_only", [False, True])
def test_parity_with_reference_implementation(structure_only):
    _assert_parity(PARITY_PAIRS, structure_only)


@pytest.mark.parametrize("structure_only", [False, True])
def test_parity_on_omnidocbench_ground_truth(structure_only):
    path = shared_data("omnidocbench_demo") / "tables_gt.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    truths = [re.sub(r"<(/?)th(?=[\s>])", r"<\1td", r["html"]) for r in rows]
    # predictions that differ: each table against the next one, and against itself with one cell edited
    pairs = [(truths[i], truths[(i + 1) % len(truths)]) for i in range(len(truths))]
    pairs += [(t.replace("<td>", "<td>x", 1), t) for t in truths]
    _assert_parity(pairs, structure_only)
