"""The default span exporter: one JSON line per finished span under ``<home>/traces/``.

Every process (CLI, Store, coordinator, Ray workers) appends to a file of its own
(``spans-<date>-<pid>.jsonl``), so processes never interleave partial lines; readers glob them.
A process starting a day's file deletes the files of every process older than
``retention_days`` (a nightly engine would otherwise fill the disk with traces).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator, Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import format_span_id, format_trace_id


def _iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).isoformat(timespec="microseconds")


def span_record(span: ReadableSpan) -> dict[str, Any]:
    ctx = span.context
    parent = span.parent
    start, end = span.start_time, span.end_time
    return {
        "trace_id": format_trace_id(ctx.trace_id),
        "span_id": format_span_id(ctx.span_id),
        "parent_id": format_span_id(parent.span_id) if parent is not None else None,
        "name": span.name,
        "start": _iso(start),
        "end": _iso(end),
        "duration_ms": round((end - start) / 1e6, 3) if start is not None and end is not None else None,
        "attributes": dict(span.attributes or {}),
        "status": span.status.status_code.name,
        "status_message": span.status.description,
        "links": [format_trace_id(link.context.trace_id) + "-" + format_span_id(link.context.span_id)
                  for link in span.links],
        "service": (span.resource.attributes.get("service.name") if span.resource else None),
        "pid": os.getpid(),
    }


_SPAN_FILE = re.compile(r"^spans-(\d{4}-\d{2}-\d{2})-\d+\.jsonl$")


def prune(directory: Path, retention_days: int, today: date) -> list[Path]:
    """Delete the span files dated more than ``retention_days`` before ``today``; return them."""
    if retention_days <= 0 or not directory.is_dir():
        return []
    oldest = today - timedelta(days=retention_days)
    gone = []
    for path in directory.iterdir():
        m = _SPAN_FILE.match(path.name)
        if m and date.fromisoformat(m.group(1)) < oldest:
            try:
                path.unlink()
            except OSError:  # another process pruned it first, or it is not ours to delete
                continue
            gone.append(path)
    return gone


class JsonLinesSpanExporter(SpanExporter):
    def __init__(self, directory: Path | str, *, retention_days: int = 14):
        self.directory = Path(directory)
        self.retention_days = retention_days
        self._lock = threading.Lock()
        self._fh = None
        self._day = -1

    def _file(self):
        day = int(time.time() // 86400)  # a new file each UTC day
        if self._fh is None or day != self._day:
            if self._fh is not None:
                self._fh.close()
            self.directory.mkdir(parents=True, exist_ok=True)
            now = datetime.now(timezone.utc)
            prune(self.directory, self.retention_days, now.date())
            name = f"spans-{now:%Y-%m-%d}-{os.getpid()}.jsonl"
            self._fh = open(self.directory / name, "a", encoding="utf-8")
            self._day = day
        return self._fh

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(json.dumps(span_record(s), default=str) + "\n" for s in spans)
        try:
            with self._lock:
                fh = self._file()
                fh.write(lines)
                fh.flush()  # a killed actor loses nothing it already ended
        except OSError:
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def read_spans(directory: Path | str, trace_id: str) -> list[dict[str, Any]]:
    """Every span of ``trace_id`` found in the JSON-lines files of ``directory``, by start time."""
    spans = [s for s in _records(Path(directory), trace_id)]
    spans.sort(key=lambda s: (s.get("start") or "", s.get("name") or ""))
    return spans


def _records(directory: Path, trace_id: str) -> Iterator[dict[str, Any]]:
    if not directory.is_dir():
        return
    needle = f'"trace_id": "{trace_id}"'
    for path in sorted(directory.glob("*.jsonl")):
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if needle in line:  # cheap filter before parsing
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError:
                        continue  # a line cut short by a killed process


__all__ = ["JsonLinesSpanExporter", "prune", "read_spans", "span_record"]
