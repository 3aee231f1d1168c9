"""Traces of runs: one tree per run in the OpenTelemetry GenAI conventions, through the SDK's
own in-memory exporter, to an OTLP/HTTP receiver on 127.0.0.1, and no SDK when tracing is off."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from hashiru.cli import main
from hashiru.providers.scripted import Script, ScriptedProvider
from hashiru.runtime import Hashiru
from hashiru.settings import Settings
from tests.agents.conftest import call, hire
from tests.fakes.openai import FakeOpenAI
from tests.fakes.server import FakeTurn

SECRET = "sk-test-never-in-a-span"
CEO_TURNS = [
    {"tool_calls": [hire("local"), hire("cloud", "openai:gpt-4.1-mini")]},
    {
        "tool_calls": [
            call("ask_agent", name="local", prompt="What is 2+2?"),
            call("ask_agent", name="cloud", prompt="What is 3+3?"),
        ],
        "usage": {"input_tokens": 300, "output_tokens": 40},
    },
    {"text": "4 and 6", "usage": {"input_tokens": 500, "output_tokens": 5}},
]


@pytest.fixture
def cloud() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=SECRET) as fake:
        fake.plan("gpt-4.1-mini", FakeTurn(text="6", input_tokens=1000, output_tokens=200))
        yield fake


def workspace(cloud: FakeOpenAI, **settings: object) -> Hashiru:
    scripts = {
        "ceo": Script(CEO_TURNS),
        "local": Script([{"text": "4", "usage": {"input_tokens": 30, "output_tokens": 2}}]),
    }
    config = Settings.load(
        ceo_model="scripted:ceo",
        openai_api_key=SECRET,
        openai_base_url=f"{cloud.url}/v1",
        enable_memory=False,
        tracing=True,
        **settings,
    )
    return Hashiru.from_settings(config, [ScriptedProvider(scripts)])


async def traced_run(hashiru: Hashiru) -> tuple[object, list[ReadableSpan]]:
    assert hashiru.tracing is not None
    exporter = InMemorySpanExporter()
    hashiru.tracing.provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        result = await hashiru.run("Add twice.")
    finally:
        await hashiru.aclose()
    return result, list(exporter.get_finished_spans())


def children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    mine = [s for s in spans if s.parent and s.parent.span_id == parent.context.span_id]
    return sorted(mine, key=lambda s: (s.start_time or 0, s.name))


async def test_a_multi_employee_run_is_one_tree(cloud: FakeOpenAI) -> None:
    hashiru = workspace(cloud)
    result, spans = await traced_run(hashiru)
    assert {f"{s.context.trace_id:032x}" for s in spans} == {result.trace_id}
    [root] = [s for s in spans if s.parent is None]
    assert root.name == "invoke_agent ceo"
    assert root.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert root.attributes["hashiru.run_id"] == result.run_id
    assert root.attributes["gen_ai.usage.input_tokens"] == result.usage.input_tokens
    assert root.attributes["hashiru.cost_usd"] == float(result.cost.expense_usd)

    steps = children(spans, root)
    assert [s.name for s in steps] == ["step 1", "step 2", "step 3"]
    for step in steps:  # each step: the CEO's call first, then its tools
        ceo_call = children(spans, step)[0]
        assert ceo_call.name == "chat ceo" and ceo_call.attributes["hashiru.agent"] == "ceo"
        assert ceo_call.attributes["gen_ai.provider.name"] == "scripted"
    assert children(spans, steps[2])[0].attributes["gen_ai.usage.input_tokens"] == 500

    hires = [s for s in children(spans, steps[0]) if s.name == "execute_tool hire_agent"]
    hired = sorted(e.attributes["hashiru.agent"] for s in hires for e in s.events)
    assert hired == ["cloud", "local"] and {e.name for s in hires for e in s.events} == {
        "hashiru.agent_hired"
    }

    asks = [s for s in children(spans, steps[1]) if s.name == "execute_tool ask_agent"]
    assert len(asks) == 2
    employee_calls = {children(spans, ask)[0].name: children(spans, ask)[0] for ask in asks}
    assert set(employee_calls) == {"chat local", "chat gpt-4.1-mini"}
    local, paid = employee_calls["chat local"], employee_calls["chat gpt-4.1-mini"]
    assert (local.attributes["hashiru.agent"], paid.attributes["hashiru.agent"]) == (
        "local",
        "cloud",
    )
    assert paid.attributes["gen_ai.provider.name"] == "openai"
    assert paid.attributes["gen_ai.usage.input_tokens"] == 1000
    assert paid.attributes["gen_ai.usage.output_tokens"] == 200
    [settled] = [e for e in hashiru.ledger.entries() if e.kind == "settle" and e.agent == "cloud"]
    assert settled.usd and paid.attributes["hashiru.cost_usd"] == float(settled.usd)
    assert local.attributes["hashiru.cost_usd"] == 0

    text = json.dumps([json.loads(s.to_json()) for s in spans])
    assert "What is 2+2?" not in text and "gen_ai.input.messages" not in text
    assert SECRET not in text


async def test_content_goes_into_spans_only_when_asked_and_keys_never(cloud) -> None:
    _, spans = await traced_run(workspace(cloud, trace_content=True))
    calls = {s.attributes["hashiru.agent"]: s for s in spans if s.name.startswith("chat ")}
    assert "What is 3+3?" in calls["cloud"].attributes["gen_ai.input.messages"]
    assert '"6"' in calls["cloud"].attributes["gen_ai.output.messages"]
    [ask] = [
        s
        for s in spans
        if s.name == "execute_tool ask_agent"
        and "3+3" in s.attributes["gen_ai.tool.call.arguments"]
    ]
    assert '"answer":"6"' in ask.attributes["gen_ai.tool.call.result"]
    assert SECRET not in json.dumps([json.loads(s.to_json()) for s in spans])


async def test_a_budget_refusal_is_an_event_on_its_tool_span(cloud: FakeOpenAI) -> None:
    hashiru = workspace(cloud, budget_usd=Decimal(0))
    _, spans = await traced_run(hashiru)
    [refused] = [s for s in spans if any(e.name == "hashiru.budget_refused" for e in s.events)]
    assert refused.name == "execute_tool hire_agent"
    assert refused.attributes["error.type"] == "tool_error"


def test_hashiru_run_trace_writes_the_runs_spans(tmp_path) -> None:
    ceo = tmp_path / "ceo.json"
    ceo.write_text(json.dumps([{"tool_calls": [call("get_budget")]}, {"text": "fine"}]))
    target = tmp_path / "trace.json"
    assert main(["run", "Check.", "--ceo", f"scripted:{ceo}", "--trace", str(target)]) == 0
    written = json.loads(target.read_text())
    names = [span["name"] for span in written["spans"]]
    assert names[0] == "invoke_agent ceo" and "execute_tool get_budget" in names
    assert {span["context"]["trace_id"] for span in written["spans"]} == {
        f"0x{written['trace_id']}"
    }


class _Receiver(BaseHTTPRequestHandler):
    """An OTLP/HTTP collector: POST /v1/traces with a protobuf ExportTraceServiceRequest."""

    received: ClassVar[list[tuple[str, ExportTraceServiceRequest]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.received.append((self.path, request))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


async def test_spans_reach_an_otlp_http_receiver(cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Receiver.received = []
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    try:
        config = Settings.load(ceo_model="scripted:ceo", enable_memory=False)
        assert config.trace_export and not config.tracing
        script = Script([{"tool_calls": [call("get_budget")]}, {"text": "ok"}])
        hashiru = Hashiru.from_settings(config, [ScriptedProvider({"ceo": script})])
        result = await hashiru.run("t")
        await hashiru.aclose()  # flushes the exporter
    finally:
        server.shutdown()
    paths = {path for path, _ in _Receiver.received}
    spans = [
        span
        for _, request in _Receiver.received
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    assert paths == {"/v1/traces"}
    assert {span.trace_id.hex() for span in spans} == {result.trace_id}
    assert {"invoke_agent ceo", "step 1", "chat ceo", "execute_tool get_budget"} <= {
        span.name for span in spans
    }


def test_with_tracing_off_nothing_of_the_sdk_is_imported(tmp_path) -> None:
    """(The OpenTelemetry API is: the `mcp` package imports it. Chroma imports the SDK too,
    so this run has no memory.)"""
    code = """
import asyncio, json, sys
from hashiru import Hashiru, Script, ScriptedProvider, Settings
settings = Settings.load(ceo_model="scripted:ceo", enable_memory=False)
script = Script([{"tool_calls": [{"name": "get_budget", "arguments": {}}]}, {"text": "ok"}])
hashiru = Hashiru.from_settings(settings, [ScriptedProvider({"ceo": script})])
result = asyncio.run(hashiru.run("t"))
print(json.dumps([result.answer, hashiru.tracing is None,
                  sorted(m for m in sys.modules if m.startswith("opentelemetry.sdk"))]))
"""
    environ = {"HASHIRU_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environ, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == ["ok", True, []]
