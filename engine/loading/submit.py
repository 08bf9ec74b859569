"""`cmpctl load`: route a file to its Load daemon's inbound folder and wait for the outcome."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from engine import age
from engine.config import Config
from engine.daemons import load_daemon_for
from engine.errors import DuplicateFile, EngineError, FormatError
from engine.fsutil import atomic_output
from engine.generic.header import FileHeader, parse_header
from engine.loading.inbox import GENERIC_SUFFIX, sha256_file
from engine.telemetry.files import tag_file


@dataclass(frozen=True)
class Submitted:
    daemon: str
    path: Path
    sha256: str
    since: datetime
    record_count: int


def read_header(path: Path, identities, max_bytes: int = 16 * 2**20) -> FileHeader:
    """Decrypt just enough of ``path`` to read its generic header."""
    with open(path, "rb") as src:
        reader = age.open_decrypt(src, identities)
        line = bytearray()
        while b"\n" not in line and len(line) <= max_bytes:
            block = reader.read(65536)
            if not block:
                break
            line += block
    first = bytes(line.split(b"\n", 1)[0])
    if not first.strip():
        raise FormatError("the file is empty: no header line", file=path.name, line=1)
    return parse_header(first, file=path.name)


def daemon_for(interface_type: str, file: str) -> str:
    """The config name of the Load daemon that takes files of ``interface_type``."""
    daemon = load_daemon_for(interface_type)
    if daemon:
        return daemon.config_name
    raise FormatError(f"no Load daemon takes interfaceType {interface_type!r}", file=file, line=1,
                      field="interfaceType")


def submit_file(config: Config, file: Path, committed_file: Callable[[str], tuple[int, str] | None],
                traceparent: str | None = None) -> Submitted:
    """Copy ``file`` into its daemon's inbound folder under a temporary name, then rename.

    ``traceparent`` (the CLI's span) goes with the copy, for the daemon's load to join its trace.

    A file whose very bytes were loaded before is refused here, naming the first load; a
    re-sent identifier in new bytes is refused by the daemon (the Store's ledger decides).
    """
    identities = age.load_identities(config.identity_path)
    header = read_header(file, identities, config.load.max_line_bytes)
    daemon = daemon_for(header.interface_type, file.name)
    sha = sha256_file(file)
    first = committed_file(sha)
    if first:
        raise DuplicateFile(f"duplicate: the same file was loaded before as batch {first[0]} (file {first[1]})",
                            file=file.name, hint="nothing was loaded; send a new identifier if this is new data")
    inbound = config.inbound_dir(daemon)
    inbound.mkdir(parents=True, exist_ok=True)
    name = file.name if file.name.endswith(GENERIC_SUFFIX) else file.name + GENERIC_SUFFIX
    target = inbound / name
    n = 1
    while target.exists():
        target = inbound / f"{Path(name).stem.removesuffix('.jsonl')}-{n}{GENERIC_SUFFIX}"
        n += 1
    since = datetime.now(timezone.utc)
    with open(file, "rb") as src, atomic_output(target) as dst:
        shutil.copyfileobj(src, dst, 8 * 2**20)
        tag_file(dst.fileno(), traceparent)  # before the rename: the daemon never sees it untagged
    return Submitted(daemon, target, sha, since, header.record_count)


def wait_for_outcome(store, submitted: Submitted, *, timeout: float, progress=None) -> dict[str, Any]:
    """Poll the Store until the file is committed or rejected; show progress on a terminal."""
    deadline = time.monotonic() + timeout
    bar = _Progress(progress, submitted) if progress is not None and progress.is_terminal else None
    try:
        while True:
            outcome = store.load_outcome(submitted.sha256, submitted.since)
            if outcome:
                return outcome
            if bar:
                bar.update(store.load_progress())
            if time.monotonic() > deadline:
                raise EngineError(f"no outcome for {submitted.path.name} after {timeout:.0f} s",
                                  hint="`cmpctl batches list` and `cmpctl daemons list` show what the engine is doing")
            time.sleep(0.5)
    finally:
        if bar:
            bar.close()


class _Progress:
    def __init__(self, console, submitted: Submitted):
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._sha = submitted.sha256
        self._progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                  TextColumn("{task.completed:,}/{task.total:,} records"),
                                  TimeElapsedColumn(), console=console, transient=True)
        self._task = self._progress.add_task(f"loading {submitted.path.name}", total=submitted.record_count)
        self._progress.start()

    def update(self, loads: list[dict]) -> None:
        for load in loads:
            if load["sha256"] == self._sha:
                self._progress.update(self._task, completed=load["records"])

    def close(self) -> None:
        self._progress.stop()
