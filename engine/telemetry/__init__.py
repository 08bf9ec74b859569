"""OpenTelemetry tracing for the engine: set-up from config, spans, explicit W3C propagation.

Each process calls :func:`configure` once with the home's :class:`Settings` (the CLI, the
Store, the coordinator, each Ray worker running a shard). Ray actor calls and tasks do not
carry the trace context, so callers pass it explicitly as a W3C ``traceparent`` string:
``tp = inject()`` on one side, ``with span("…", parent=tp):`` on the other.

With the exporter ``none`` (or before :func:`configure`) :func:`span` returns one shared no-op
context manager and :func:`inject` returns None: an instrumented site then costs a function
call. The engine uses its own TracerProvider rather than OpenTelemetry's global one, which can
be set only once per process (tests switch homes; a CLI call never needs to).
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from opentelemetry import context as otel_context
from opentelemetry.trace import INVALID_SPAN, Link, Span, format_trace_id, get_current_span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from engine.errors import ConfigError

_PROPAGATOR = TraceContextTextMapPropagator()
EXPORTERS = ("file", "otlp", "console", "none")
OTLP_PROTOCOLS = ("http/protobuf", "grpc")


@dataclass(frozen=True)
class Settings:
    """What a process needs to export spans (picklable: it travels to actors and tasks)."""

    exporter: str = "none"
    traces_dir: str = ""
    otlp_endpoint: str = ""
    otlp_protocol: str = "http/protobuf"
    service_name: str = "cmp-provisioning"
    retention_days: int = 14

    @classmethod
    def from_config(cls, config) -> "Settings":
        t = config.telemetry
        return cls(t.exporter, str(config.traces_dir), t.otlp_endpoint, t.otlp_protocol, t.service_name,
                   t.retention_days)


class _NoSpan:
    """The shared no-op ``with`` target when tracing is off: yields the invalid span."""

    __slots__ = ()

    def __enter__(self) -> Span:
        return INVALID_SPAN

    def __exit__(self, *exc: object) -> bool:
        return False


_NO_SPAN = _NoSpan()
_lock = threading.Lock()
_settings: Settings | None = None
_provider = None
_tracer = None


def configure(settings: Settings, *, component: str | None = None) -> bool:
    """Set this process's exporter from ``settings`` (idempotent); True if spans are recorded."""
    global _settings, _provider, _tracer
    with _lock:
        if settings == _settings:
            return _tracer is not None
        _shutdown_locked()
        _settings = settings
        if settings.exporter == "none":
            return False
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider

        attrs: dict[str, Any] = {"service.name": settings.service_name}
        if component:
            attrs["cmp.component"] = component
        provider = TracerProvider(resource=Resource.create(attrs))
        provider.add_span_processor(_processor(settings))
        _provider, _tracer = provider, provider.get_tracer("cmp.engine")
        return True


def _processor(settings: Settings):
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor

    if settings.exporter == "file":
        from engine.telemetry.jsonl import JsonLinesSpanExporter

        if not settings.traces_dir:
            raise ConfigError("telemetry.exporter = file needs the home's traces/ folder")
        # Synchronous: a line per span as it ends, so a killed actor loses nothing it ended.
        return SimpleSpanProcessor(JsonLinesSpanExporter(settings.traces_dir, retention_days=settings.retention_days))
    if settings.exporter == "console":
        return SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stderr))  # stdout is for --json
    if settings.exporter == "otlp":
        return BatchSpanProcessor(otlp_exporter(settings), schedule_delay_millis=1000)
    raise ConfigError(f"telemetry.exporter must be one of {', '.join(EXPORTERS)}, got {settings.exporter!r}")


def otlp_exporter(settings: Settings):
    """OTLP over HTTP (protobuf body, POST …/v1/traces) or gRPC (insecure: a local collector)."""
    endpoint = settings.otlp_endpoint
    if settings.otlp_protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        target = endpoint.removeprefix("http://").removeprefix("grpc://") or "127.0.0.1:4317"
        return GrpcExporter(endpoint=target, insecure=True)
    if settings.otlp_protocol != "http/protobuf":
        raise ConfigError(f"telemetry.otlp_protocol must be http/protobuf or grpc, got {settings.otlp_protocol!r}")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    endpoint = (endpoint or "http://127.0.0.1:4318").rstrip("/")
    if not endpoint.endswith("/v1/traces"):
        endpoint += "/v1/traces"  # a collector's base URL, as OTEL_EXPORTER_OTLP_ENDPOINT takes it
    return HttpExporter(endpoint=endpoint)


def enabled() -> bool:
    return _tracer is not None


def flush(timeout_millis: int = 5000) -> None:
    """Export what is buffered (OTLP batches) now, e.g. before a CLI call returns."""
    provider = _provider
    if provider is not None:
        provider.force_flush(timeout_millis)


def shutdown() -> None:
    """Flush and forget the exporter (tests; a process that exits does this at exit)."""
    global _settings
    with _lock:
        _shutdown_locked()
        _settings = None


def _shutdown_locked() -> None:
    global _provider, _tracer
    if _provider is not None:
        _provider.shutdown()
    _provider = _tracer = None


def span(name: str, *, parent: str | None = None, attributes: Mapping[str, Any] | None = None,
         links: Iterable[str] = ()):
    """``with span("load x.age", parent=traceparent) as s:`` — a span, current in this context.

    ``parent`` is a W3C traceparent from another process (None: the current span, if any, is the
    parent); ``links`` are traceparents of related traces (e.g. the jobs whose requests a claim
    took). An exception leaving the block marks the span ERROR and is recorded on it.
    """
    tracer = _tracer
    if tracer is None:
        return _NO_SPAN
    ctx = extract(parent) if parent else None
    link_list = [Link(c) for c in (_span_context(tp) for tp in links) if c is not None]
    return tracer.start_as_current_span(name, context=ctx, attributes=_clean(attributes), links=link_list)


def set_attributes(s: Span, attributes: Mapping[str, Any]) -> None:
    if s.is_recording():
        s.set_attributes(_clean(attributes) or {})


def inject() -> str | None:
    """The W3C traceparent of the current span, to pass explicitly to an actor, task or HTTP call."""
    if _tracer is None:
        return None
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def extract(traceparent: str | None) -> otel_context.Context:
    """A context whose current span is the remote parent ``traceparent`` (empty if invalid)."""
    return _PROPAGATOR.extract({"traceparent": traceparent} if traceparent else {})


def trace_id_of(s: Span | None = None) -> str | None:
    """The 32-hex trace id of ``s`` (default: the current span), None when nothing is traced."""
    ctx = (s or get_current_span()).get_span_context()
    return format_trace_id(ctx.trace_id) if ctx.is_valid else None


def trace_id_from(traceparent: str | None) -> str | None:
    ctx = _span_context(traceparent)
    return format_trace_id(ctx.trace_id) if ctx is not None else None


def _span_context(traceparent: str | None):
    if not traceparent:
        return None
    ctx = get_current_span(extract(traceparent)).get_span_context()
    return ctx if ctx.is_valid else None


def _clean(attributes: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """OpenTelemetry takes str/bool/int/float (and sequences of them); drop None, stringify the rest."""
    if not attributes:
        return None
    return {k: (v if isinstance(v, (str, bool, int, float)) else str(v)) for k, v in attributes.items()
            if v is not None}


__all__ = ["EXPORTERS", "OTLP_PROTOCOLS", "Settings", "configure", "enabled", "extract", "flush", "inject",
           "otlp_exporter", "set_attributes", "shutdown", "span", "trace_id_from", "trace_id_of"]
