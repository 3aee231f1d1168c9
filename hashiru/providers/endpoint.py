"""A named OpenAI-compatible server (`[endpoints.NAME]`): vLLM, SGLang, llama.cpp server, LM
Studio or a cloud gateway, whose models are hired as `NAME:<model>`.

It is the `openai` backend with the endpoint's URL, key and name, plus what compatible servers
differ in: a model is looked up in `/v1/models` (not every server answers `/v1/models/{id}`),
a key is optional, and a local endpoint's models cost memory rather than dollars. No server
reports a model's memory, so a local model takes what `[models."NAME:model"] memory_gib` says,
else the whole of the endpoint's `memory_gib` (a vLLM server holds one model in all of it).
"""

from __future__ import annotations

from openai.types import Model as OpenAIModel

from hashiru.errors import ProviderError
from hashiru.providers.base import ModelInfo, ProviderConfig
from hashiru.providers.openai import OpenAIProvider
from hashiru.settings import EndpointSettings

NO_KEY = "EMPTY"
"""The key sent to an endpoint that needs none: the `openai` SDK refuses to run without one,
and this is the placeholder vLLM's own documentation sends (servers without a key ignore it)."""


class EndpointProvider(OpenAIProvider):
    """One endpoint, named by the user; its name is the `NAME:` of its models."""

    def __init__(self, name: str, endpoint: EndpointSettings, config: ProviderConfig) -> None:
        super().__init__(config)
        self.name = name
        self.local = endpoint.local
        self.key_variables = (endpoint.api_key_env,) if endpoint.api_key_env else ()
        self._own_budget = endpoint.local and endpoint.memory_gib is not None

    def api_key(self) -> str:
        """The endpoint's key (never OPENAI_API_KEY), or NO_KEY for one that needs none."""
        return super().api_key() if self.key_variables else NO_KEY

    async def describe(self, model: str) -> ModelInfo:
        served = await self.list_models()
        for info in served:
            if info.ref == f"{self.name}:{model}":
                return info
        names = ", ".join(info.ref.partition(":")[2] for info in served) or "none"
        message = f"{self.config.base_url} serves no model '{model}' (it serves: {names})"
        raise ProviderError(self.name, "not_found", message, status=404)

    def _info(self, found: OpenAIModel) -> ModelInfo:
        info = super()._info(found)
        if not self.local:
            return info
        memory = self.config.model_memory.get(found.id, self.config.memory_bytes)
        hosts = [self.name] if self._own_budget else []
        return info.model_copy(update={"memory_bytes": memory, "hosts": hosts})
