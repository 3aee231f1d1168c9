"""A pool of Ollama hosts, for real: three fake Ollama servers on 127.0.0.1, each with its own
models and memory budget. Hires are placed on a host with the model and room, employees on one
model share it per host, a host that goes down is passed over, an employee whose host dies
mid-ask fails with what to do, and a model no host has is pulled (when allowed)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator

import pytest

from hashiru import ModelPulling, TextDelta, ToolCallFinished, ToolRequest
from hashiru.agents.events import merged
from hashiru.errors import AgentError, BudgetExceeded, ProviderError
from hashiru.providers.scripted import Script, ScriptedProvider
from hashiru.runtime import Hashiru
from hashiru.settings import Settings
from tests.agents.conftest import call, hire
from tests.fakes.ollama import FakeOllama, HangUp
from tests.fakes.server import FakeTurn

GIB = 2**30


@pytest.fixture
def hosts() -> Iterator[list[FakeOllama]]:
    """a: x and y, 4 GiB for HASHIRU; b: x, 8 GiB; c: y, 2 GiB."""
    with FakeOllama() as a, FakeOllama() as b, FakeOllama() as c:
        a.models = {"x:latest": 2 * GIB, "y:latest": GIB}
        b.models = {"x:latest": 2 * GIB}
        c.models = {"y:latest": GIB}
        for fake in (a, b, c):
            fake.plan_forever("x", lambda n, url=fake.url: FakeTurn(text=f"x from {url}"))
            fake.plan_forever("y", lambda n, url=fake.url: FakeTurn(text=f"y from {url}"))
        yield [a, b, c]


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: a host that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
async def pool(hosts: list[FakeOllama]) -> AsyncIterator[Hashiru]:
    hashiru = workspace(hosts)
    yield hashiru
    await hashiru.aclose()


def workspace(hosts: list[FakeOllama], ceo: list | None = None, **settings: object) -> Hashiru:
    budgets = (4, 8, 2)
    config = Settings.load(
        ceo_model="scripted:ceo",
        ollama_hosts=[
            {"url": fake.url, "memory_gib": gib} for fake, gib in zip(hosts, budgets, strict=False)
        ],
        retries=0,
        **settings,
    )
    return Hashiru.from_settings(
        config, [ScriptedProvider({"ceo": Script(ceo or [{"text": "done"}])})]
    )


async def hire_on(hashiru: Hashiru, name: str, model: str, **kw: object) -> str:
    """Hire `name` on `model`; the host it was placed on."""
    done = await hashiru.company.hire(hashiru.meter("run"), name, model, "s", "d", **kw)
    return done.employee.host


async def ask(hashiru: Hashiru, name: str) -> str:
    reply = await hashiru.company.ask(hashiru.meter("run"), name, "hello", lambda event: None)
    return reply.answer


async def test_a_hire_goes_where_the_model_is_and_there_is_room(
    pool: Hashiru, hosts: list[FakeOllama]
) -> None:
    a, b, c = hosts
    assert await hire_on(pool, "x1", "ollama:x") == b.url  # a has 4 GiB, b 8: b has more room
    assert await hire_on(pool, "x2", "ollama:x") == b.url  # shares x with x1, costs nothing
    assert await hire_on(pool, "y1", "ollama:y") == a.url  # c has 2 GiB, a 4
    state = pool.ledger.state()
    assert state.loaded == {b.url: {"ollama:x": 2 * GIB}, a.url: {"ollama:y": GIB}}
    assert state.budgets[b.url].free_bytes == 6 * GIB
    assert state.budgets[a.url].free_bytes == 3 * GIB
    assert state.budgets[c.url].used_bytes == 0
    assert state.memory_used_bytes == 0, "the hosts' budgets are not this machine's"

    assert await ask(pool, "x1") == f"x from {b.url}"  # each talks to its own host only
    assert await ask(pool, "y1") == f"y from {a.url}"
    chats = [[r.body["model"] for r in fake.calls("/api/chat")] for fake in hosts]
    assert chats == [["y"], ["x"], []]
    assert [e.host for e in pool.company.roster] == [b.url, b.url, a.url]


async def test_the_listing_merges_the_hosts_and_says_where_each_model_is(
    pool: Hashiru, hosts: list[FakeOllama]
) -> None:
    a, b, c = hosts
    listed = {info.ref: info.hosts for info in await pool.providers.get("ollama").list_models()}
    assert listed == {"ollama:x:latest": [a.url, b.url], "ollama:y:latest": [a.url, c.url]}


async def test_a_model_that_fits_on_no_host_is_refused_naming_the_fullest_room(
    pool: Hashiru, hosts: list[FakeOllama]
) -> None:
    a, b, _ = hosts
    b.models["x:latest"] = a.models["x:latest"] = 9 * GIB
    with pytest.raises(BudgetExceeded, match="on any of the 2 hosts") as refused:
        await hire_on(pool, "big", "ollama:x")
    assert b.url in str(refused.value)
    assert "big" not in pool.company.roster and not pool.ledger.active_hires()


async def test_a_host_down_between_hires_is_passed_over(hosts: list[FakeOllama]) -> None:
    a, b, _ = hosts
    hashiru = workspace(hosts)
    try:
        assert await hire_on(hashiru, "x1", "ollama:x") == b.url
        b.go_down()
        assert await hire_on(hashiru, "x2", "ollama:x") == a.url
        pool = hashiru.providers.get("ollama")
        listed = {info.ref: info.hosts for info in await pool.list_models()}
        assert listed["ollama:x:latest"] == [a.url]
        assert list(pool.down) == [b.url]
    finally:
        await hashiru.aclose()


async def test_every_host_down_is_a_clear_error(hosts: list[FakeOllama]) -> None:
    config = Settings.load(ollama_hosts=[closed_port_url(), closed_port_url()], retries=0)
    hashiru = Hashiru.from_settings(config)
    try:
        with pytest.raises(ProviderError, match="no Ollama host answers"):
            await hire_on(hashiru, "x1", "ollama:x")
    finally:
        await hashiru.aclose()


async def test_an_employee_whose_host_dies_mid_ask_is_told_to_rehire(
    pool: Hashiru, hosts: list[FakeOllama]
) -> None:
    a, b, _ = hosts
    await hire_on(pool, "x1", "ollama:x")
    b.drop_chats = True  # b dies while x1's question is out
    with pytest.raises(ProviderError, match="Fire it and hire again on ollama:x") as failed:
        await ask(pool, "x1")
    assert b.url in str(failed.value) and failed.value.kind == "connection"
    assert pool.company.roster.get("x1").failures == 1, "the employee and its record survive"
    [filed] = pool.outcomes.asks(agent="x1")
    assert filed.failed

    await pool.company.fire("run", "x1")
    b.go_down()
    assert await hire_on(pool, "x1", "ollama:x") == a.url
    assert await ask(pool, "x1") == f"x from {a.url}"


async def test_the_ceo_sees_hosts_and_rehires_after_a_host_dies(hosts: list[FakeOllama]) -> None:
    """Through the CEO's tools: list_models names the hosts, the hire receipt its host, and a
    dead host's error is a tool error the CEO acts on."""
    a, b, _ = hosts
    ceo = [
        {"tool_calls": [call("list_models"), hire("w", "ollama:x")]},
        {"tool_calls": [call("ask_agent", name="w", prompt="q")]},
        {"tool_calls": [call("fire_agent", name="w")]},  # one step each: calls in a step race
        {"tool_calls": [hire("w", "ollama:x")]},
        {"tool_calls": [call("ask_agent", name="w", prompt="q"), call("get_budget")]},
        {"text": "done"},
    ]
    hashiru = workspace(hosts, ceo, enable_cloud_agents=False)

    def dies(n: int) -> FakeTurn:
        b.down = True  # b dies while answering w's first question
        raise HangUp("b died")

    b.plan_forever("x", dies)
    events: list = []
    try:
        result = await hashiru.run("t", on_event=events.append)
    finally:
        await hashiru.aclose()
    finished: dict[str, list[ToolCallFinished]] = {}
    for event in events:
        if isinstance(event, ToolCallFinished):
            finished.setdefault(event.name, []).append(event)
    listed = {m["ref"]: m.get("hosts") for m in finished["list_models"][0].result}
    assert listed["ollama:x:latest"] == [a.url, b.url]
    first, second = finished["hire_agent"]
    assert second.ok, second.error
    assert (first.result.host, second.result.host) == (b.url, a.url)
    assert (first.result.memory_free_gib, second.result.memory_free_gib) == (6, 2), "the host's"
    failed, answered = finished["ask_agent"]
    assert not failed.ok and "hire again" in (failed.error or "")
    assert answered.result.answer == f"x from {a.url}"
    by_host = finished["get_budget"][0].result["resource_gib_by_host"]
    assert by_host[a.url]["models"] == {"ollama:x": 2}
    assert by_host[b.url]["used"] == 0, "the fired employee's model was unloaded from b"
    assert result.answer == "done"


