"""`docrag ingest --ray` against one process and `--workers 2`, and `docrag migrate` against building the index.

Ingest (dense off: parse + chunk + commit + BM25), each variant a child process on a fresh index, in one run:
  one        Index.add(workers=1): the single-process path (the baseline)
  workers2   Index.add(workers=2): the process pool
  ray1/ray2  a local Ray of 1 / 2 CPUs (ray.init in the child; its start-up reported apart), Index.add(ray="auto")
  data2      as ray2, with the Ray tasks replaced by a Ray Data pipeline (from_items -> map(process) ->
             iter_rows, order preserved): what Ray Data costs for the same work
Corpora: news16 (news_4m + news_more_12m, 23,152 article files, 16.1M characters) and the FinanceBench PDFs (52
PDFs, 5,923 pages; ``--pdfs N``: the first N).

Migrate: the CMRC2018 trial paragraphs (dense on) and news_4m (dense off) built on SQLite, then copied to Milvus
Lite and back: `docrag migrate` time against the build's.

    python benchmarks/ingest_ray.py [--only news16|financebench|migrate] [--pdfs N] [--variants one,ray2,...]
                                    [--indexes cmrc,news4m]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import textwrap

from common import DOCRAG, ROOT, SHARED, WORK, cmrc_files, need, news16_files, news_files, run_child, save, table

VARIANTS = ["one", "workers2", "ray1", "ray2", "data2"]
CHILD = textwrap.dedent("""
    import json, os, pickle, sys, time
    from pathlib import Path
    variant, folder, index = sys.argv[1:4]
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    import docrag, docrag.ingest_ray
    started = time.perf_counter()
    kwargs = {"workers": 2 if variant == "workers2" else 1}
    if variant[:-1] in ("ray", "data"):
        import ray
        ray.init(num_cpus=int(variant[-1]), include_dashboard=False, logging_level="WARNING",
                 runtime_env={"env_vars": {"PYTHONPATH": os.environ["PYTHONPATH"]}})
        kwargs = {"ray": "auto"}
    if variant.startswith("data"):
        from docrag.ingest import process

        def process_on_ray_data(jobs, config, address, embed):
            ray.data.DataContext.get_current().execution_options.preserve_order = True
            rows = ray.data.from_items([{"path": str(p), "sha": sha} for p, sha in jobs])
            parsed = rows.map(lambda r: {"done": pickle.dumps(process(Path(r["path"]), config, r["sha"]))})
            for row in parsed.iter_rows():
                yield pickle.loads(row["done"])

        docrag.ingest_ray.process_on_ray = process_on_ray_data
    init = time.perf_counter() - started
    idx = docrag.Index.open(index, create=True, dense=False)
    t0 = time.perf_counter()
    report = idx.add(folder, **kwargs)
    print(json.dumps({"init": init, "ingest": time.perf_counter() - t0, "added": len(report.added),
                      "failed": len(report.failed), "chunks": idx.store.counts()["chunks"]}))
