"""Loading one inbound file: open, check, shard, parse in parallel, commit once.

Plain Python: the Ray coordinator actor runs :func:`load_file` with a runner that sends shards
to Ray tasks on any node; tests and the single-process path use :class:`InlineRunner`.
"""

from __future__ import annotations

import concurrent.futures
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol, Sequence

from engine import age, telemetry
from engine.daemons import LOAD, of_kind
from engine.errors import AgeError, FormatError, InputRejected, TransientError
from engine.loading.inbox import sha256_file
from engine.loading.shards import (
    FilePlan,
    ShardResult,
    ShardSpec,
    parse_file_header,
    plan_shards,
    process_shard,
    read_first_line,
)
from engine.store.loads import FileMeta, LoadResult

#: Which interface types each Load daemon takes, and the jobs a committed batch triggers
#: (declared in engine/daemons.py).
DAEMON_TYPES: dict[str, dict[str, tuple[str, ...]]] = {d.config_name: d.triggers for d in of_kind(LOAD)}


class LoadSink(Protocol):
    """The Store side of a load (the Store actor's client, or a Store in-process)."""

    def begin_load(self, meta: FileMeta) -> int: ...
    def add_shard(self, batch_id: int, result: ShardResult) -> bool: ...
    def commit_load(self, batch_id: int, *, shard_count: int, max_error_ratio: float,
                    triggers: tuple[str, ...], trace_id: str | None, sha256: str) -> LoadResult: ...
    def abort_load(self, batch_id: int) -> None: ...


class ShardRunner(Protocol):
    def run(self, plan: FilePlan, specs: Sequence[ShardSpec], batch_id: int,
            on_done: Callable[[ShardResult | int], None]) -> None:
        """Process every shard and deliver it to the Store; call ``on_done`` as each finishes."""


class InlineRunner:
    """Shards one after another in this process (small files, tests without Ray)."""

    def __init__(self, sink: LoadSink):
        self.sink = sink

    def run(self, plan, specs, batch_id, on_done) -> None:
        for spec in specs:
            on_done(traced_shard(plan, spec, batch_id, self.sink))


def traced_shard(plan: FilePlan, spec: ShardSpec, batch_id: int, sink: LoadSink,
                 traceparent: str | None = None) -> ShardResult:
    """Process one shard and hand it to the Store, under a span ("shard N" → "store add_shard").

    ``traceparent``: the load's span when the shard runs in another process (a Ray task).
    """
    with telemetry.span(f"shard {spec.shard_no}", parent=traceparent,
                        attributes={"cmp.batch_id": batch_id, "cmp.shard": spec.shard_no}) as s:
        result = process_shard(plan, spec)
        telemetry.set_attributes(s, {"cmp.lines": result.lines, "cmp.valid": result.valid.num_rows,
                                     "cmp.invalid": result.invalid.num_rows})
        with telemetry.span("store add_shard", attributes={"cmp.batch_id": batch_id, "cmp.shard": spec.shard_no}):
            sink.add_shard(batch_id, result)
        return result


@dataclass(frozen=True)
class LoadSettings:
    daemon: str
    shard_bytes: int
    max_error_ratio: float
    max_line_bytes: int
    work_dir: Path  # for de-armoring ASCII-armored files


