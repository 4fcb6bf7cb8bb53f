import docrag
from docrag.retrieve.collapse import one_hit_per_table
from docrag.types import Hit


def table_hit(cid, ordinal, rows, pages, table=3, doc="/d/a.pdf"):
    return Hit(cid, "\n".join(["Income statement", "Year ended", *rows]), doc, 1.0 / cid, page=pages[0], pages=pages,
               ordinal=ordinal, char_start=100 * ordinal, char_end=100 * ordinal + 90, kind="table",
               extra={"table": table, "markdown": "| ... |"})


def test_chunks_of_one_table_become_one_hit_at_the_best_rank():
    hits = [table_hit(1, 7, ["Net income | 2019: 5"], [40]),
            Hit(2, "some text", "/d/a.pdf", 0.4),
            table_hit(3, 5, ["Revenue | 2019: 90"], [39]),
            table_hit(4, 6, ["Other | 2019: 1"], [39], table=9),  # another table
            table_hit(5, 2, ["Revenue | 2019: 90"], [12], doc="/d/b.pdf")]  # same place in another document
    out = one_hit_per_table(hits)
    assert [h.chunk_id for h in out] == [1, 2, 4, 5]
    merged = out[0]
    assert merged.text == "Income statement\nYear ended\nRevenue | 2019: 90\nNet income | 2019: 5"  # table order
    assert merged.pages == [39, 40] and merged.page == 39
    assert (merged.char_start, merged.char_end) == (500, 790)
    assert merged.extra["matched"] == [1, 3] and merged.score == 1.0


def test_a_search_returns_a_long_table_once_and_still_k_hits(tmp_path):
    rows = "\n".join(f"| {name} | {n} |" for n, name in enumerate(
        ["Revenue", "Cost of sales", "Gross profit", "Research", "Marketing", "Operating income", "Interest",
         "Taxes", "Net income", "Shares", "Dividends", "Buybacks"]))
    text = f"# Statement of operations\n\n| Item | 2019 |\n|---|---|\n{rows}\n\n"
    text += "\n\n".join(f"## Note {n}\n\nOther income was discussed in note {n}." for n in range(8))
    (tmp_path / "report.md").write_text(text, encoding="utf-8")
    with docrag.Index.open(tmp_path / "idx", create=True, dense=False, size=120, overlap=0) as idx:
        idx.add(tmp_path / "report.md")
        hits = idx.search("gross profit and net income", k=5)
    tables = [h for h in hits if h.kind == "table"]
    assert len(hits) == 5 and len(tables) == 1
    assert "Gross profit | 2019: 2" in tables[0].text and "Net income | 2019: 8" in tables[0].text
    assert len(tables[0].extra["matched"]) >= 2
