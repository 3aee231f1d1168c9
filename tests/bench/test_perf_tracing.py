"""The tracing figures of `python -m bench.perf` still measure what they say (a short run):
off keeps no spans and loads no SDK, on keeps the run's tree, exporting sends every kept span
to the benchmark's own collector on 127.0.0.1, and the table shows every mode."""

from __future__ import annotations

import asyncio
import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from rich.console import Console

from bench.perf.__main__ import (
    ENDPOINT,
    EXPORT,
    MEMORY,
    MODES,
    OFF,
    TRACES_ENDPOINT,
    Collector,
    TracingFigures,
    company,
    main,
    measure_tracing,
    traced_run,
    tracing_table,
)

STEPS, REPEATS = 6, 2
DEAD = "http://127.0.0.1:9"  # nothing listens: a span sent here is lost, not collected


@pytest.fixture(scope="module")
def figures() -> TracingFigures:
    return asyncio.run(measure_tracing(STEPS, REPEATS, MODES))


def exported_spans(bodies: list[bytes]) -> list[str]:
    """The names of the spans in the collector's requests, read as OTLP protobuf."""
    names = []
    for body in bodies:
        request = ExportTraceServiceRequest.FromString(body)
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                names += [span.name for span in scope.spans]
    return names


def test_tracing_off_keeps_no_spans_and_loads_no_sdk(figures: TracingFigures) -> None:
    off = figures.modes[OFF]
    assert off.spans == 0 and off.flush_seconds == []
    assert figures.sdk_when_off is not None
    assert figures.sdk_when_off.without_memory is False


def test_tracing_on_keeps_the_runs_tree_three_spans_a_step(figures: TracingFigures) -> None:
    # a root, then each step's span and model call, and the tool of every step but the last
    for mode in (MEMORY, EXPORT):
        assert figures.modes[mode].spans == REPEATS * (1 + STEPS + STEPS + STEPS - 1)
        assert len(figures.modes[mode].flush_seconds) == REPEATS


def test_every_step_after_the_first_is_timed(figures: TracingFigures) -> None:
    for mode in figures.modes.values():
        assert len(mode.step_seconds) == REPEATS * (STEPS - 1)
        assert all(seconds > 0 for seconds in mode.step_seconds)
        assert 0 < mode.p50() <= mode.p95()


def test_every_span_kept_is_exported_to_the_collector(figures: TracingFigures) -> None:
    names = exported_spans(figures.exported)
    assert len(names) == figures.modes[EXPORT].spans
    assert names.count("invoke_agent ceo") == REPEATS
    assert names.count("execute_tool list_agents") == REPEATS * (STEPS - 1)


def test_the_table_shows_every_mode_whole_at_80_columns(figures: TracingFigures) -> None:
    console = Console(width=80, record=True)
    console.print(tracing_table(figures))
    text = console.export_text()
    assert "…" not in text
    for figure in (
        "on, in memory",
        "exporting",
        "3.00",
        "loaded with tracing off: no;",
    ):
        assert figure in text
    assert f"127.0.0.1: {len(figures.exported)} requests" in text


def test_an_exporter_in_the_environment_leaves_off_and_memory_unexported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENDPOINT, DEAD)
    assert company(tmp_path / "plain", {}).tracing is None  # the loop figure's workspace
    off = asyncio.run(traced_run(tmp_path / "off", 3, OFF, None))
    assert off.spans == 0 and off.flush_seconds is None
    memory = asyncio.run(traced_run(tmp_path / "memory", 3, MEMORY, None))
    assert memory.spans == 9


def test_exporting_goes_to_the_collector_and_restores_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TRACES_ENDPOINT, f"{DEAD}/v1/traces")  # would win over ENDPOINT
    monkeypatch.delenv(ENDPOINT, raising=False)
    with Collector() as collector:
        run = asyncio.run(traced_run(tmp_path, 3, EXPORT, collector))
    assert len(exported_spans(collector.bodies)) == run.spans == 9
    assert os.environ[TRACES_ENDPOINT] == f"{DEAD}/v1/traces"
    assert ENDPOINT not in os.environ


def test_the_collector_takes_only_v1_traces() -> None:
    with Collector() as collector:
        request = urllib.request.Request(f"{collector.url}/v1/metrics", b"x", method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 404
        request = urllib.request.Request(f"{collector.url}/v1/traces", b"x", method="POST")
        with urllib.request.urlopen(request, timeout=5) as answered:
            assert answered.status == 200
    assert collector.bodies == [b"x"]


def test_percentiles_need_three_steps(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--steps", "2"])
    assert "--steps must be at least 3" in capsys.readouterr().err


@pytest.mark.slow  # the loop's other figures load Chroma and the embedded tokenizer
def test_the_benchmark_prints_both_tables(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--steps", "3", "--tracing", MEMORY])
    text = capsys.readouterr().out
    assert "loop overhead per step" in text and "speed-up from parallel asks" in text
    assert "Overhead per step with tracing" in text and "on, in memory" in text
    assert "│ off" not in text and "loaded with tracing off" not in text
    assert "OTLP/HTTP" not in text and "127.0.0.1" not in text