def load_file(
    path: Path,
    *,
    settings: LoadSettings,
    identities: Sequence["age.Identity"],
    sink: LoadSink,
    runner: ShardRunner,
    trace_id: str | None = None,
    traceparent: str | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> LoadResult:
    """Load ``path`` as one batch, exactly once, or raise an :class:`InputRejected` naming why.

    Nothing is committed unless every shard arrived and the whole-file checks passed. The load
    is one trace (root span "load <file>", child of ``traceparent`` when given); its trace id
    is stored on the batch.
    """
    with telemetry.span(f"load {path.name}", parent=traceparent,
                        attributes={"cmp.daemon": settings.daemon, "cmp.file": path.name}) as root:
        result = _load_file(path, settings=settings, identities=identities, sink=sink, runner=runner,
                            trace_id=telemetry.trace_id_of(root) or trace_id, on_progress=on_progress)
        telemetry.set_attributes(root, {"cmp.batch_id": result.batch_id, "cmp.records": result.records,
                                        "cmp.valid": result.valid, "cmp.errors": result.errors})
        return result


def _load_file(path: Path, *, settings: LoadSettings, identities: Sequence["age.Identity"], sink: LoadSink,
               runner: ShardRunner, trace_id: str | None, on_progress: Callable[[int], None] | None) -> LoadResult:
    accepted = DAEMON_TYPES[settings.daemon]
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        # The ciphertext hash runs beside the decryption: it is needed only at commit.
        sha_future = pool.submit(sha256_file, path)
        binary, cleanup = _binary_age_file(path, settings.work_dir)
        try:
            plan, header = _open(binary, identities, settings, display=path.name)
            if header.interface_type not in accepted:
                raise FormatError(
                    f"interfaceType {header.interface_type!r} does not belong to this daemon "
                    f"({settings.daemon} takes {', '.join(accepted)})",
                    file=path.name, line=1, field="interfaceType",
                    hint="drop the file into the inbound folder of the daemon for its type",
                )
            meta = FileMeta(
                sha256="",  # still being computed; the Store checks it at commit
                name=path.name,
                size_bytes=path.stat().st_size,
                daemon=settings.daemon,
                interface_type=header.interface_type,
                identifier=header.identifier,
                record_count=header.record_count,
                category=header.interface_category,
            )
            batch_id = sink.begin_load(meta)
            try:
                specs = plan_shards(plan.chunk_count, settings.shard_bytes)
                done = 0

                def on_done(result) -> None:
                    nonlocal done
                    done += result.plaintext_bytes if isinstance(result, ShardResult) else int(result)
                    if on_progress:
                        on_progress(done)

                runner.run(plan, specs, batch_id, on_done)
                sha256 = sha_future.result()
                with telemetry.span("store commit", attributes={"cmp.batch_id": batch_id, "cmp.shards": len(specs)}):
                    return sink.commit_load(
                        batch_id,
                        shard_count=len(specs),
                        max_error_ratio=settings.max_error_ratio,
                        triggers=accepted[header.interface_type],
                        trace_id=trace_id,
                        sha256=sha256,
                    )
            except BaseException:
                try:
                    sink.abort_load(batch_id)
                except TransientError:  # a Store that cannot answer has dropped the open load with its process
                    pass
                raise
        finally:
            cleanup()


def _open(binary: Path, identities, settings: LoadSettings, *, display: str):
    size = binary.stat().st_size
    with open(binary, "rb") as src:
        try:
            age_header = age.read_header(src, identities)
        except AgeError as exc:
            exc.file = display
            raise
    chunks = age.chunk_count(size, age_header.payload_offset)
    first = read_first_line(binary, age_header, size, chunks, settings.max_line_bytes)
    header = parse_file_header(first, file=display)
    plan = FilePlan(str(binary), size, age_header, chunks, header.interface_type, settings.max_line_bytes)
    return plan, header


def _binary_age_file(path: Path, work_dir: Path):
    """Armored files are de-armored to a temporary binary copy so they can be sharded."""
    with open(path, "rb") as src:
        prefix = src.read(64)
    if prefix.startswith(b"age-encryption.org/"):
        return path, lambda: None
    if age.is_armored(prefix):
        work_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=work_dir)) / path.name
        with open(path, "rb") as src, open(tmp, "wb") as dst:
            age.dearmor(src, dst)
        return tmp, lambda: shutil.rmtree(tmp.parent, ignore_errors=True)
    if not prefix:
        raise AgeError("the file is empty (0 bytes)", file=path.name, hint="ask the sender to re-send it")
    raise AgeError(
        "not an age-encrypted file",
        file=path.name,
        hint="generic files must be encrypted with age to this engine's recipient (see `cmpctl keys recipient`)",
    )


__all__ = ["DAEMON_TYPES", "InlineRunner", "LoadSettings", "LoadSink", "ShardRunner", "load_file", "traced_shard",
           "InputRejected"]
