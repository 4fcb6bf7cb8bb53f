"""Retrieval quality on CMRC2018 (trial) mixed into the 4.17M-character news corpus.

Each of the 256 paragraphs is a document among ~6,000; a question's gold document is its
paragraph. Reported for bm25, dense and hybrid: hit@1/5/10 (gold document among the top k
chunks' documents), MRR@10 and answer-recall@5 (a gold answer string occurs in the top-5 text).

    python benchmarks/retrieval_cmrc.py
"""

from __future__ import annotations

from pathlib import Path

from common import WORK, cmrc, need, save, table


def main() -> None:
    import docrag

    idx = docrag.Index.open(need(WORK / "index-news-cmrc"))
    info = idx.info()
    qas = [(p["id"], q["question"], [a["text"] for a in q["answers"]])
           for a in cmrc()["data"] for p in a["paragraphs"] for q in p["qas"]
           if q["question"].strip()]  # two questions in the trial set are empty
    rows, results = [], {}
    for mode in ("bm25", "dense", "hybrid"):
        hit = {1: 0, 5: 0, 10: 0}
        mrr = answer5 = 0.0
        for pid, question, answers in qas:
            hits = idx.search(question, k=10, mode=mode)
            docs = [Path(h.doc_path).stem for h in hits]
            for k in hit:
                hit[k] += pid in docs[:k]
            if pid in docs:
                mrr += 1 / (docs.index(pid) + 1)
            top5 = "".join(h.text for h in hits[:5])
            answer5 += any(a in top5 for a in answers)
        n = len(qas)
        results[mode] = {"hit@1": hit[1] / n, "hit@5": hit[5] / n, "hit@10": hit[10] / n, "mrr@10": mrr / n,
                         "answer_recall@5": answer5 / n}
        rows.append([mode] + [f"{v:.3f}" for v in results[mode].values()])
    print(f"\n{n} questions; {info['documents']:,} documents, {info['chunks']:,} chunks, "
          f"{info['embedded']:,} with vectors\n")
    print(table(rows, ["mode", "hit@1", "hit@5", "hit@10", "MRR@10", "answer-recall@5"]))
    save("retrieval_cmrc", {"questions": n, "documents": info["documents"], "chunks": info["chunks"],
                            "embedded": info["embedded"], "results": results})


if __name__ == "__main__":
    main()
