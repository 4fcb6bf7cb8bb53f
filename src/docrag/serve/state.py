"""What the server keeps besides the indexes, in one SQLite file under its root: API keys (hashed), ingest jobs
and each job's files. Jobs are written before they run, so a killed server finds the unfinished ones at its next
start and runs them again (ingest is incremental: what was committed is not parsed twice)."""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from docrag.errors import ConfigError

SCHEMA = """
CREATE TABLE IF NOT EXISTS keys(
    name TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    admin INTEGER NOT NULL,
    scopes TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs(
    id TEXT PRIMARY KEY,
    kb TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    stage TEXT NOT NULL DEFAULT '',
    done INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS jobs_kb ON jobs(kb, created);
CREATE TABLE IF NOT EXISTS job_files(
    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    chunks INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY(job_id, name)
);
"""
KEY_PREFIX = "drk_"
RIGHTS = ("read", "write")
UNFINISHED = ("queued", "running")


@dataclass
class ApiKey:
    name: str
    admin: bool
    scopes: dict[str, str]  # knowledge base (or "*") -> "read" | "write"
    created: float

    def may(self, kb: str, right: str) -> bool:
        """Whether this key may ``right`` (read or write) the knowledge base ``kb``; write implies read."""
        if self.admin:
            return True
        granted = self.scopes.get(kb) or self.scopes.get("*")
        return granted is not None and RIGHTS.index(granted) >= RIGHTS.index(right)


@dataclass
class JobFile:
    name: str
    state: str = "queued"  # queued | added | updated | unchanged | failed | removed | skipped
    reason: str = ""
    chunks: int = 0


@dataclass
class Job:
    id: str
    kb: str
    kind: str  # ingest | delete
    state: str  # queued | running | done | failed
    created: float
    started: float | None = None
    finished: float | None = None
    stage: str = ""  # parse | bm25 | embed: what the running job is doing
    done: int = 0
    total: int = 0
    error: str = ""
    files: list[JobFile] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


_JOB_COLUMNS = ("id", "kb", "kind", "state", "created", "started", "finished", "stage", "done", "total", "error")


def hash_key(key: str) -> str:
    # keys are 256-bit random tokens, not passwords: a plain digest cannot be brute-forced, and lookups stay O(1)
    return hashlib.sha256(key.encode()).hexdigest()


class ServerState:
    def __init__(self, path: Path):
        self.path = path
        self._local = threading.local()
        with self._db() as db:
            db.executescript(SCHEMA)

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            # as the index's store: a crash of the process loses nothing committed, only a power cut might lose
            # the last updates, and a sync per job update (one per file) would cost ~5 ms each
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            self._local.db = db
        return db

    # --- keys -------------------------------------------------------------------------------------
    def create_key(self, name: str, admin: bool = False, scopes: dict[str, str] | None = None) -> str:
        """A new key (returned once, stored only as its hash)."""
        scopes = scopes or {}
        bad = {kb: right for kb, right in scopes.items() if right not in RIGHTS}
        if bad:
            raise ConfigError(f"key {name!r}: rights must be one of {', '.join(RIGHTS)}, got {bad}")
        if not name or not admin and not scopes:
            raise ConfigError("a key needs a name, and knowledge bases to read or write unless it is an admin key")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        try:
            self._db().execute("INSERT INTO keys(name, hash, admin, scopes, created) VALUES(?,?,?,?,?)",
                               (name, hash_key(key), int(admin), json.dumps(scopes), time.time()))
        except sqlite3.IntegrityError:
            raise ConfigError(f"a key named {name!r} exists already") from None
        return key

    def keys(self) -> list[ApiKey]:
        rows = self._db().execute("SELECT name, admin, scopes, created FROM keys ORDER BY created")
        return [ApiKey(name, bool(admin), json.loads(scopes), created) for name, admin, scopes, created in rows]

    def has_keys(self) -> bool:
        return self._db().execute("SELECT 1 FROM keys LIMIT 1").fetchone() is not None

    def key_for(self, key: str) -> ApiKey | None:
        row = self._db().execute("SELECT name, admin, scopes, created FROM keys WHERE hash=?",
                                 (hash_key(key),)).fetchone()
        return ApiKey(row[0], bool(row[1]), json.loads(row[2]), row[3]) if row else None

    def revoke_key(self, name: str) -> bool:
        return self._db().execute("DELETE FROM keys WHERE name=?", (name,)).rowcount > 0

    # --- jobs -------------------------------------------------------------------------------------
    def create_job(self, kb: str, kind: str, names: list[str], refused: dict[str, str] | None = None) -> Job:
        """A queued job for ``names``; ``refused`` files (name -> reason) are listed as failed from the start."""
        refused = refused or {}
        job = Job(id=uuid.uuid4().hex[:16], kb=kb, kind=kind, state="queued", created=time.time(),
                  files=[JobFile(n) for n in names] + [JobFile(n, "failed", why) for n, why in refused.items()])
        db = self._db()
        with db:
            db.execute("BEGIN")
            db.execute("INSERT INTO jobs(id, kb, kind, state, created) VALUES(?,?,?,?,?)",
                       (job.id, kb, kind, job.state, job.created))
            db.executemany("INSERT INTO job_files(job_id, name, state, reason) VALUES(?,?,?,?)",
                           [(job.id, f.name, f.state, f.reason) for f in job.files])
        return job

    def job(self, job_id: str) -> Job | None:
        db = self._db()
        row = db.execute(f"SELECT {', '.join(_JOB_COLUMNS)} FROM jobs WHERE id=?", (job_id,)).fetchone()
        if row is None:
            return None
        files = [JobFile(*r) for r in db.execute(
            "SELECT name, state, reason, chunks FROM job_files WHERE job_id=? ORDER BY rowid", (job_id,))]
        return Job(**dict(zip(_JOB_COLUMNS, row)), files=files)

    def jobs(self, kb: str | None = None, states: tuple[str, ...] = ()) -> list[Job]:
        q, args = "SELECT id FROM jobs WHERE 1", []
        if kb is not None:
            q += " AND kb=?"
            args.append(kb)
        if states:
            q += " AND state IN (%s)" % ",".join("?" * len(states))
            args += list(states)
        ids = [r[0] for r in self._db().execute(q + " ORDER BY created", args)]
        return [j for j in map(self.job, ids) if j is not None]

    def update_job(self, job_id: str, **fields) -> None:
        sets = ", ".join(f"{name}=?" for name in fields)
        self._db().execute(f"UPDATE jobs SET {sets} WHERE id=?", (*fields.values(), job_id))

    def update_file(self, job_id: str, result: JobFile) -> None:
        self._db().execute("UPDATE job_files SET state=?, reason=?, chunks=? WHERE job_id=? AND name=?",
                           (result.state, result.reason, result.chunks, job_id, result.name))

    def file_states(self, kb: str) -> dict[str, JobFile]:
        """Each file's state in the newest job that named it."""
        rows = self._db().execute(
            "SELECT f.name, f.state, f.reason, f.chunks FROM job_files f JOIN jobs j ON j.id = f.job_id"
            " WHERE j.kb=? ORDER BY j.created", (kb,))
        return {r[0]: JobFile(*r) for r in rows}

    def forget_kb(self, kb: str) -> None:
        self._db().execute("DELETE FROM jobs WHERE kb=?", (kb,))
