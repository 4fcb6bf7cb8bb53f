"""A bounded load run of `docrag serve` on loopback: the real server (uvicorn, its own process) measured from
client threads in this process, on the 4.17M-character Chinese news corpus (one article per file, ~5,800 files).

BM25 only (`--set index.dense=false`): embedding the corpus on this CPU takes ~46 min (ingest_news.py).

Measures, in one run:
  ingest     the corpus uploaded over HTTP (multipart POST /kb/news/documents, --batch files a request) until
             every job has ended, vs `Index.add` of the same folder in-process into a fresh index (and the same
             batches in-process, which separates the cost of HTTP from the cost of ingesting in batches)
  load       POST /kb/news/search {query, k: 5, mode: bm25} and POST /kb/news/ask {question} (extractive), from
             1, 8 and 32 concurrent clients (threads, one httpx.Client each), a fixed number of requests each;
             queries are sentences of the news files (seeded); requests/s, p50/p95/p99, errors, and the CPU
             the server and the client used
  overhead   the same queries one at a time: search over HTTP vs `Index.search` in-process on the same
             knowledge base's index (opened read-only here, same configuration), alternating rounds
  ingesting  the search scenarios again while an ingest job of other news files (news_more_12m.txt, split the
             same way, a fresh batch per scenario) runs; the job's state is read before and after each window
             and its start/end times give how much of the window it overlapped

    python benchmarks/serve_load.py [--batch 300] [--more 3000] [--search-requests 600] [--ask-requests 300]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from common import DOCRAG, ROOT, SHARED, WORK, machine, need, news_files, save, table

KB = "news"
OVERRIDES = {"index.dense": False}
CONCURRENCY = (1, 8, 32)
TICK = os.sysconf("SC_CLK_TCK")


# --- data -----------------------------------------------------------------------------------------------
def more_files(n: int) -> Path:
    """The first ``n`` articles of crud_news/news_more_12m.txt, one a file (news-more/m00000.txt ...), made once;
    named apart from the 4M corpus's files, so that an upload adds documents instead of replacing them."""
    out = WORK / "corpus" / f"news-more-{n}"
    if not (out / ".done").exists():
        out.mkdir(parents=True, exist_ok=True)
        made = 0
        with open(need(SHARED / "crud_news" / "news_more_12m.txt"), encoding="utf-8") as fh:
            for i, line in enumerate(fh):
                if made == n:
                    break
                if line.strip():
                    (out / f"m{i:05d}.txt").write_text(line.strip() + "\n", encoding="utf-8")
                    made += 1
        (out / ".done").touch()
    return out


def queries(files: list[Path], n: int, seed: int = 7) -> list[str]:
    """``n`` sentences (10-40 characters) of the articles' text, drawn from random files."""
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        text = rng.choice(files).read_text(encoding="utf-8")
        body = text.split("正文：", 1)[-1]
        sentences = [s.strip(" ，,“”\"") for s in re.split(r"[。！？!?\n]", body)]
        sentences = [s for s in sentences if 10 <= len(s) <= 40]
        if sentences:
            out.append(rng.choice(sentences))
    return out


# --- the server ----------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime of the process (all its threads)


class Server:
    def __init__(self, root: Path):
        self.root, self.port = root, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(root.parent / "server.log", "w")
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
        cmd = DOCRAG + ["serve", "--root", str(root), "--port", str(self.port)]
        for key, value in OVERRIDES.items():
            cmd += ["--set", f"{key}={str(value).lower()}"]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"the server did not start: see {self.log.name}")
            time.sleep(0.2)

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def job(http: httpx.Client, job_id: str) -> dict:
    r = http.get(f"/jobs/{job_id}")
    r.raise_for_status()
    return r.json()


def wait_jobs(http: httpx.Client, ids: list[str], poll: float = 0.2) -> list[dict]:
    done: dict[str, dict] = {}
    while len(done) < len(ids):
        for i in ids:
            if i not in done:
                j = job(http, i)
                if j["state"] not in ("queued", "running"):
                    done[i] = j
        if len(done) < len(ids):
            time.sleep(poll)
    return [done[i] for i in ids]


