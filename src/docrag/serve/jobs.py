"""Ingest and delete jobs: one writer thread per knowledge base runs its jobs in the order they came, while searches
and answers go on from the last committed state (``docrag.Index`` is thread-safe, and readers never wait for the
writer). Each job's state lives in the server's database, so a killed server loses no job: at the next start the
unfinished ones run again, for the files they had not finished."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from docrag.errors import DocragError
from docrag.ingest import FileResult
from docrag.serve.kbs import Conflict, KnowledgeBases, NotFound
from docrag.serve.state import UNFINISHED, Job, JobFile, ServerState

log = logging.getLogger(__name__)

KINDS = ("ingest", "delete")
_SAVE_EVERY = 0.5  # seconds between progress writes to the database (every change still wakes the listeners)


class JobRunner:
    def __init__(self, state: ServerState, kbs: KnowledgeBases):
        self.state, self.kbs = state, kbs
        self._queues: dict[str, queue.Queue[str | None]] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._live: dict[str, Job] = {}  # running jobs, with progress newer than the database's
        self._changed = threading.Condition()
        self._lock = threading.Lock()

    def submit(self, kb: str, kind: str, names: list[str], refused: dict[str, str] | None = None) -> Job:
        assert kind in KINDS
        job = self.state.create_job(kb, kind, names, refused)
        self._queue(kb).put(job.id)
        return job

    def resume(self) -> list[Job]:
        """Queue again the jobs a previous server left unfinished (at start-up, before any new one)."""
        jobs = self.state.jobs(states=UNFINISHED)
        for job in jobs:
            self.state.update_job(job.id, state="queued", stage="", done=0, total=0)
            self._queue(job.kb).put(job.id)
        return jobs

    def job(self, job_id: str) -> Job:
        live = self._live.get(job_id)
        job = live or self.state.job(job_id)
        if job is None:
            raise NotFound(f"no job {job_id!r}")
        return job

    def busy(self, kb: str) -> bool:
        return bool(self.state.jobs(kb, UNFINISHED))

    def events(self, job_id: str, keepalive: float = 15.0) -> Iterator[Job | None]:
        """The job each time it changes, until it has ended; None after ``keepalive`` seconds without a change
        (a stream sends a comment then, so proxies keep it open)."""
        last = None
        while True:
            # read and wait under the condition's lock, so that a change made between the two is not missed; and
            # judge the job by what was read, since a running job is a live object the writer goes on changing
            # (its end was never sent when it came while the stream's reader had the previous change)
            with self._changed:
                job = self.job(job_id)
                snapshot = (job.state, job.stage, job.done, job.total, [(f.state, f.chunks) for f in job.files])
                unfinished = job.state in UNFINISHED
                woke = snapshot != last or not unfinished or self._changed.wait(keepalive)
            if snapshot != last:
                last = snapshot
                yield job
            elif not woke:
                yield None
            if not unfinished:
                return

    def close(self, timeout: float = 5.0) -> None:
        """Stop the writer threads after their current job (an unfinished one runs again at the next start)."""
        with self._lock:
            for q in self._queues.values():
                q.put(None)
            threads = list(self._threads.values())
        for t in threads:
            t.join(timeout)

    # --- the writer of each knowledge base --------------------------------------------------------------
    def _queue(self, kb: str) -> queue.Queue[str | None]:
        with self._lock:
            if kb not in self._queues:
                self._queues[kb] = queue.Queue()
                thread = threading.Thread(target=self._work, args=(kb, self._queues[kb]), name=f"docrag-writer-{kb}",
                                          daemon=True)
                self._threads[kb] = thread
                thread.start()
            return self._queues[kb]

    def _work(self, kb: str, jobs: queue.Queue[str | None]) -> None:
        later: deque[str | None] = deque()  # taken from the queue while gathering a batch, run after it
        while (job_id := later.popleft() if later else jobs.get()) is not None:
            batch = [job for job in [self.state.job(job_id)] if job is not None and job.state in UNFINISHED]
            while batch and batch[0].kind == "ingest" and not later:
                # ingest jobs queued behind this one join it: one add, so one BM25 build instead of one per upload
                try:
                    following = jobs.get_nowait()
                except queue.Empty:
                    break
                job = self.state.job(following) if following is not None else None
                if job is not None and job.kind == "ingest" and job.state in UNFINISHED:
                    batch.append(job)
                else:
                    later.append(following)
            if not batch:
                continue
            try:
                self._run(batch)
                state, error = "done", ""
            except DocragError as e:
                state, error = "failed", str(e)
            except Exception as e:  # noqa: BLE001 - the jobs fail, the writer lives on; the log has the traceback
                log.exception("job(s) %s failed", ", ".join(job.id for job in batch))
                state, error = "failed", f"internal error: {type(e).__name__}: {e}"
            for job in batch:
                self._finish(job, state, error)

    def _run(self, batch: list[Job]) -> None:
        """Run jobs of one kind (several only for ingest) as one write."""
        knowledge_base = self.kbs.get(batch[0].kb)
        files: dict[str, list[tuple[Job, JobFile]]] = {}  # path -> each job file it stands for
        for job in batch:
            job.state, job.started = "running", time.time()
            self.state.update_job(job.id, state=job.state, started=job.started)
            self._live[job.id] = job
            for file in job.files:
                if file.state == "queued":  # a resumed job skips the files it had finished
                    files.setdefault(str(knowledge_base.files / file.name), []).append((job, file))
        self._notify()
        saved = [0.0]

        def progress(stage: str, done: int, total: int) -> None:
            now = time.monotonic()
            save = now - saved[0] > _SAVE_EVERY or done == total
            saved[0] = now if save else saved[0]
            for job in batch:
                job.stage, job.done, job.total = stage, done, total
                if save:
                    self.state.update_job(job.id, stage=stage, done=done, total=total)
            self._notify()

        def on_file(result: FileResult) -> None:
            for job, file in files.get(result.path, ()):
                file.state, file.reason, file.chunks = result.status, result.reason, result.chunks
                self.state.update_file(job.id, file)
            self._notify()

        if batch[0].kind == "ingest":
            knowledge_base.index.add(list(files), progress=progress, on_file=on_file)
        else:
            removed = set(knowledge_base.index.remove(list(files)))
            for path in files:
                Path(path).unlink(missing_ok=True)
                on_file(FileResult(path, "removed" if path in removed else "skipped",
                                   "" if path in removed else "was not indexed"))
        for path, owners in files.items():  # what the ingest never reported (it stopped early) is not left queued
            if any(file.state == "queued" for _, file in owners):
                on_file(FileResult(path, "failed", "not processed"))

    def _finish(self, job: Job, state: str, error: str = "") -> None:
        job.state, job.finished, job.error = state, time.time(), error
        self.state.update_job(job.id, state=state, finished=job.finished, error=error, stage=job.stage,
                              done=job.done, total=job.total)
        self._live.pop(job.id, None)
        self._notify()

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def check_idle(self, kb: str) -> None:
        if self.busy(kb):
            raise Conflict(f"knowledge base {kb!r} has jobs running; try again when they have ended")

