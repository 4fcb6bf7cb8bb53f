"""Ingest and delete jobs: one writer thread per knowledge base runs its jobs in the order they came, while searches
and answers go on from the last committed state (``docrag.Index`` is thread-safe, and readers never wait for the
writer). Each job's state lives in the server's database, so a killed server loses no job: at the next start the
unfinished ones run again, for the files they had not finished."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator

from docrag.errors import DocragError
from docrag.ingest import FileResult
from docrag.serve.kbs import Conflict, KnowledgeBases, NotFound
from docrag.serve.state import UNFINISHED, Job, ServerState

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
        while (job_id := jobs.get()) is not None:
            job = self.state.job(job_id)
            if job is None or job.state not in UNFINISHED:
                continue
            try:
                self._run(job)
                self._finish(job, "done")
            except DocragError as e:
                self._finish(job, "failed", str(e))
            except Exception as e:  # noqa: BLE001 - the job fails, the writer lives on; the log has the traceback
                log.exception("job %s failed", job.id)
                self._finish(job, "failed", f"internal error: {type(e).__name__}: {e}")

    def _run(self, job: Job) -> None:
        knowledge_base = self.kbs.get(job.kb)
        job.state, job.started = "running", time.time()
        self.state.update_job(job.id, state=job.state, started=job.started)
        self._live[job.id] = job
        self._notify()
        todo = [f for f in job.files if f.state == "queued"]  # a resumed job skips the files it had finished
        by_path = {str(knowledge_base.files / f.name): f for f in todo}
        saved = [0.0]

        def progress(stage: str, done: int, total: int) -> None:
            job.stage, job.done, job.total = stage, done, total
            now = time.monotonic()
            if now - saved[0] > _SAVE_EVERY or done == total:
                saved[0] = now
                self.state.update_job(job.id, stage=stage, done=done, total=total)
            self._notify()

        def on_file(result: FileResult) -> None:
            file = by_path.get(result.path)
            if file is not None:
                file.state, file.reason, file.chunks = result.status, result.reason, result.chunks
                self.state.update_file(job.id, file)
                self._notify()

        if job.kind == "ingest":
            knowledge_base.index.add(list(by_path), progress=progress, on_file=on_file)
        else:
            removed = set(knowledge_base.index.remove(list(by_path)))
            for path, file in by_path.items():
                (knowledge_base.files / file.name).unlink(missing_ok=True)
                on_file(FileResult(path, "removed" if path in removed else "skipped",
                                   "" if path in removed else "was not indexed"))
        for file in todo:  # what the ingest never reported (it stopped early) is not left "queued"
            if file.state == "queued":
                on_file(FileResult(str(knowledge_base.files / file.name), "failed", "not processed"))

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