def upload(http: httpx.Client, files: list[Path]) -> dict:
    parts = [("files", (f.name, f.read_bytes(), "text/plain")) for f in files]
    r = http.post(f"/kb/{KB}/documents", files=parts)
    if r.status_code != 202:
        sys.exit(f"upload of {len(files)} files: HTTP {r.status_code}: {r.text[:500]}")
    return r.json()


def file_states(jobs: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for j in jobs:
        for f in j["files"]:
            counts[f["state"]] = counts.get(f["state"], 0) + 1
    return counts


def ingest_http(server: Server, files: list[Path], batch: int) -> dict:
    with httpx.Client(base_url=server.url, timeout=600) as http:
        r = http.post("/kb", json={"name": KB, "settings": {}})
        if r.status_code != 201:
            sys.exit(f"POST /kb: HTTP {r.status_code}: {r.text[:500]}")
        cpu0, t0 = server.cpu(), time.perf_counter()
        ids, upload_s = [], 0.0
        for start in range(0, len(files), batch):
            u0 = time.perf_counter()
            ids.append(upload(http, files[start:start + batch])["id"])
            upload_s += time.perf_counter() - u0
        uploaded = time.perf_counter() - t0
        jobs = wait_jobs(http, ids)
        wall = time.perf_counter() - t0
        info = http.get(f"/kb/{KB}").json()
    failed = [(f["name"], f["reason"]) for j in jobs for f in j["files"] if f["state"] == "failed"]
    return {"seconds": wall, "upload_seconds": upload_s, "all_uploaded_after": uploaded, "jobs": len(jobs),
            "job_states": sorted({j["state"] for j in jobs}), "job_errors": [j["error"] for j in jobs if j["error"]],
            "file_states": file_states(jobs), "failed_files": failed[:20], "server_cpu_seconds": server.cpu() - cpu0,
            "documents": info["documents"], "chunks": info["chunks"]}


def ingest_inproc(folder: Path, files: list[Path], batch: int | None) -> dict:
    import docrag

    target = WORK / "serve-load" / ("inproc-batched" if batch else "inproc")
    shutil.rmtree(target, ignore_errors=True)
    cpu0, t0 = time.process_time(), time.perf_counter()
    with docrag.Index.open(target, create=True, config=docrag.Config.load(None, **OVERRIDES)) as idx:
        if batch:
            for start in range(0, len(files), batch):
                idx.add(files[start:start + batch])
        else:
            idx.add(folder)
        info = idx.info()
    return {"seconds": time.perf_counter() - t0, "cpu_seconds_main_process": time.process_time() - cpu0,
            "documents": info["documents"], "chunks": info["chunks"]}


# --- load ----------------------------------------------------------------------------------------------
def body(endpoint: str, q: str) -> dict:
    return {"query": q, "k": 5, "mode": "bm25"} if endpoint == "search" else {"question": q}


def load(server: Server, endpoint: str, clients: int, n: int, qs: list[str], errors: list) -> dict:
    """``n`` requests from ``clients`` threads (each its own httpx.Client, warmed up by one request first)."""
    path = f"/kb/{KB}/{endpoint}"
    latencies: list[float] = []
    mine: list[tuple[str, str]] = []
    counter = iter(range(n))
    lock = threading.Lock()
    ready = threading.Barrier(clients + 1)

    def worker(w: int) -> None:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            http.post(path, json=body(endpoint, qs[w % len(qs)]))  # connect and warm up, not timed
            ready.wait()
            ready.wait()
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                q = qs[i % len(qs)]
                t0 = time.perf_counter()
                try:
                    r = http.post(path, json=body(endpoint, q))
                    dt = time.perf_counter() - t0
                    problem = None if r.status_code == 200 and (endpoint != "search" or "hits" in r.json()) \
                        else f"HTTP {r.status_code}: {r.text[:300]}"
                except httpx.HTTPError as e:
                    dt, problem = time.perf_counter() - t0, f"{type(e).__name__}: {e}"
                with lock:
                    if problem:
                        mine.append((q, problem))
                    else:
                        latencies.append(dt)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(clients)]
    for t in threads:
        t.start()
    ready.wait()  # every client connected and warmed up
    cpu_server, cpu_client, t0 = server.cpu(), time.process_time(), time.perf_counter()
    started = time.time()
    ready.wait()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    cpu_server, cpu_client = server.cpu() - cpu_server, time.process_time() - cpu_client
    for q, problem in mine:
        errors.append({"endpoint": endpoint, "clients": clients, "query": q, "error": problem})
    ms = np.array(latencies) * 1000 if latencies else np.array([float("nan")])
    return {"endpoint": endpoint, "clients": clients, "requests": n, "ok": len(latencies), "errors": len(mine),
            "seconds": wall, "rps": len(latencies) / wall, "p50_ms": float(np.percentile(ms, 50)),
            "p95_ms": float(np.percentile(ms, 95)), "p99_ms": float(np.percentile(ms, 99)),
            "mean_ms": float(ms.mean()), "server_cpu_cores": cpu_server / wall, "client_cpu_cores": cpu_client / wall,
            "window": [started, started + wall]}


