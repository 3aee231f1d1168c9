"""Several Ollama servers as one backend (`ollama_hosts`): the models of all, hired where there is
room.

Each host is an `OllamaProvider` of its own (its client, its num_ctx per model). Listing asks
every host at once and merges what they serve, each model naming the hosts that have it; a host
that does not answer is left out and remembered in `down`, so hires go elsewhere. A hire asks
for `placements` (the model on each host that has it) and the ledger picks the one with room;
the employee then talks to `at(its host)` only. With one host this is `OllamaProvider` itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import suppress
from dataclasses import replace

from hashiru.errors import ProviderError
from hashiru.messages import Message, ModelResponse, ToolSpec
from hashiru.providers.base import ModelInfo, ProviderConfig, StreamItem
from hashiru.providers.ollama import OllamaProvider


class OllamaPool(OllamaProvider):
    """The `ollama` backend: one host (`ollama_host`) or a pool of them (`ollama_hosts`)."""

    def __init__(self, config: ProviderConfig | None = None) -> None:
        super().__init__(config)
        self.hosts = {
            url: OllamaProvider(replace(self.config, base_url=url, hosts=()))
            for url in self.config.hosts
        }
        self.down: dict[str, str] = {}  # host -> why it did not answer, as last seen
        self._serving: dict[str, str] = {}  # model -> the first host seen serving it

    def at(self, host: str) -> OllamaProvider:
        if not host or not self.hosts:
            return self
        if host not in self.hosts:
            raise ProviderError(
                self.name,
                "connection",
                f"{host} is no longer one of ollama_hosts; fire this employee and hire again",
            )
        return self.hosts[host]

    def pull_hosts(self) -> list[str]:
        """The pool's hosts that answered last time they were asked; "" with no pool."""
        return [host for host in self.hosts if host not in self.down] or [""]

    async def _for(self, model: str) -> OllamaProvider:
        """Where a call with no host of its own (the CEO's) goes: the first host seen serving
        `model` (the pool is listed once to find it), else the first host."""
        if model not in self._serving:
            with suppress(ProviderError):  # the call itself will say what is wrong
                await self.list_models()
        return self.hosts[self._serving.get(model, next(iter(self.hosts)))]

    async def complete(
        self, model: str, messages: Sequence[Message], tools: Sequence[ToolSpec], max_tokens: int
    ) -> ModelResponse:
        if not self.hosts:
            return await super().complete(model, messages, tools, max_tokens)
        return await (await self._for(model)).complete(model, messages, tools, max_tokens)

    async def stream(
        self, model: str, messages: Sequence[Message], tools: Sequence[ToolSpec], max_tokens: int
    ) -> AsyncIterator[StreamItem]:
        backend = await self._for(model) if self.hosts else super()
        async for item in backend.stream(model, messages, tools, max_tokens):
            yield item

    async def list_models(self) -> list[ModelInfo]:
        """Every host's models, each once, naming the hosts that have it (in the pool's
        order); a ProviderError only when no host answers."""
        if not self.hosts:
            return await super().list_models()
        listings = await asyncio.gather(*(self._listing(host) for host in self.hosts))
        if len(self.down) == len(self.hosts):
            raise self._all_down()
        merged: dict[str, ModelInfo] = {}
        for host, infos in zip(self.hosts, listings, strict=True):
            for info in infos:
                merged.setdefault(info.ref, info.model_copy(update={"hosts": []})).hosts.append(
                    host
                )
        self._serving = {
            known_as: info.hosts[0]
            for info in merged.values()
            for known_as in _names(info.ref.partition(":")[2])
        }
        return list(merged.values())

    async def _listing(self, host: str) -> list[ModelInfo]:
        try:
            infos = await self.hosts[host].list_models()
        except ProviderError as exc:
            self.down[host] = str(exc)
            return []
        self.down.pop(host, None)
        return infos

    async def placements(self, model: str) -> list[ModelInfo]:
        """`model` on each host that has it and answers, in the pool's order."""
        if not self.hosts:
            return await super().placements(model)
        found = await asyncio.gather(
            *(self.hosts[host].describe(model) for host in self.hosts), return_exceptions=True
        )
        places = []
        for host, info in zip(self.hosts, found, strict=True):
            if isinstance(info, ModelInfo):
                self.down.pop(host, None)
                places.append(info.model_copy(update={"hosts": [host]}))
            elif isinstance(info, ProviderError) and info.kind == "not_found":
                self.down.pop(host, None)
            elif isinstance(info, ProviderError):
                self.down[host] = str(info)
            else:
                raise info
        if places:
            return places
        if len(self.down) == len(self.hosts):
            raise self._all_down()
        hosts = ", ".join(h for h in self.hosts if h not in self.down)
        message = f"no Ollama host has '{model}' (asked: {hosts}); pull it onto one"
        raise ProviderError(self.name, "not_found", message, status=404)

    async def describe(self, model: str) -> ModelInfo:
        if not self.hosts:
            return await super().describe(model)
        places = await self.placements(model)
        return places[0].model_copy(update={"hosts": [p.host for p in places]})

    def _all_down(self) -> ProviderError:
        reasons = "; ".join(f"{host}: {why}" for host, why in self.down.items())
        return ProviderError(self.name, "connection", f"no Ollama host answers ({reasons})")


def _names(model: str) -> tuple[str, ...]:
    """What a model may be called: `qwen3:latest` is `qwen3` too."""
    return (model, model.removesuffix(":latest"))
