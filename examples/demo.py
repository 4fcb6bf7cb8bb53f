"""`make demo`: build docrag's guide as a PDF, ingest the bundled sample, answer sample questions.

Runs offline on a CPU in well under two minutes; the index goes to ./demo_index.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

from rich.console import Console

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_docs import markdown_to_pdf  # noqa: E402

import docrag  # noqa: E402

console = Console(soft_wrap=True)


def main() -> None:
    t0 = time.perf_counter()
    work = HERE.parent / "demo_index"
    shutil.rmtree(work, ignore_errors=True)
    docs = work / "docs"
    shutil.copytree(HERE / "sample", docs)
    guide = markdown_to_pdf((HERE / "guide" / "docrag_guide.md").read_text(encoding="utf-8"),
                            docs / "docrag_guide.pdf", title="docrag 使用指南 / docrag guide")
    console.rule("[bold]docrag demo")
    console.print(f"made {guide.name} (PDF) from examples/guide/docrag_guide.md")

    idx = docrag.Index.open(work / "index", create=True)
    report = idx.add([docs])
    console.print(f"ingest: {report.summary()}")
    for r in report.failed:
        console.print(f"  failed {r.path}: {r.reason}")
    info = idx.info()
    console.print(f"index: {info['documents']} documents, {info['chunks']} chunks, {info['chars']:,} characters\n")

    for line in (HERE / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        q = json.loads(line)
        answer = idx.ask(q["question"])
        console.print(f"[bold]Q: {q['question']}[/bold]")
        console.print(f"A (extractive): {answer.text}", highlight=False)
        for c in answer.citations:
            page = f", p.{c.page}" if c.page else ""
            console.print(f"   [{c.number}] {Path(c.doc_path).name}{page}: “{c.quote[:90]}…”", highlight=False)
        found = any(a in answer.text for a in q["answers"])
        console.print(f"   expected answer {'[green]found[/green]' if found else '[red]not found[/red]'} "
                      f"({q['answers'][0]})\n")
    console.print(f"demo finished in {time.perf_counter() - t0:.1f} s; try:\n"
                  f"  .venv/bin/docrag ask \"RoPE 为什么外推性更好\" --index {work / 'index'}")


if __name__ == "__main__":
    main()