# --- pulling a model no host has ----------------------------------------------------------


async def test_a_model_no_host_has_is_pulled_onto_the_roomiest_host(
    hosts: list[FakeOllama],
) -> None:
    a, b, _ = hosts
    for fake in hosts:
        fake.registry = {"z": [GIB, GIB // 2]}
    hashiru = workspace(hosts, ollama_pull="always")
    events: list = []
    try:
        assert await hire_on(hashiru, "z1", "ollama:z", emit=events.append) == b.url
    finally:
        await hashiru.aclose()
    assert "z:latest" in b.models and "z:latest" not in a.models
    pulls = [e for e in events if isinstance(e, ModelPulling)]
    assert pulls[-1].done and pulls[-1].completed == pulls[-1].total == GIB + GIB // 2
    assert {e.host for e in pulls} == {b.url} and {e.model for e in pulls} == {"ollama:z"}
    assert hashiru.ledger.state().loaded[b.url] == {"ollama:z": GIB + GIB // 2}


async def test_a_pull_is_asked_for_and_a_no_keeps_everything_as_it_was(
    hosts: list[FakeOllama],
) -> None:
    for fake in hosts:
        fake.registry = {"z": [GIB]}
    asked: list[ToolRequest] = []

    async def no(request: ToolRequest) -> bool:
        asked.append(request)
        return False

    hashiru = workspace(hosts)  # ollama_pull defaults to "ask"
    try:
        with pytest.raises(AgentError, match="not approved"):
            await hire_on(hashiru, "z1", "ollama:z", approve=no)
        with pytest.raises(AgentError, match="not approved"):  # the API has nobody to ask
            await hire_on(hashiru, "z1", "ollama:z")
    finally:
        await hashiru.aclose()
    assert [r.pull_host for r in asked] == [hosts[1].url]
    assert asked[0].question == f"Download ollama:z to {hosts[1].url}?"
    assert not any("z:latest" in fake.models for fake in hosts)
    assert not any(fake.calls("/api/pull") for fake in hosts)
    assert not hashiru.ledger.active_hires()


async def test_pulling_is_off_with_never(hosts: list[FakeOllama]) -> None:
    hosts[0].registry = {"z": [GIB]}
    hashiru = workspace(hosts, ollama_pull="never")
    try:
        with pytest.raises(AgentError, match='ollama_pull = "never"'):
            await hire_on(hashiru, "z1", "ollama:z")
    finally:
        await hashiru.aclose()
    assert not any(fake.calls("/api/pull") for fake in hosts)


async def test_a_pull_too_big_for_the_host_is_stopped(hosts: list[FakeOllama]) -> None:
    for fake in hosts:
        fake.registry = {"huge": [5 * GIB, 5 * GIB]}  # b has 8 GiB: the second layer shows it
        fake.pull_delay = 0.01
    hashiru = workspace(hosts, ollama_pull="always")
    try:
        with pytest.raises(BudgetExceeded, match="its download was stopped"):
            await hire_on(hashiru, "h", "ollama:huge")
    finally:
        await hashiru.aclose()
    assert "huge:latest" not in hosts[1].models
    assert not hashiru.ledger.active_hires() and not len(hashiru.company.roster)


async def test_a_ceo_on_the_pool_is_served_by_a_host_that_has_its_model(
    hosts: list[FakeOllama],
) -> None:
    _, b, c = hosts
    c.plan_forever("y", lambda n: FakeTurn(text="the answer from c"))
    config = Settings.load(ceo_model="ollama:y", ollama_hosts=[b.url, c.url], retries=0)
    hashiru = Hashiru.from_settings(config)
    try:
        result = await hashiru.run("t")
    finally:
        await hashiru.aclose()
    assert result.answer == "the answer from c"  # b, the first host, has no y
    assert not b.calls("/api/chat")


def test_a_saved_turn_keeps_each_downloads_latest_step_even_side_by_side() -> None:
    def step(model: str, done: int) -> ModelPulling:
        return ModelPulling(model=model, host="h", status="pulling", completed=done, total=9)

    events = [step("a", 1), step("b", 1), step("a", 2), TextDelta(text="x"), step("a", 3)]
    assert merged(events) == [step("a", 2), step("b", 1), TextDelta(text="x"), step("a", 3)]
