"""Named OpenAI-compatible endpoints (`[endpoints.NAME]`) against a fake Chat Completions server:
a local one costs memory on its own budget, a cloud one exact dollars at its own prices, an
unpriced model is refused, and the key comes from the variable the endpoint names."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from decimal import Decimal

import pytest

from hashiru.errors import BudgetExceeded, ConfigError, ProviderError
from hashiru.messages import Message
from hashiru.providers import Providers
from hashiru.providers.discovery import survey
from hashiru.providers.endpoint import NO_KEY
from hashiru.runtime import Hashiru
from hashiru.settings import Settings
from tests.fakes.openai import FakeOpenAI
from tests.fakes.server import FakeTurn

GIB = 2**30


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=None, models={"big": 32_768, "small": 8_192}) as server:
        server.reports_max_model_len = True  # as vLLM does
        server.plan_forever("big", lambda n: FakeTurn(text="from big", input_tokens=1000))
        server.plan_forever("small", lambda n: FakeTurn(text="from small", output_tokens=200))
        yield server


def settings(
    fake: FakeOpenAI, environ: dict[str, str] | None = None, **endpoint: object
) -> Settings:
    return Settings.load(
        environ or {},
        endpoints={"cluster": {"base_url": f"{fake.url}/v1", **endpoint}},
        models={"cluster:small": {"memory_gib": 3}},
        memory_gib=1,
        retries=0,
    )


@pytest.fixture
async def workspace(fake: FakeOpenAI) -> AsyncIterator[Hashiru]:
    hashiru = Hashiru.from_settings(settings(fake, local=True, memory_gib=10))
    yield hashiru
    await hashiru.aclose()


async def hire(hashiru: Hashiru, name: str, model: str) -> str:
    done = await hashiru.company.hire(hashiru.meter("run"), name, model, "s", "d")
    return done.employee.host


async def test_a_local_endpoint_costs_memory_on_its_own_budget(workspace: Hashiru) -> None:
    assert await hire(workspace, "s1", "cluster:small") == "cluster"  # 3 GiB, as [models] says
    assert await hire(workspace, "s2", "cluster:small") == "cluster"  # shares it
    with pytest.raises(BudgetExceeded, match=r"on cluster: it needs 10\.00 GiB, but only 7\.00"):
        await hire(workspace, "b1", "cluster:big")  # no size given: the whole endpoint's
    state = workspace.ledger.state()
    assert state.budgets["cluster"].used_bytes == 3 * GIB
    assert state.memory_used_bytes == 0 and state.usd_spent == 0, "not this machine's, no fee"
    reply = await workspace.company.ask(workspace.meter("run"), "s1", "q", lambda e: None)
    assert (reply.answer, reply.cost_usd) == ("from small", 0)


async def test_windows_come_from_the_server_when_it_says(workspace: Hashiru) -> None:
    listed = {i.ref: i for i in await workspace.providers.get("cluster").list_models()}
    assert listed["cluster:big"].context_tokens == 32_768
    assert listed["cluster:big"].local and listed["cluster:big"].memory_bytes == 10 * GIB
    assert listed["cluster:small"].memory_bytes == 3 * GIB


async def test_a_cloud_endpoint_charges_exact_dollars_at_its_prices(fake: FakeOpenAI) -> None:
    prices = {"big": {"input_per_mtok": "0.2", "output_per_mtok": "0.6"}}
    hashiru = Hashiru.from_settings(settings(fake, prices=prices))
    try:
        await hire(hashiru, "b1", "cluster:big")
        reply = await hashiru.company.ask(hashiru.meter("run"), "b1", "q", lambda e: None)
        with pytest.raises(ConfigError, match=r'\[prices\."cluster:small"\]'):
            await hire(hashiru, "s1", "cluster:small")  # unpriced: refused, never free
    finally:
        await hashiru.aclose()
    usage = reply.usage
    assert usage.input_tokens == 1000
    expected = (Decimal("0.2") * 1000 + Decimal("0.6") * usage.output_tokens) / 10**6
    assert reply.cost_usd == expected
    state = hashiru.ledger.state()
    assert state.spent_by_agent["b1"] == expected + hashiru.settings.hire_fee_usd
    assert not hashiru.ledger.state().loaded, "a cloud endpoint costs no memory"


async def test_the_key_comes_from_the_variable_the_endpoint_names(fake: FakeOpenAI) -> None:
    fake.api_key = "secret-1"
    unset = Providers(settings(fake, api_key_env="CLUSTER_KEY")).get("cluster")
    assert unset.unavailable_reason() == "set CLUSTER_KEY"
    keyed = Providers(settings(fake, {"CLUSTER_KEY": "secret-1"}, api_key_env="CLUSTER_KEY"))
    assert [i.ref for i in await keyed.get("cluster").list_models()] == [
        "cluster:big",
        "cluster:small",
    ]
    assert fake.requests[-1].headers["authorization"] == "Bearer secret-1"


async def test_an_endpoint_without_a_key_is_never_sent_openais(
    fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-for-this-server")
    provider = Providers(settings(fake)).get("cluster")
    assert provider.unavailable_reason() is None
    response = await provider.complete("big", [Message.user("hi")], (), 16)
    assert response.text == "from big" and response.usage.input_tokens == 1000
    assert fake.requests[-1].headers["authorization"] == f"Bearer {NO_KEY}"


async def test_a_model_the_endpoint_lacks_names_the_ones_it_serves(fake: FakeOpenAI) -> None:
    provider = Providers(settings(fake)).get("cluster")
    with pytest.raises(ProviderError, match=r"serves no model 'nope' \(it serves: big, small\)"):
        await provider.describe("nope")


async def test_the_survey_lists_endpoints_beside_the_built_in_backends(fake: FakeOpenAI) -> None:
    providers = Providers(settings(fake, local=True))
    statuses = {status.name: status for status in await survey(providers)}
    assert statuses["cluster"].available and statuses["cluster"].local
    assert [m.ref for m in statuses["cluster"].models] == ["cluster:big", "cluster:small"]
    assert providers.parse_ref("cluster:org/model:tag") == ("cluster", "org/model:tag")


def test_bad_endpoints_are_one_line_errors(fake: FakeOpenAI) -> None:
    with pytest.raises(ConfigError, match="takes a built-in provider's name"):
        Providers(Settings.load(endpoints={"openai": {"base_url": "http://x/v1"}}))
    with pytest.raises(ConfigError, match="local endpoint costs memory, not dollars"):
        settings(fake, local=True, prices={"big": {"input_per_mtok": 1, "output_per_mtok": 1}})
    with pytest.raises(ConfigError, match="not an environment variable's name"):
        settings(fake, api_key_env="NOT A NAME")
    with pytest.raises(ConfigError, match=r"Model 'nowhere:m' is not of the form"):
        Providers(settings(fake)).parse_ref("nowhere:m")
