"""Superset's action log, written by one thread per process, a batch a second.

Superset writes each event to its `logs` table from the request that logged it, with a commit.
With SQLite as the metadata database there is one writer at a time for every process, and a
waiting writer sleeps: under a dozen readers, charts waited longer for their log row than for
their data. Here a request puts its row in a queue and goes on; a thread of the process
inserts what has arrived, once a second, in one transaction.

The action log is Superset's record for its own screens (the Action Log, recent activity).
What people saw and exported is also in Rempart's audit trail, written before the answer
leaves (request_events.py): a process killed outright loses at most a second of action-log
rows, never an audit event. A process that ends normally writes what it holds first.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from datetime import datetime
from typing import Any

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0
BATCH_ROWS = 500


class ActionLogWriter:
    def __init__(self, engine: Any, table: Any) -> None:
        self.engine = engine
        self.table = table
        self._rows: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._pid: int | None = None
        self._lock = threading.Lock()

    def add(self, row: dict[str, Any]) -> None:
        """Queue one row of the `logs` table (its time is now, not when it is written)."""
        self._start_once()
        self._rows.put({**row, "dttm": datetime.utcnow()})  # Superset's own column default

    def _start_once(self) -> None:
        """A thread in each process: gunicorn forks its workers after this object exists."""
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid != os.getpid():
                self._rows = queue.SimpleQueue()  # what the parent queued is the parent's
                threading.Thread(target=self._write_forever, name="action-log", daemon=True).start()
                atexit.register(self.flush)
                self._pid = os.getpid()

    def _write_forever(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            self.flush()

    def flush(self) -> int:
        """Write what is queued, in batches of BATCH_ROWS; returns how many rows."""
        written = 0
        while True:
            batch = []
            while len(batch) < BATCH_ROWS:
                try:
                    batch.append(self._rows.get_nowait())
                except queue.Empty:
                    break
            if not batch:
                return written
            try:
                with self.engine.begin() as conn:
                    conn.execute(self.table.insert(), batch)
                written += len(batch)
            except Exception:
                logger.exception("%d rows of Superset's action log not written", len(batch))