def under_ingest(server: Server, more: list[Path], n: int, qs: list[str], errors: list) -> list[dict]:
    """Each search scenario while an ingest job of its own batch of other files runs."""
    out = []
    per = len(more) // len(CONCURRENCY)
    with httpx.Client(base_url=server.url, timeout=600) as http:
        for i, clients in enumerate(CONCURRENCY):
            batch = more[i * per:(i + 1) * per]
            job_id = upload(http, batch)["id"]
            while (before := job(http, job_id))["state"] == "queued":
                time.sleep(0.05)
            row = load(server, "search", clients, n, qs, errors)
            after = job(http, job_id)
            final = wait_jobs(http, [job_id])[0]
            w0, w1 = row["window"]
            common = max(0.0, min(final["finished"], w1) - max(final["started"], w0))
            overlap = common / (w1 - w0)  # the share of the window the job ran in
            row.update({"ingest_files": len(batch), "job_state_before": f"{before['state']} {before['stage']}",
                        "job_state_after": f"{after['state']} {after['stage']}", "overlap": overlap,
                        "job_seconds": final["finished"] - final["started"], "job_final": final["state"],
                        "job_share_in_window": common / (final["finished"] - final["started"]),
                        "job_file_states": file_states([final])})
            out.append(row)
            print(f"  search x{clients} while ingesting {len(batch)} files: {row['rps']:.1f} req/s, "
                  f"p50 {row['p50_ms']:.1f} ms, overlap {overlap:.0%} (job {row['job_seconds']:.1f} s, "
                  f"{row['job_share_in_window']:.0%} of it in the window; before: {row['job_state_before']}, "
                  f"after: {row['job_state_after']})", flush=True)
    return out


# --- overhead ------------------------------------------------------------------------------------------
def overhead(server: Server, root: Path, qs: list[str], rounds: int) -> dict:
    """Sequential search over HTTP vs Index.search in-process on the same index directory, alternating rounds."""
    import docrag

    idx = docrag.Index.open(root / "kbs" / KB / "index", readonly=True, config=docrag.Config.load(None, **OVERRIDES))
    http_s: list[float] = []
    local_s: list[float] = []
    same = differ = 0
    with httpx.Client(base_url=server.url, timeout=120) as http:
        for q in qs[:5]:  # warm up both sides
            http.post(f"/kb/{KB}/search", json=body("search", q))
            idx.search(q, k=5, mode="bm25")
        for _ in range(rounds):
            for q in qs:
                t0 = time.perf_counter()
                r = http.post(f"/kb/{KB}/search", json=body("search", q))
                http_s.append(time.perf_counter() - t0)
                r.raise_for_status()
                remote = [h["chunk_id"] for h in r.json()["hits"]]
            for q in qs:
                t0 = time.perf_counter()
                hits = idx.search(q, k=5, mode="bm25")
                local_s.append(time.perf_counter() - t0)
        for q in qs:  # do both sides find the same passages?
            remote = [h["chunk_id"] for h in http.post(f"/kb/{KB}/search", json=body("search", q)).json()["hits"]]
            hits = [h.chunk_id for h in idx.search(q, k=5, mode="bm25")]
            same, differ = same + (remote == hits), differ + (remote != hits)
    idx.close()
    h, loc = np.array(http_s) * 1000, np.array(local_s) * 1000
    return {"queries": len(qs), "rounds": rounds,
            "http": {"p50_ms": float(np.median(h)), "mean_ms": float(h.mean()), "p95_ms": float(np.percentile(h, 95))},
            "inproc": {"p50_ms": float(np.median(loc)), "mean_ms": float(loc.mean()),
                       "p95_ms": float(np.percentile(loc, 95))},
            "ratio_p50": float(np.median(h) / np.median(loc)), "ratio_mean": float(h.mean() / loc.mean()),
            "added_ms_p50": float(np.median(h) - np.median(loc)),
            "same_top5": same, "different_top5": differ}