""")


def pdf_subset(n: int | None):
    pdfs = need(SHARED / "financebench" / "pdfs")
    if n is None:
        return pdfs
    out = WORK / "corpus" / f"financebench-{n}"
    if not out.exists():
        out.mkdir(parents=True)
        for pdf in sorted(pdfs.glob("*.pdf"))[:n]:
            (out / pdf.name).symlink_to(pdf)
    return out


def ingest(name: str, folder, variants: list[str]) -> tuple[list[list], dict]:
    out = WORK / "ray-bench"
    env = {"PYTHONPATH": str(ROOT / "src"), "RAY_USAGE_STATS_ENABLED": "0"}
    data, rows = {}, []
    for variant in variants:
        shutil.rmtree(out, ignore_errors=True)
        run = run_child([sys.executable, "-c", CHILD, variant, str(folder), str(out / "ix")], env=env)
        data[variant] = {**json.loads(run["stdout"].strip().splitlines()[-1]), "wall": run["seconds"],
                         "peak_rss_mib": run["peak_rss_mib"]}
        print(name, variant, data[variant], flush=True)
    base = data[variants[0]]["ingest"]
    for variant in variants:
        d = data[variant]
        rows.append([name, variant, f"{d['ingest']:.1f}", f"{d['init']:.1f}", f"{d['wall']:.1f}",
                     f"{base / d['ingest']:.2f}", d["added"], d["failed"], d["chunks"]])
    return rows, data


def migrate_rows(indexes: list[str]) -> tuple[list[list], dict]:
    out = WORK / "migrate-bench"
    data, rows = {}, []
    for name, folder, dense in (("cmrc", cmrc_files(), True), ("news4m", news_files(), False)):
        if name not in indexes:
            continue
        shutil.rmtree(out, ignore_errors=True)
        src, milvus, back = out / "sqlite", out / "milvus", out / "back"
        no_dense = [] if dense else ["--no-dense"]
        build = run_child(DOCRAG + ["ingest", str(folder), "--index", str(src), "-q"] + no_dense)
        to_milvus = run_child(DOCRAG + ["migrate", "--index", str(src), "--to", f"milvus://{out / 'm.db'}",
                                        "--target", str(milvus), "-q"])
        to_sqlite = run_child(DOCRAG + ["migrate", "--index", str(milvus), "--set", "index.backend=milvus", "--set",
                                        f"index.milvus_uri={out / 'm.db'}", "--to", f"sqlite://{back}", "-q"])
        build_milvus = run_child(DOCRAG + ["ingest", str(folder), "--index", str(out / "milvus-built"), "-q",
                                           "--set", "index.backend=milvus"] + no_dense)
        data[name] = {"dense": dense, "build_sqlite": build["seconds"], "build_milvus": build_milvus["seconds"],
                      "migrate_to_milvus": to_milvus["seconds"], "migrate_to_sqlite": to_sqlite["seconds"],
                      "copied": to_milvus["stdout"].splitlines()[0]}
        print(name, data[name], flush=True)
        d = data[name]
        rows.append([name, "dense" if dense else "BM25 only", f"{d['build_sqlite']:.1f}", f"{d['build_milvus']:.1f}",
                     f"{d['migrate_to_milvus']:.1f}", f"{d['build_milvus'] / d['migrate_to_milvus']:.2f}",
                     f"{d['migrate_to_sqlite']:.1f}", f"{d['build_sqlite'] / d['migrate_to_sqlite']:.2f}"])
    return rows, data


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["news16", "financebench", "migrate"])
    ap.add_argument("--pdfs", type=int, help="only the first N FinanceBench PDFs")
    ap.add_argument("--variants", default=",".join(VARIANTS), help="the first is the baseline")
    ap.add_argument("--indexes", default="cmrc,news4m", help="migrate: which indexes")
    args = ap.parse_args()
    variants = args.variants.split(",")
    results: dict = {"variants": variants}
    rows: list[list] = []
    if args.only in (None, "news16"):
        found, results["news16"] = ingest("news16", news16_files(), variants)
        rows += found
    if args.only in (None, "financebench"):
        name = "financebench" + (f"-{args.pdfs}" if args.pdfs else "")
        found, results[name] = ingest(name, pdf_subset(args.pdfs), variants)
        rows += found
    if rows:
        print(table(rows, ["corpus", "variant", "ingest s", "start-up s", "child wall s",
                           f"speed-up vs {variants[0]}", "added", "failed", "chunks"]))
    if args.only in (None, "migrate"):
        found, results["migrate"] = migrate_rows(args.indexes.split(","))
        print(table(found, ["index", "vectors", "build SQLite s", "build Milvus s", "migrate → Milvus s",
                            "build/migrate", "migrate → SQLite s", "build/migrate"]))
    name = "ingest_ray" + (f"_{args.only}" if args.only else "") + ("" if args.indexes == "cmrc,news4m" else
                                                                   f"_{args.indexes.replace(',', '_')}")
    print(f"\nwrote {save(name, results)}")


if __name__ == "__main__":
    main()
