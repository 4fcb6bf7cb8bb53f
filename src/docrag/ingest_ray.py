"""``process`` (parse + chunk) on a Ray cluster, and the chunks' vectors made by an actor pool (a GPU per actor when
the cluster has GPUs): the ``--ray`` side of ``docrag.ingest._run``. Results come back to the ingesting process in
file order, and it commits them as it commits those of its own worker processes (batched transactions, then BM25).

Ray tasks, not Ray Data: each group of files is one task, so a worker that dies costs that group only (its files
are tried again one per task, and a file whose worker dies again is reported as failed, with the reason), where
Ray Data retries a dead worker's task without end by default; and the same work measured faster on tasks
(docs/benchmarks.md, "Ray ingestion").

Files are read by path on the workers: on a multi-machine cluster, every node must see them at the same path (a
shared file system) and have docrag installed. Nothing leaves the machine on docrag's account: Ray's usage
statistics are off (RAY_USAGE_STATS_ENABLED=0 unless set otherwise) and a local Ray starts without its dashboard.
"""

from __future__ import annotations

import os
from collections import deque
from itertools import islice
from pathlib import Path
from typing import Any, Iterator

from docrag.config import Config
from docrag.errors import DocragError
from docrag.ingest import HEAVY_TYPES, ProcessedDocument, process
from docrag.models.embed import make_embedder

IN_FLIGHT_PER_CPU = 2  # tasks running or queued per CPU of the cluster: a worker never waits for the next
AHEAD_PER_CPU = 16  # groups per CPU done or under way, waiting for the driver to take them in file order
RETRIES_PER_FILE = 1  # a file's own task is run once more when its worker dies (a node lost, not the file's fault)


def ray_module():
    """Ray, imported on first use (an optional extra), with its usage statistics off."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ImportError:
        raise DocragError("ingesting on Ray needs the ray extra: pip install 'docrag[ray]'") from None
    return ray


def _connect(ray, address: str) -> bool:
    """Join the cluster ``address`` names (``auto``: the one running here, else start a local Ray for this ingest;
    ``ray://host:10001``: a cluster's Ray Client). Returns whether a local Ray was started (then it is shut down
    after the ingest). A process that already called ``ray.init`` keeps its connection."""
    if ray.is_initialized():
        return False
    try:
        if address == "auto":
            try:
                ray.init(address="auto", logging_level="WARNING")
                return False
            except ConnectionError:
                ray.init(include_dashboard=False, logging_level="WARNING")
                return True
        ray.init(address=address, logging_level="WARNING")
        return False
    except Exception as e:  # noqa: BLE001 - Ray raises several kinds for an address it cannot reach
        raise DocragError(f"--ray {address}: cannot connect to Ray ({type(e).__name__}: {e})") from None


def _groups(jobs: list[tuple[Path, str | None]], size: int) -> Iterator[list[tuple[Path, str | None]]]:
    """Jobs in groups of ``size``, a PDF or Word file alone: they take seconds each, and a task is done when its
    slowest file is."""
    group: list[tuple[Path, str | None]] = []
    for job in jobs:
        if job[0].suffix.lower() in HEAVY_TYPES:
            if group:
                yield group
                group = []
            yield [job]
            continue
        group.append(job)
        if len(group) >= size:
            yield group
            group = []
    if group:
        yield group


def _process_group(jobs: list[tuple[Path, str | None]], config: Config) -> list[ProcessedDocument]:
    return [process(path, config, sha) for path, sha in jobs]


class _Embedder:
    """An actor that embeds the searchable chunks (all but parents, as ``Indexer`` does) of processed documents,
    in batches of ``index.embed_batch``; its model loads once, on the actor's device (``models.device``)."""

    def __init__(self, config: Config):
        self.embedder = make_embedder(config.index.embedder, config)
        self.batch = config.index.embed_batch

    def embed(self, docs: list[ProcessedDocument]) -> list[ProcessedDocument]:
        import numpy as np

        for done in docs:
            texts = [c.text for c in done.chunks if c.kind != "parent"] if done.status == "processed" else []
            if texts:
                done.vectors = np.vstack([self.embedder.embed_passages(texts[i:i + self.batch])
                                          for i in range(0, len(texts), self.batch)])
        return docs