def server_log_problems(path: Path) -> list[str]:
    lines = path.read_text(errors="replace").splitlines()
    return [x for x in lines if re.search(r"Traceback|ERROR|Exception|WARNING", x)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=300, help="files per upload request")
    ap.add_argument("--more", type=int, default=3000, help="other news files ingested during the search scenarios "
                    "(split in three: one upload and job per scenario; the server takes at most 1,000 files a request)")
    ap.add_argument("--search-requests", type=int, default=600)
    ap.add_argument("--ask-requests", type=int, default=300)
    ap.add_argument("--ingesting-requests", type=int, default=1000)
    ap.add_argument("--overhead-queries", type=int, default=200)
    ap.add_argument("--overhead-rounds", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None, help="only the first N news files (a quick trial)")
    ap.add_argument("--no-batched-baseline", action="store_true")
    args = ap.parse_args()

    news = news_files()
    files = sorted(news.glob("*.txt"))[: args.limit]
    if args.limit:  # a folder of just these files, for the in-process baseline of the same folder
        news = WORK / "corpus" / f"news-first-{args.limit}"
        if not (news / ".done").exists():
            news.mkdir(parents=True, exist_ok=True)
            for f in files:
                shutil.copy(f, news / f.name)
            (news / ".done").touch()
        files = sorted(news.glob("*.txt"))
    chars = sum(len(f.read_text(encoding="utf-8")) for f in files)
    more = sorted(more_files(args.more).glob("*.txt"))
    qs = queries(files, 500)
    base = WORK / "serve-load"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    root = base / "root"
    print(f"{len(files)} files, {chars:,} characters; {len(more)} other files for the ingest-while-searching runs",
          flush=True)

    server = Server(root)
    errors: list[dict] = []
    try:
        print(f"server pid {server.proc.pid} on {server.url}; uploading in batches of {args.batch}", flush=True)
        http_ingest = ingest_http(server, files, args.batch)
        print(f"  ingest over HTTP: {http_ingest['seconds']:.1f} s ({http_ingest['jobs']} jobs, files "
              f"{http_ingest['file_states']})", flush=True)
        inproc = ingest_inproc(news, files, None)
        print(f"  Index.add in-process: {inproc['seconds']:.1f} s", flush=True)
        batched = None if args.no_batched_baseline else ingest_inproc(news, files, args.batch)
        if batched:
            print(f"  Index.add in-process, same batches: {batched['seconds']:.1f} s", flush=True)

        rows = []
        for endpoint, n in (("search", args.search_requests), ("ask", args.ask_requests)):
            for clients in CONCURRENCY:
                row = load(server, endpoint, clients, n, qs, errors)
                rows.append(row)
                print(f"  {endpoint} x{clients}: {row['rps']:.1f} req/s, p50 {row['p50_ms']:.1f} ms, "
                      f"p99 {row['p99_ms']:.1f} ms, errors {row['errors']}", flush=True)
        over = overhead(server, root, qs[: args.overhead_queries], args.overhead_rounds)
        print(f"  overhead: HTTP p50 {over['http']['p50_ms']:.2f} ms vs in-process {over['inproc']['p50_ms']:.2f} ms "
              f"({over['ratio_p50']:.2f}x)", flush=True)
        ingesting = under_ingest(server, more, args.ingesting_requests, qs, errors)
        with httpx.Client(base_url=server.url, timeout=60) as http:
            final_info = http.get(f"/kb/{KB}").json()
    finally:
        server.stop()
    problems = server_log_problems(base / "server.log")

    idle = {r["clients"]: r for r in rows if r["endpoint"] == "search"}
    print(f"\n{len(files)} news files ({chars:,} chars), {http_ingest['chunks']:,} chunks, BM25 only; "
          f"{len(qs)} query sentences\n")
    print(table([["over HTTP (docrag serve)", f"{http_ingest['seconds']:.1f}", f"{http_ingest['jobs']}", "-"],
                 ["Index.add(folder) in-process", f"{inproc['seconds']:.1f}", "1",
                  f"{http_ingest['seconds'] / inproc['seconds']:.2f}"]]
                + ([["Index.add in-process, same batches", f"{batched['seconds']:.1f}", f"{http_ingest['jobs']}",
                     f"{http_ingest['seconds'] / batched['seconds']:.2f}"]] if batched else []),
                ["ingest", "wall s", "adds", "HTTP / this"]))
    print()
    body_rows = [[r["endpoint"], r["clients"], "idle", r["ok"], f"{r['rps']:.1f}", f"{r['p50_ms']:.1f}",
                  f"{r['p95_ms']:.1f}", f"{r['p99_ms']:.1f}", r["errors"], f"{r['server_cpu_cores']:.2f}",
                  f"{r['client_cpu_cores']:.2f}"] for r in rows]
    body_rows += [["search", r["clients"], f"ingesting ({r['overlap']:.0%})", r["ok"], f"{r['rps']:.1f}",
                   f"{r['p50_ms']:.1f}", f"{r['p95_ms']:.1f}", f"{r['p99_ms']:.1f}", r["errors"],
                   f"{r['server_cpu_cores']:.2f}", f"{r['client_cpu_cores']:.2f}"] for r in ingesting]
    print(table(body_rows, ["endpoint", "clients", "while", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms",
                            "errors", "server cores", "client cores"]))
    print("\nsearch while ingesting / idle, req/s: "
          + ", ".join(f"x{r['clients']} {r['rps'] / idle[r['clients']]['rps']:.2f}" for r in ingesting))
    print(f"overhead (sequential, {over['queries']} queries x {over['rounds']} rounds): HTTP p50 "
          f"{over['http']['p50_ms']:.2f} ms, mean {over['http']['mean_ms']:.2f} ms; in-process p50 "
          f"{over['inproc']['p50_ms']:.2f} ms, mean {over['inproc']['mean_ms']:.2f} ms -> {over['ratio_p50']:.2f}x "
          f"(p50), {over['ratio_mean']:.2f}x (mean); same top-5 for {over['same_top5']}/{over['queries']} queries")
    print(f"errors: {len(errors)}")
    for e in errors[:30]:
        print(f"  {e['endpoint']} x{e['clients']}: {e['error']} (query {e['query']!r})")
    print(f"server log lines with Traceback/ERROR/WARNING: {len(problems)}")
    for line in problems[:20]:
        print("  " + line)
    for r in rows + ingesting:
        r.pop("window", None)
    path = save("serve_load", {
        "files": len(files), "chars": chars, "config": OVERRIDES, "batch": args.batch, "queries": len(qs),
        "ingest": {"http": http_ingest, "inproc": inproc, "inproc_batched": batched,
                   "ratio_http_to_inproc": http_ingest["seconds"] / inproc["seconds"],
                   "ratio_http_to_inproc_batched": http_ingest["seconds"] / batched["seconds"] if batched else None},
        "load": rows, "ingesting": ingesting, "overhead": over, "errors": errors, "server_log_problems": problems,
        "final_kb": final_info, "client": machine()})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
