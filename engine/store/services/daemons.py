"""The Store's daemon rows: each background actor's state and last poll (`cmpctl daemons list`)."""

from __future__ import annotations

import time
from typing import Any

from engine.store.services.base import StoreBase

#: A poll-only heartbeat is written at most this often per daemon: each write is a DuckDB
#: transaction (~7 ms of the Store's CPU), and eight daemons beating every second were 15% of
#: the Store's work in the demo's network phase. `cmpctl status` shows polls to within this.
HEARTBEAT_WRITE_SECONDS = 5.0


class DaemonService(StoreBase):
    #: daemon name -> (state last written, when a poll was last written): see daemon_heartbeat
    _beats: dict[str, tuple[str | None, float]]

    def _init_daemons(self) -> None:
        self._beats = {}

    def daemon_heartbeat(self, *, name: str, daemon_type: str, category: str, activity: str,
                         state: str, polled: bool = False, last_error: str | None = None) -> None:
        """Record a daemon's state (and a poll); the row is what `cmpctl status` shows.

        A heartbeat that only says "still polling" (the state last written, no error) is
        written at most every :data:`HEARTBEAT_WRITE_SECONDS` per daemon; anything else at once.
        """
        now = time.monotonic()
        written_state, poll_written_at = self._beats.get(name, (None, float("-inf")))
        if polled and last_error is None and state == written_state \
                and now - poll_written_at < HEARTBEAT_WRITE_SECONDS:
            return
        with self.cursor() as cur:
            cur.execute(
                """
                INSERT INTO daemons (name, daemon_type, category, activity, state, last_poll_at, last_error, updated_at)
                VALUES ($1, $2, $3, $4, $5, CASE WHEN $6 THEN now() END, $7, now())
                ON CONFLICT (name) DO UPDATE SET
                    state = excluded.state,
                    last_poll_at = CASE WHEN $6 THEN now() ELSE daemons.last_poll_at END,
                    last_error = coalesce(excluded.last_error, daemons.last_error),
                    updated_at = now()
                """,
                [name, daemon_type, category, activity, state, polled, last_error],
            )
        self._beats[name] = (state, now if polled else poll_written_at)

    def list_daemons(self) -> list[dict[str, Any]]:
        """Every daemon's row: type, category, activity, state, last poll, last error."""
        with self.cursor() as cur:
            cur.execute("SELECT name, daemon_type, category, activity, state, last_poll_at, last_error "
                        "FROM daemons ORDER BY name")
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, r)) for r in cur.fetchall()]


__all__ = ["HEARTBEAT_WRITE_SECONDS", "DaemonService"]
