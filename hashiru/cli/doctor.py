"""`hashiru doctor`: which model backends answer here, the CEO's model, the sandbox's layers;
then each named endpoint and each Ollama host of the pool, with the memory budget it draws on.

It asks every backend, so it imports their SDKs; no other command does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from decimal import Decimal
from urllib.parse import urlsplit

from pydantic import BaseModel
from rich.markup import escape
from rich.table import Table

from hashiru.cli.output import console
from hashiru.errors import HashiruError
from hashiru.providers import ModelInfo, Provider
from hashiru.providers.discovery import SURVEY_TIMEOUT_SECONDS, BackendStatus, survey
from hashiru.providers.ollama_pool import OllamaPool
from hashiru.runtime import Hashiru
from hashiru.settings import OllamaHost, Settings, is_loopback

SHARED_BUDGET = "shares this machine's memory budget"


class EndpointCheck(BaseModel):
    """One `[endpoints.NAME]` as doctor found it."""

    name: str
    base_url: str
    local: bool
    memory_gib: Decimal | None  # a local endpoint's budget of its own; None: this machine's
    key_missing: str | None  # the environment variable to set; None: no key is missing
    available: bool  # it answered and serves models
    models: int
    reason: str  # why it is not available


class HostCheck(BaseModel):
    """One Ollama host of `ollama_hosts` as doctor found it."""

    url: str
    up: bool
    models: int
    memory_gib: Decimal | None  # its budget of its own; None: this machine's
    reason: str  # why it is down


async def doctor_command(hashiru: Hashiru, args: argparse.Namespace) -> int:
    # the sandbox's layers are probed in a real worker: off the loop, beside the survey
    statuses, layers, hosts = await asyncio.gather(
        survey(hashiru.providers),
        asyncio.to_thread(hashiru.sandbox.layers),
        check_hosts(hashiru),
    )
    endpoints = check_endpoints(hashiru.settings, statuses)
    try:
        ceo = await hashiru.ceo_model()
    except HashiruError as exc:
        ceo = None
        reason = str(exc)
    if args.json:
        report = {
            "ceo_model": ceo,
            "backends": [s.model_dump() for s in statuses],
            "sandbox_layers": layers,
            "endpoints": [e.model_dump(mode="json") for e in endpoints],
            "ollama_hosts": [h.model_dump(mode="json") for h in hosts],
        }
        print(json.dumps(report))
        return 0
    table = Table("backend", "kind", "available", "models (context window) / why not")
    for status in statuses:
        models = ", ".join(_model(m) for m in status.models[:6])
        table.add_row(
            status.name,
            "local" if status.local else "cloud",
            "[green]yes[/]" if status.available else "[red]no[/]",
            escape(models if status.available else status.reason),
        )
    console.print(table)
    _print_lines("Endpoints", [_endpoint_line(e) for e in endpoints])
    _print_lines("Ollama hosts", [_host_line(h) for h in hosts])
    console.print(f"CEO model: [bold]{ceo}[/]" if ceo else f"[red]{escape(reason)}[/]")
    console.print(f"Sandbox layers: {', '.join(layers)}")
    return 0


def check_endpoints(settings: Settings, statuses: list[BackendStatus]) -> list[EndpointCheck]:
    """Each named endpoint from the survey's look at it, with its key and budget."""
    found = {status.name: status for status in statuses}
    checks = []
    for name, endpoint in settings.endpoints.items():
        status = found[name]
        missing = endpoint.api_key_env if endpoint.api_key_env and not endpoint.api_key else None
        checks.append(
            EndpointCheck(
                name=name,
                base_url=endpoint.base_url,
                local=endpoint.local,
                memory_gib=endpoint.memory_gib,
                key_missing=missing,
                available=status.available,
                models=len(status.models),
                reason=status.reason,
            )
        )
    return checks


async def check_hosts(hashiru: Hashiru) -> list[HostCheck]:
    """Each host of `ollama_hosts` asked on its own, so one slow host cannot hide the others;
    none without a pool (the backends' table covers `ollama_host`)."""
    if not hashiru.settings.ollama_hosts:
        return []
    pool = await asyncio.to_thread(hashiru.providers.get, "ollama")
    if not isinstance(pool, OllamaPool):  # a backend given ready-made, as tests may
        return []
    checks = (_check_host(pool.hosts[host.url], host) for host in hashiru.settings.ollama_hosts)
    return list(await asyncio.gather(*checks))


async def _check_host(provider: Provider, host: OllamaHost) -> HostCheck:
    check = HostCheck(url=host.url, up=False, models=0, memory_gib=host.memory_gib, reason="")
    try:
        async with asyncio.timeout(SURVEY_TIMEOUT_SECONDS):
            check.models = len(await provider.list_models())
    except HashiruError as exc:
        check.reason = str(exc)
    except TimeoutError:
        check.reason = f"no answer in {SURVEY_TIMEOUT_SECONDS:g} s"
    else:
        check.up = True
    return check


def _endpoint_line(check: EndpointCheck) -> str:
    """`cluster http://gpu:8000/v1: reachable, 2 models · local, 80 GiB budget of its own`;
    why it is not available on a line below."""
    kind = f"local, {_budget(check.memory_gib)}" if check.local else "cloud (dollars)"
    head = f"[bold]{check.name}[/] {escape(check.base_url)}"
    if check.key_missing:
        return f"{head}: [red]key missing[/]: set {check.key_missing} · {kind}"
    if check.available:
        return f"{head}: [green]reachable[/], {_count(check.models, 'model')} · {kind}"
    return f"{head}: [red]not available[/] · {kind}\n    {escape(check.reason)}"


def _host_line(check: HostCheck) -> str:
    """`http://gpu-a:11434: up, 3 models · 24 GiB budget of its own`, or down, and why on a
    line below."""
    head, budget = f"[bold]{escape(check.url)}[/]", _budget(check.memory_gib)
    if check.memory_gib is None and not is_loopback(urlsplit(check.url).hostname or ""):
        budget += " (give it memory_gib: Ollama does not say how much a host has)"
    if check.up:
        return f"{head}: [green]up[/], {_count(check.models, 'model')} · {budget}"
    return f"{head}: [red]down[/] · {budget}\n    {escape(check.reason)}"


def _budget(memory_gib: Decimal | None) -> str:
    return SHARED_BUDGET if memory_gib is None else f"{memory_gib} GiB budget of its own"


def _print_lines(title: str, lines: list[str]) -> None:
    if lines:
        console.print(f"{title}:")
        for line in lines:
            console.print(f"  {line}", soft_wrap=True)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _model(info: ModelInfo) -> str:
    """A model and its window, the most context a request to it may hold: `ollama:x (8,192)`."""
    return f"{info.ref} ({info.context_tokens:,})" if info.context_tokens else info.ref
