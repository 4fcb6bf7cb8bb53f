"""Command line: a thin layer over ``docrag.Index``.

Exit codes: 0 success; 1 error (message on stderr, nothing changed); 2 bad usage;
3 ingest finished but some files failed (each listed with its reason).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from docrag.errors import DocragError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="docrag: ask questions of your own documents (中文 + English), offline.")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DEFAULT_INDEX = os.environ.get("DOCRAG_INDEX", str(Path("~/.docrag/main").expanduser()))
IndexOpt = typer.Option(DEFAULT_INDEX, "--index", "-i", help="index directory (env DOCRAG_INDEX)")
ConfigOpt = typer.Option(None, "--config", "-c", help="TOML config file (default: ./docrag.toml if present)")
SetOpt = typer.Option(None, "--set", help="config override, e.g. --set chunk.size=300 (repeatable)")
ModeOpt = typer.Option(None, "--mode", "-m", help="bm25 | dense | hybrid | graph (default from config: hybrid)")
GlobOpt = typer.Option(None, "--path-glob", help="only documents whose path matches, e.g. '*/reports/*'")
TypeOpt = typer.Option(None, "--type", help="only these file types (pdf, md, txt, html, docx); repeatable")


def _overrides(sets: list[str] | None) -> dict:
    result = {}
    for item in sets or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise DocragError(f"--set {item!r}: expected KEY=VALUE")
        try:
            result[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            result[key.strip()] = value
    return result


def _open(index: str, config: Optional[Path], sets, create=False, **extra):
    from docrag.api import Index

    return Index.open(index, create=create, config=config, **_overrides(sets), **extra)


def _progress(disable: bool = False) -> Progress:
    return Progress(TextColumn("{task.description:<14}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("eta"), TimeRemainingColumn(), console=err, disable=disable)


class _Bars:
    """Maps (stage, done, total) callbacks onto rich progress bars, one per stage."""

    LABELS = {"parse": "parse + chunk", "bm25": "BM25 index", "embed": "embed (dense)"}

    def __init__(self, progress: Progress):
        self.progress, self.tasks = progress, {}

    def __call__(self, stage: str, done: int, total: int):
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(self.LABELS.get(stage, stage), total=total)
        self.progress.update(self.tasks[stage], completed=done, total=total)


@app.command()
def ingest(paths: List[Path] = typer.Argument(..., help="files or folders (recursive)"),
           index: str = IndexOpt, config: Optional[Path] = ConfigOpt, set_: Optional[List[str]] = SetOpt,
           no_dense: bool = typer.Option(False, "--no-dense", help="BM25 only; embed later by ingesting again"),
           prune: bool = typer.Option(False, "--prune", help="drop indexed files deleted from these folders"),
           quiet: bool = typer.Option(False, "--quiet", "-q")):
    """Add or update documents; unchanged files are skipped."""
    idx = _open(index, config, set_, create=True)
    with _progress(disable=quiet) as bars:
        report = idx.add(paths, prune=prune, dense=False if no_dense else None, progress=_Bars(bars))
    for r in report.failed:
        err.print(f"[red]failed[/red] {r.path}: {r.reason}", highlight=False)
    out.print(f"{idx.path}: {report.summary()}", highlight=False)
    if report.failed:
        raise typer.Exit(3)


@app.command()
def search(query: str, index: str = IndexOpt, k: int = typer.Option(5, "--k", "-k"), mode: Optional[str] = ModeOpt,
           path_glob: Optional[str] = GlobOpt, file_type: Optional[List[str]] = TypeOpt,
           config: Optional[Path] = ConfigOpt, set_: Optional[List[str]] = SetOpt,
           as_json: bool = typer.Option(False, "--json", help="machine-readable output")):
    """Show the passages that best match a query."""
    idx = _open(index, config, set_)
    hits = idx.search(query, k=k, mode=mode, path_glob=path_glob, file_types=file_type)
    if as_json:
        print(json.dumps([asdict(h) for h in hits], ensure_ascii=False, indent=2))
        return
    if not hits:
        out.print("no matches")
    for n, h in enumerate(hits, 1):
        where = f"{h.doc_path}" + (f"  p.{_pages(h.pages)}" if h.pages else "")
        out.print(f"[bold]{n}.[/bold] [cyan]{where}[/cyan]  score {h.score:.4f}", highlight=False)
        out.print("   " + _snippet(h.text), highlight=False)


@app.command()
def ask(question: str, index: str = IndexOpt, k: Optional[int] = typer.Option(None, "--k", "-k"),
        mode: Optional[str] = ModeOpt, config: Optional[Path] = ConfigOpt, set_: Optional[List[str]] = SetOpt,
        llm: Optional[str] = typer.Option(None, "--llm", help="extractive | openai:MODEL | transformers:PATH"),
        llm_base_url: Optional[str] = typer.Option(None, "--llm-base-url", help="OpenAI-compatible server, e.g. "
                                                   "http://localhost:8000/v1 (vLLM) or http://localhost:11434/v1"),
        rerank: Optional[str] = typer.Option(None, "--rerank", help="none | cross-encoder:PATH_OR_ID | http:MODEL"),
        decoding: Optional[str] = typer.Option(None, "--decoding", help="greedy | beam | sample"),
        max_new_tokens: Optional[int] = typer.Option(None, "--max-new-tokens"),
        stream: bool = typer.Option(False, "--stream", help="print the answer as it is generated"),
        no_prefix_cache: bool = typer.Option(False, "--no-prefix-cache",
                                             help="local LLM: prefill the whole prompt every time (for comparison)"),
        as_json: bool = typer.Option(False, "--json"),
        timings: bool = typer.Option(False, "--timings", help="print time spent per stage")):
    """Answer a question with numbered citations (file, page, quote)."""
    flags = {"generate.llm": llm, "generate.base_url": llm_base_url, "rerank.model": rerank,
             "generate.strategy": decoding, "generate.max_new_tokens": max_new_tokens}
    idx = _open(index, config, set_, **{key.replace(".", "__"): v for key, v in flags.items() if v is not None})
    extractive = idx.config.generate.llm == "extractive"
    if not as_json:
        out.print("[dim]Extractive answer (sentences quoted from your documents; no LLM):[/dim]" if extractive
                  else f"[dim]Answer by {idx.config.generate.llm}:[/dim]", highlight=False)
    streamed = stream and not as_json
    answer = idx.ask(question, k=k, mode=mode, prefix_cache=False if no_prefix_cache else None,
                     on_token=(lambda piece: out.print(piece, end="", highlight=False, markup=False)) if streamed
                     else None)
    if as_json:
        data = asdict(answer)
        data.pop("hits")
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return
    if streamed:
        out.print()
        if answer.dropped_citations:  # the stream showed the raw text; show what was kept
            out.print(answer.text, highlight=False, markup=False)
    elif not answer.text:
        out.print("No answer found in the indexed documents.")
    else:
        out.print(answer.text, highlight=False, markup=False)
    out.print()
    for c in answer.citations:
        page = f", p.{c.page}" if c.page else ""
        out.print(f"[{c.number}] [cyan]{c.doc_path}{page}[/cyan]", highlight=False)
        out.print(f"    “{_snippet(c.quote, 160)}”", highlight=False, markup=False)
    for note in answer.notes:
        err.print(f"note: {note}", highlight=False)
    if timings:
        parts = [f"{name.replace('_', ' ')} {answer.timings[name] * 1000:.0f} ms"
                 for name in ("retrieve", "rerank", "load_model", "generate") if name in answer.timings]
        if "first_token" in answer.timings:
            parts.append(f"(first token {answer.timings['first_token'] * 1000:.0f} ms)")
        if answer.usage:
            parts.append("tokens " + ", ".join(f"{key} {n}" for key, n in answer.usage.items()))
        out.print("timings: " + ", ".join(parts), highlight=False)


@app.command()
def info(index: str = IndexOpt, as_json: bool = typer.Option(False, "--json")):
    """Documents, chunks, characters, models and size on disk."""
    data = _open(index, None, None).info()
    if as_json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return
    m = data["manifest"]
    emb = m.get("embedder")
    rows = [
        ("index", data["path"]),
        ("documents", f"{data['documents']:,}"),
        ("chunks", f"{data['chunks']:,}"),
        ("characters", f"{data['chars']:,}"),
        ("pages (PDF)", f"{data['pages']:,}"),
        ("dense vectors", f"{data['embedded']:,} / {data['chunks']:,} ({data['embedded_share']:.0%})"
         + ("" if data["embedded_share"] == 1 or not data["chunks"] else
            " — hybrid search uses these; run `docrag ingest` again to finish")),
        ("embedder", f"{emb['name']}: {emb['version']} ({emb['dim']}-d)" if emb else "none yet"),
        *([("image vectors", f"{data['image_vectors']:,} figures, {image['name']} ({image['dim']}-d)")]
          if (image := data["image_embedder"]) else []),
        ("analyzer", f"{m['analyzer']['name']}: {m['analyzer']['version']}"),
        ("chunker", m["chunker"]),
        ("size on disk", f"{data['bytes_on_disk'] / 2**20:.1f} MiB"),
    ]
    for key, value in rows:
        out.print(f"{key:<14} {value}", highlight=False)


@app.command()
def remove(paths: List[Path] = typer.Argument(..., help="files, or folders whose files to remove"),
           index: str = IndexOpt):
    """Remove documents from the index (the files themselves are not touched)."""
    gone = _open(index, None, None).remove(paths)
    for p in gone:
        out.print(f"removed {p}", highlight=False)
    if not gone:
        err.print("nothing indexed under " + ", ".join(map(str, paths)))
        raise typer.Exit(1)


@app.command("eval")
def eval_(dataset: str = typer.Argument(..., help="FORMAT:PATH or PATH (squad, financebench, prospectus, rgb, jsonl)"),
          index: Optional[str] = typer.Option(None, "--index", "-i", help="an existing index to evaluate"),
          build: bool = typer.Option(False, "--build", help="index the data set's corpus first (cached)"),
          corpus: Optional[List[Path]] = typer.Option(None, "--corpus", help="more documents for --build"),
          config: Optional[List[Path]] = typer.Option(None, "--config", "-c", help="one configuration per TOML file"),
          modes: Optional[str] = typer.Option(None, "--modes", help="without --config: e.g. bm25,dense,hybrid"),
          k: str = typer.Option("1,5,10", "--k", help="cut-offs, e.g. 1,5,10"),
          out: Path = typer.Option(Path("report"), "--out", "-o"),
          limit: Optional[int] = typer.Option(None, "--limit", help="only the first N questions"),
          no_dense: bool = typer.Option(False, "--no-dense", help="with --build: BM25 only")):
    """Score retrieval and answers on a data set; writes report.md, report.json and plots."""
    from docrag.evaluate import evaluate
    from docrag.evaluate.report import ANSWER, RETRIEVAL, markdown_table

    try:
        ks = [int(x) for x in k.split(",") if x.strip()]
    except ValueError:
        raise DocragError(f"--k {k!r}: expected numbers such as 1,5,10") from None
    with _progress() as bars:
        data = evaluate(dataset, index=index, build=build, corpus=corpus or [], configs=config or [],
                        modes=modes.split(",") if modes else None, ks=ks, out=out, limit=limit,
                        dense=not no_dense, progress=_Bars(bars))
    print(markdown_table(data["results"], data["ks"], RETRIEVAL) + "\n\n" +
          markdown_table(data["results"], data["ks"], ANSWER))
    for note in data["notes"]:
        err.print(f"note: {note}", highlight=False)
    err.print(f"report: {out / 'report.md'}")


def _pages(pages: list[int]) -> str:
    return str(pages[0]) if len(pages) == 1 else f"{pages[0]}-{pages[-1]}"


def _snippet(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def main() -> None:
    # model loading progress bars (transformers, huggingface_hub) would interleave with the answer
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        app()
    except DocragError as e:
        err.print(f"[red]error:[/red] {e}", highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("interrupted: work committed so far is kept; run the command again to finish")
        sys.exit(130)


if __name__ == "__main__":
    main()
