"""Spans of a run in the OpenTelemetry GenAI conventions, or nothing at all.

The agent layer says what happens (`span`, `event`); whether anything is recorded is decided
by the `Tracing` a run installs (a context variable, so every task and thread the run starts
sees it, and an employee's model call nests under the `ask_agent` that caused it). With none
installed nothing is recorded and nothing of the OpenTelemetry SDK is imported: `Tracing` is
the only place that imports it, when it is made.

A workspace's `Tracing` keeps each trace's finished spans in memory (for `hashiru run --trace`
and the app's waterfall) and, when the standard `OTEL_EXPORTER_OTLP_ENDPOINT` (or
`..._TRACES_ENDPOINT`) is set, exports them over OTLP/HTTP to Jaeger, Tempo, Phoenix, Langfuse
or any other collector; the exporter reads the other standard variables (headers, timeout).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.trace import Span as OtelSpan

KEPT_TRACES = 256  # traces kept in memory for --trace and the app; the oldest go first
MAX_ATTRIBUTE_CHARS = 100_000  # a traced prompt or answer longer than this is cut

# GenAI semantic conventions' provider names, where ours differ
PROVIDER_NAMES = {"gemini": "gcp.gemini", "anthropic": "anthropic", "openai": "openai"}


class Span(Protocol):
    """What code in a span may add to it once it knows more (usage, cost, an outcome)."""

    def set(self, **attributes: object) -> None: ...


class _NoSpan:
    def set(self, **attributes: object) -> None:
        pass


_NO_SPAN = _NoSpan()
_current: ContextVar[Tracing | None] = ContextVar("hashiru_tracing", default=None)


@contextmanager
def span(name: str, **attributes: object) -> Iterator[Span]:
    """A span around the block, a child of the current one; nothing when tracing is off.

    Attribute names use dots (`gen_ai.request.model`): pass them as `**{"gen_ai...": v}`."""
    tracing = _current.get()
    if tracing is None:
        yield _NO_SPAN
        return
    with tracing.span(name, attributes) as opened:
        yield opened


def event(name: str, **attributes: object) -> None:
    """Something that happened in the current span (a hire, a fire, a compaction, a refusal)."""
    if (tracing := _current.get()) is not None:
        tracing.event(name, attributes)


def annotate(**attributes: object) -> None:
    """Add to the current span what is known only now (a run's model, its totals)."""
    if (tracing := _current.get()) is not None:
        tracing.annotate(attributes)


def content_traced() -> bool:
    """Whether prompts, answers and tool arguments may go into spans (`trace_content`)."""
    tracing = _current.get()
    return tracing is not None and tracing.content


def provider_name(provider: str) -> str:
    """`gen_ai.provider.name` for one of our backends (an endpoint keeps its own name)."""
    return PROVIDER_NAMES.get(provider, provider)


def as_text(value: Any) -> str:
    """A prompt, answer or tool value as a span attribute: JSON, cut at MAX_ATTRIBUTE_CHARS."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:MAX_ATTRIBUTE_CHARS]


class Tracing:
    """One workspace's tracer provider: spans kept per trace in memory, and exported over
    OTLP/HTTP when `export` (the standard OTEL_EXPORTER_OTLP_* variables say where)."""

    def __init__(self, content: bool, export: bool, version: str) -> None:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

        self.content = content
        self.provider = TracerProvider(
            resource=Resource({"service.name": "hashiru", "service.version": version}),
            shutdown_on_exit=False,
        )
        self.kept = _KeptSpans()
        self.provider.add_span_processor(SimpleSpanProcessor(self.kept))
        if export:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        self._tracer = self.provider.get_tracer("hashiru", version)

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Trace what runs in this context (and the tasks and threads it starts)."""
        token = _current.set(self)
        try:
            yield
        finally:
            _current.reset(token)

    @contextmanager
    def span(self, name: str, attributes: Mapping[str, object]) -> Iterator[Span]:
        with self._tracer.start_as_current_span(name, attributes=_values(attributes)) as opened:
            yield _OtelSpan(opened)

    def event(self, name: str, attributes: Mapping[str, object]) -> None:
        from opentelemetry import trace

        trace.get_current_span().add_event(name, _values(attributes))

    def annotate(self, attributes: Mapping[str, object]) -> None:
        from opentelemetry import trace

        trace.get_current_span().set_attributes(_values(attributes))

    def spans(self, trace_id: str) -> list[dict[str, Any]]:
        """The finished spans of one trace (its 32-hex-digit id), oldest first, as the SDK
        writes them in JSON."""
        return [json.loads(s.to_json(indent=None)) for s in self.kept.trace(trace_id)]

    def flush(self) -> None:
        """Send what is waiting to the exporter (before a process exits)."""
        self.provider.force_flush()

    def shutdown(self) -> None:
        self.provider.shutdown()


def current_trace_id() -> str | None:
    """The id of the trace the current span belongs to; None when tracing is off."""
    if _current.get() is None:
        return None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None


class _OtelSpan:
    def __init__(self, span: OtelSpan) -> None:
        self._span = span

    def set(self, **attributes: object) -> None:
        self._span.set_attributes(_values(attributes))


def _values(attributes: Mapping[str, object]) -> dict[str, Any]:
    """Attributes as OpenTelemetry takes them: str, bool, int, float or lists of one of them;
    None is left out and anything else (Decimal dollars) becomes a float or text."""
    values: dict[str, Any] = {}
    for key, value in attributes.items():
        if value is None:
            continue
        if isinstance(value, str | bool | int | float):
            values[key] = value
        elif isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
            values[key] = list(value)
        else:
            try:
                values[key] = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                values[key] = str(value)
    return values


class _KeptSpans:
    """A span exporter that keeps the latest KEPT_TRACES traces' spans, by trace id."""

    def __init__(self) -> None:
        self._traces: OrderedDict[str, list[ReadableSpan]] = OrderedDict()
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        with self._lock:
            for finished in spans:
                trace_id = f"{finished.context.trace_id:032x}"
                self._traces.setdefault(trace_id, []).append(finished)
                self._traces.move_to_end(trace_id)
            while len(self._traces) > KEPT_TRACES:
                self._traces.popitem(last=False)
        return SpanExportResult.SUCCESS

    def trace(self, trace_id: str) -> list[ReadableSpan]:
        with self._lock:
            return sorted(self._traces.get(trace_id, []), key=lambda s: s.start_time or 0)

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True