def process_on_ray(jobs: list[tuple[Path, str | None]], config: Config, address: str, embed: bool
                   ) -> Iterator[ProcessedDocument]:
    """``process`` over the jobs (path, indexed hash) on Ray, results in job order as they come; with ``embed``,
    each processed document comes with the vectors of its searchable chunks (``ProcessedDocument.vectors``)."""
    ray = ray_module()
    started = _connect(ray, address)
    pending: deque[tuple[list[tuple[Path, str | None]], Any]] = deque()
    try:
        resources = ray.cluster_resources()
        cpus = max(1, int(resources.get("CPU", 1)))
        size = max(1, min(32, len(jobs) // (8 * cpus)))
        config_ref = ray.put(config)
        actors = _embedders(ray, config, int(resources.get("GPU", 0))) if embed else []
        parse = ray.remote(_process_group)
        turn = 0

        def submit(group: list[tuple[Path, str | None]], retries: int) -> Any:
            nonlocal turn
            ref = parse.options(num_cpus=1, max_retries=retries).remote(group, config_ref)
            if actors:  # the actor takes the task's result as it is made: it never passes through here
                turn += 1
                ref = actors[turn % len(actors)].embed.remote(ref)
            return ref

        groups = _groups(jobs, size)
        while True:
            # results are taken in file order, but a slow file (a 300-page PDF) must not leave the other CPUs idle:
            # tasks are kept running on every CPU, and up to AHEAD_PER_CPU groups wait done for their turn
            running = ray.wait([r for _, r in pending], num_returns=len(pending), timeout=0)[1] if pending else []
            room = min(IN_FLIGHT_PER_CPU * cpus - len(running), AHEAD_PER_CPU * cpus - len(pending))
            for group in islice(groups, max(0, room)):
                pending.append((group, submit(group, 0)))
                running.append(pending[-1][1])
            if not pending:
                break
            group, ref = pending[0]
            if ref in running:
                ray.wait(running, num_returns=1)  # until some task ends: then more can start
                continue
            pending.popleft()
            try:
                done = ray.get(ref)
            except ray.exceptions.RayTaskError as e:  # process() raised: as in one process, the ingest stops
                raise e.as_instanceof_cause() from None
            except ray.exceptions.RayActorError as e:  # the embedder cannot load, or died twice: no file's fault
                raise DocragError(f"Ray: the embedding actor failed ({type(e).__name__}: {e})") from None
            except ray.exceptions.RayError:  # a worker died (killed, out of memory): each file on its own
                done = [_alone(ray, job, submit) for job in group]
            yield from done
    finally:  # interrupted: what was not yet committed is dropped (a re-run redoes it)
        for _, ref in pending:
            ray.cancel(ref)
        if started:
            ray.shutdown()


def _alone(ray, job: tuple[Path, str | None], submit) -> ProcessedDocument:
    try:
        return ray.get(submit([job], RETRIES_PER_FILE))[0]
    except ray.exceptions.RayTaskError as e:
        raise e.as_instanceof_cause() from None
    except ray.exceptions.RayError as e:
        return ProcessedDocument(str(job[0]), "failed", f"the Ray worker processing it died ({type(e).__name__})")


def _embedders(ray, config: Config, gpus: int) -> list:
    """The embedding actors: one per GPU of the cluster, else one on a CPU."""
    actor = ray.remote(max_restarts=1, max_task_retries=1)(_Embedder)
    if gpus:
        return [actor.options(num_gpus=1, num_cpus=0).remote(config) for _ in range(gpus)]
    return [actor.options(num_cpus=1).remote(config)]
