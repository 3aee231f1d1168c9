"""HASHIRU: a CEO agent that answers by hiring, asking and firing employee agents.

The public API, for scripts, notebooks and the benchmarks:

    from hashiru import Hashiru, RunPolicy

    hashiru = Hashiru.from_settings()
    result = await hashiru.run("What is 17 * 23?", policy=hashiru.policy.updated(max_usd=0.10))

Names are imported on first use, so `import hashiru` stays cheap and a command that never
touches memory never loads Chroma. The benchmarks (`bench/`) import only these names; an
import-linter contract in pyproject.toml checks it.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> "module", or "module:name" where the module calls it something else
_EXPORTS: dict[str, str] = {
    # the runtime
    "Hashiru": "hashiru.runtime",
    "RunResult": "hashiru.runtime",
    "RunCost": "hashiru.runtime",
    "ceo_system_prompt": "hashiru.runtime",
    "Settings": "hashiru.settings",
    "RunPolicy": "hashiru.settings",
    "SWITCHES": "hashiru.settings",
    # what runs emit, and the values tool calls report
    "Event": "hashiru.agents.events",
    "TextDelta": "hashiru.agents.events",
    "ToolCallStarted": "hashiru.agents.events",
    "ToolCallFinished": "hashiru.agents.events",
    "AgentHired": "hashiru.agents.events",
    "AgentFired": "hashiru.agents.events",
    "MemoriesRecalled": "hashiru.agents.events",
    "StepFinished": "hashiru.agents.events",
    "Answer": "hashiru.agents.events",
    "RunFailed": "hashiru.agents.events",
    "ContextCompacted": "hashiru.agents.events",
    "ModelPulling": "hashiru.agents.events",
    "TokenCounter": "hashiru.agents.context",
    "EmployeeAnswer": "hashiru.agents.events",
    "HireReceipt": "hashiru.agents.events",
    "Workforce": "hashiru.agents.hr_tools",
    "ToolRequest": "hashiru.agents.toolsmith",
    # messages and usage
    "Message": "hashiru.messages",
    "ModelResponse": "hashiru.messages",
    "ToolCall": "hashiru.messages",
    "ToolResult": "hashiru.messages",
    "ToolSpec": "hashiru.messages",
    "Usage": "hashiru.messages",
    # errors
    "HashiruError": "hashiru.errors",
    "ConfigError": "hashiru.errors",
    "ProviderError": "hashiru.errors",
    "AgentError": "hashiru.errors",
    "BudgetExceeded": "hashiru.errors",
    "RunLimitError": "hashiru.errors",
    "ConversationError": "hashiru.errors",
    "OutcomeError": "hashiru.errors",
    # backends, for custom and scripted models
    "Provider": "hashiru.providers",
    "ProviderConfig": "hashiru.providers",
    "ModelInfo": "hashiru.providers",
    "Script": "hashiru.providers.scripted",
    "ScriptedProvider": "hashiru.providers.scripted",
    "EmbeddedProvider": "hashiru.providers.embedded",
    "count_embedded_tokens": "hashiru.providers.embedded:count_tokens",
    "PullProgress": "hashiru.providers.base",
    # models served anywhere: OpenAI-compatible endpoints, a pool of Ollama hosts
    "EndpointSettings": "hashiru.settings",
    "OllamaHost": "hashiru.settings",
    "Providers": "hashiru.providers",
    # the workspace's parts, for scripts that read them directly
    "Ledger": "hashiru.economy.ledger",
    "BudgetState": "hashiru.economy.ledger",
    "Entry": "hashiru.economy.ledger",
    "NO_RUN": "hashiru.economy.ledger",
    "Placement": "hashiru.economy.ledger",
    # traces of runs (OpenTelemetry): `Hashiru.tracing`, `RunResult.trace_id`
    "Tracing": "hashiru.tracing",
    # cassettes: a run's model calls recorded and replayed (`Hashiru.from_settings(cassette=)`)
    "Cassette": "hashiru.providers.cassette",
    "new_cassette": "hashiru.runtime",
    "HostMemory": "hashiru.economy.ledger",
    "THIS_MACHINE": "hashiru.economy.ledger",
    "PriceBook": "hashiru.economy.prices",
    "Sandbox": "hashiru.tools.sandbox",
    "SandboxConfig": "hashiru.tools.sandbox",
    # MCP servers whose tools the CEO uses (`Hashiru.mcp`), as configured in hashiru.toml
    "McpServers": "hashiru.tools.mcp",
    "McpServerStatus": "hashiru.tools.mcp:ServerStatus",
    "McpServerSettings": "hashiru.settings",
    "McpError": "hashiru.errors",
    "ChromaMemoryStore": "hashiru.memory.store",
    "MemoryConfig": "hashiru.memory.store",
    "MiniLMEmbedding": "hashiru.memory.embedding",
    # the scorecard: each ask's outcome and verdicts, and the choice of model they inform
    "Outcomes": "hashiru.economy.outcomes",
    "Ask": "hashiru.economy.outcomes",
    "ScoreLine": "hashiru.economy.outcomes",
    "KINDS": "hashiru.economy.outcomes",
    "wilson_interval": "hashiru.economy.outcomes",
    "Offer": "hashiru.agents.staffing",
    "Candidate": "hashiru.agents.staffing",
    "Choice": "hashiru.agents.staffing",
    "choose_model": "hashiru.agents.staffing:choose",
    # saved conversations (`Hashiru.run(task, conversation=...)` continues one)
    "Conversation": "hashiru.conversations",
    "ConversationStore": "hashiru.conversations",
    "ConversationSummary": "hashiru.conversations",
    "ConversationPage": "hashiru.conversations",
    "Turn": "hashiru.conversations",
    "Transcript": "hashiru.transcript",
    "redraw_conversation": "hashiru.transcript:redraw",
    "conversation_markdown": "hashiru.transcript:markdown",
    # the app, served in-process (it loads Gradio)
    "build_app": "hashiru.ui",
    "launch_app": "hashiru.ui:launch",
    "shutdown_app": "hashiru.ui:shutdown",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    where = _EXPORTS.get(name)
    if where is None:
        raise AttributeError(f"module 'hashiru' has no attribute {name!r}")
    module, _, attribute = where.partition(":")
    value = getattr(importlib.import_module(module), attribute or name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
