from docrag.generate.citations import resolve_citations
from docrag.generate.prompt import Passage
from docrag.types import Hit

PASSAGES = [Passage(n, Hit(chunk_id=10 + n, text=f"p{n}", doc_path=f"/d{n}.md", score=1.0, page=n), f"p{n}")
            for n in (1, 2, 3)]


def test_citations_are_renumbered_by_first_use_and_carry_source():
    text, cites, dropped = resolve_citations("甲[3]。乙[1]，丙[3]。", PASSAGES)
    assert text == "甲[1]。乙[2]，丙[1]。"
    assert [(c.number, c.doc_path, c.page, c.chunk_id, c.quote) for c in cites] == [
        (1, "/d3.md", 3, 13, "p3"), (2, "/d1.md", 1, 11, "p1")]
    assert dropped == []


def test_marker_forms_lists_ranges_and_fullwidth_brackets():
    text, cites, _ = resolve_citations("A [1, 2]. B [2-3]. C 【3】. D [1、3]. E [2][1].", PASSAGES)
    assert text == "A [1][2]. B [2][3]. C [3]. D [1][3]. E [2][1]."
    assert len(cites) == 3


def test_citations_to_passages_not_given_are_dropped_and_counted():
    text, cites, dropped = resolve_citations("Yes [7]. Also [2, 9]. No [0].", PASSAGES)
    assert text == "Yes. Also [1]. No."
    assert dropped == [7, 9, 0]
    assert [c.doc_path for c in cites] == ["/d2.md"]


def test_text_without_markers_and_brackets_that_are_not_citations():
    text, cites, dropped = resolve_citations("The array a[i] and list [x] stay; 2024 [sic].", PASSAGES)
    assert text == "The array a[i] and list [x] stay; 2024 [sic]." and cites == [] and dropped == []
