"""The processes of one session, read from /proc: how `cmpctl down` finds all of a local Ray head.

`cmpctl up` starts ``ray start --head --block`` as the leader of a new session. Ray puts each
worker process in a process group of its own (measured with Ray 2.60: ``ray::StoreActor``'s
pgid is its own pid), so signalling the head's process group leaves every actor running,
reparented to init. They all stay in the head's session, though (only ``setsid`` leaves one,
and Ray does not call it), and Linux keeps a session id allocated while any member lives, so
"session id == the head's pid" names exactly the head's processes and nothing of anyone else.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

PROC = Path("/proc")


def live_session_members(sid: int) -> list[int]:
    """Pids of this user's running processes in session ``sid`` (zombies are not running:
    the `cmpctl up` that started the head has exited, and a container's init may never reap)."""
    if sid <= 0 or not PROC.is_dir():
        return []
    uid = os.getuid()
    members = []
    for stat in PROC.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (comm)": state ppid pgrp session
            owner = stat.parent.stat().st_uid
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[3]) == sid and fields[0] not in ("Z", "X") and owner == uid:
            members.append(int(stat.parent.name))
    return sorted(members)


def signal_session(sid: int, sig: int) -> list[int]:
    """Send ``sig`` to every live member of session ``sid``; the pids signalled."""
    sent = []
    for pid in live_session_members(sid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
            sent.append(pid)
    return sent


def end_session(sid: int, grace: float, *, poll: float = 0.2, kill_wait: float = 5.0) -> list[int]:
    """SIGTERM every process of the session, SIGKILL what is left after ``grace`` seconds, and
    wait (at most ``kill_wait`` more) until none runs. Returns the pids that had to be killed."""
    if not signal_session(sid, signal.SIGTERM):
        return []
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not live_session_members(sid):
            return []
        time.sleep(poll)
    killed = signal_session(sid, signal.SIGKILL)
    deadline = time.monotonic() + kill_wait
    while live_session_members(sid) and time.monotonic() < deadline:
        time.sleep(poll)
    return killed


__all__ = ["end_session", "live_session_members", "signal_session"]
