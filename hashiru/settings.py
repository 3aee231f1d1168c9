"""HASHIRU's configuration: defaults, then `HASHIRU_HOME/hashiru.toml`, then the environment.

Every setting `foo` is read from `HASHIRU_FOO`; provider settings also answer to the names their
SDKs use (`OLLAMA_HOST`, `GEMINI_API_KEY`, ...). A bad value is one line naming the setting.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Self, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from hashiru.errors import ConfigError

M = TypeVar("M", bound=BaseModel)
PullMode = Literal["ask", "always", "never"]
GIB = 2**30  # memory settings are in GiB, as RAM and model files are measured

SWITCHES = (
    "agent_creation",
    "local_agents",
    "cloud_agents",
    "tool_creation",
    "tool_invocation",
    "resource_budget",
    "economy_budget",
    "memory",
)
"""HASHIRU's eight capability switches; each is the setting `enable_<switch>`."""

# Environment names that SDKs and users already know, besides HASHIRU_<NAME>.
_ENV_ALIASES: dict[str, tuple[str, ...]] = {
    "ollama_host": ("OLLAMA_HOST",),
    "gemini_api_key": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "gemini_base_url": ("GOOGLE_GEMINI_BASE_URL",),
    "anthropic_api_key": ("ANTHROPIC_API_KEY",),
    "anthropic_base_url": ("ANTHROPIC_BASE_URL",),
    "openai_api_key": ("OPENAI_API_KEY",),
    "openai_base_url": ("OPENAI_BASE_URL",),
    "brave_api_key": ("BRAVE_API_KEY",),
}


OTLP_ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
"""The standard variables that say where spans go: either turns exporting on."""


def default_home() -> Path:
    return Path(os.environ.get("HASHIRU_HOME") or Path.home() / ".hashiru").expanduser()


class PriceOverride(BaseModel):
    """A user-given price for a model genai-prices does not know, in USD per million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_mtok: Decimal = Field(ge=0)
    output_per_mtok: Decimal = Field(ge=0)
    cache_read_per_mtok: Decimal | None = Field(None, ge=0)
    cache_write_per_mtok: Decimal | None = Field(None, ge=0)


class ModelSettings(BaseModel):
    """What a user says of one model (`[models."provider:model"]` in hashiru.toml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    context_tokens: int | None = Field(None, ge=256)  # its window, where the backend does not say
    memory_gib: Decimal | None = Field(None, gt=0)  # what it holds, where the backend does not say


MCP_SERVER_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"
"""A server's name: short, and safe inside a tool name `<server>__<tool>` every provider takes."""


class McpServerSettings(BaseModel):
    """One MCP server (`[mcp_servers.NAME]` in hashiru.toml): a `command` HASHIRU starts (stdio)
    or a `url` it connects to (streamable HTTP). `env` and `headers` may hold secrets, so they
    are SecretStr: never shown."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, SecretStr] = Field(default_factory=dict)
    cwd: Path | None = None
    url: str | None = None
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    enabled: bool = True
    # before a tool of the server runs: ask every call, the first call per process, or never;
    # None: "once" for a command (it runs code on this machine), "never" for a url
    approval: Literal["always", "once", "never"] | None = None
    timeout: float = Field(60.0, gt=0, allow_inf_nan=False)  # seconds per call (and to start)

    @model_validator(mode="after")
    def _one_transport(self) -> Self:
        if (self.command is None) == (self.url is None):
            raise ValueError("give either command (a program to start) or url, not both")
        if self.url is not None and (self.args or self.env or self.cwd):
            raise ValueError("args, env and cwd are for a command, not a url")
        if self.command is not None and self.headers:
            raise ValueError("headers are for a url, not a command")
        return self

    @property
    def transport(self) -> Literal["stdio", "http"]:
        return "stdio" if self.command is not None else "http"

    @property
    def approval_mode(self) -> Literal["always", "once", "never"]:
        return self.approval or ("once" if self.transport == "stdio" else "never")


ENDPOINT_NAME = r"^[a-z][a-z0-9_-]{0,31}$"
"""An endpoint's name: the `NAME:` of its models, so lower case and no colon."""


class EndpointSettings(BaseModel):
    """One OpenAI-compatible server (`[endpoints.NAME]` in hashiru.toml): vLLM, SGLang, llama.cpp
    server, LM Studio, or a cloud gateway. Its models are hired as `NAME:<model>`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str  # up to and including `/v1`
    api_key_env: str | None = None  # the environment variable holding its key; None: no key
    api_key: SecretStr | None = None  # read from api_key_env when settings are loaded
    local: bool = False  # True: its employees cost memory on it, not dollars
    # what a local endpoint may hold for HASHIRU's employees; None: it shares this machine's budget
    memory_gib: Decimal | None = Field(None, gt=0)
    prices: dict[str, PriceOverride] = Field(default_factory=dict)  # a cloud one's, by model

    @model_validator(mode="after")
    def _local_or_priced(self) -> Self:
        if self.local and self.prices:
            raise ValueError("a local endpoint costs memory, not dollars: drop its prices")
        if self.memory_gib is not None and not self.local:
            raise ValueError("memory_gib is for a local endpoint (local = true)")
        return self

    @field_validator("api_key_env")
    @classmethod
    def _variable_name(cls, name: str | None) -> str | None:
        if name is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"{name!r} is not an environment variable's name")
        return name


class OllamaHost(BaseModel):
    """One Ollama server of the pool; without `memory_gib` it shares this machine's budget."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    memory_gib: Decimal | None = Field(None, gt=0)  # what HASHIRU's employees may hold on it


class _Choices(BaseModel):
    """What a run or a session may choose; Settings holds the defaults, RunPolicy one choice."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ceo_model: str | None = None
    max_steps: int = Field(12, ge=1, le=200)
    max_seconds: float = Field(600.0, gt=0, allow_inf_nan=False)
    max_usd: Decimal | None = Field(None, ge=0)  # one run's spending cap; None: the budget's
    tool_approval: bool = False  # ask the user before a newly created tool is enabled

    enable_agent_creation: bool = True
    enable_local_agents: bool = True
    enable_cloud_agents: bool = True
    enable_tool_creation: bool = True
    enable_tool_invocation: bool = True
    enable_resource_budget: bool = True
    enable_economy_budget: bool = True
    enable_memory: bool = True

    def enabled(self, switch: str) -> bool:
        return bool(getattr(self, f"enable_{switch}"))

    def updated(self, **changes: Any) -> Self:
        """A validated copy with `changes` applied; a bad value raises ConfigError."""
        return _validated(type(self), {**dict(self), **changes})


class RunPolicy(_Choices):
    """One run's (or one app session's) choices: CEO model, caps, the eight switches, the
    run's spending cap and tool approval.

    A frozen value handed to `Hashiru.run`: sessions with different policies share one
    workspace (its ledger, team, tools and memories) without copies of it.
    """


class Settings(_Choices):
    """The workspace's configuration, and the default RunPolicy (`policy()`)."""

    home: Path = Field(default_factory=default_home)
    max_tokens: int = Field(1024, ge=16)
    request_timeout: float = Field(120.0, gt=0, allow_inf_nan=False)
    retries: int = Field(3, ge=0, le=10)

    budget_usd: Decimal = Field(Decimal("5.00"), ge=0)
    memory_gib: Decimal | None = Field(None, gt=0)  # None: the machine's memory less the reserve
    memory_reserve_gib: Decimal = Field(Decimal("2"), ge=0)
    hire_fee_usd: Decimal = Field(Decimal("0.01"), ge=0)
    local_usd_per_hour: Decimal = Field(Decimal("0"), ge=0)
    budget_warnings: tuple[float, ...] = (0.5, 0.8)
    # what a right answer is worth: `auto:<kind>` hires trade success against cost at this rate
    answer_value_usd: Decimal = Field(Decimal("0.05"), gt=0)
    prices: dict[str, PriceOverride] = Field(default_factory=dict)

    models: dict[str, ModelSettings] = Field(default_factory=dict)  # by "provider:model"
    context_tokens_default: int = Field(8192, ge=512)  # a window when nothing says a model's
    context_fill: float = Field(0.8, ge=0.2, le=0.95)  # compact a request that would fill more
    compaction_model: str | None = None  # writes the summaries; None: each agent's own model
    ollama_num_ctx: int = Field(8192, ge=512)  # the most context Ollama is asked to hold (KV cache)

    mcp_servers: dict[str, McpServerSettings] = Field(default_factory=dict)  # by server name
    # web_search: "auto" picks SearXNG when searxng_url is set, else Brave with a key, else ddgs
    web_search_backend: Literal["auto", "searxng", "brave", "ddgs"] = "auto"
    searxng_url: str | None = None  # your SearXNG instance (its JSON API must be enabled)
    brave_api_key: SecretStr | None = None
    web_search_max_results: int = Field(10, ge=1, le=50)

    # spans of every run (OpenTelemetry GenAI conventions), kept in memory for --trace and the app
    tracing: bool = False
    # export them over OTLP/HTTP; set when OTEL_EXPORTER_OTLP_ENDPOINT or its _TRACES_ form is
    trace_export: bool = False
    trace_content: bool = False  # prompts, answers and tool arguments in spans too (never keys)

    workspace: Path | None = None  # the file tools' folder; None: HASHIRU_HOME/workspace
    tool_imports: tuple[str, ...] = ()  # modules beyond the standard library a tool may import
    sandbox_cpu_seconds: int = Field(5, ge=1)
    sandbox_wall_seconds: float = Field(10.0, gt=0, allow_inf_nan=False)
    sandbox_memory_mb: int = Field(512, ge=64)
    sandbox_file_size_mb: int = Field(16, ge=1)
    sandbox_output_kb: int = Field(1024, ge=1)
    fetch_allow_private: bool = False  # let fetch_url reach loopback and private addresses
    fetch_max_bytes: int = Field(2_000_000, ge=1024)
    fetch_timeout: float = Field(20.0, gt=0, allow_inf_nan=False)

    memory_top_k: int = Field(5, ge=1, le=50)  # memories recalled per search
    memory_min_similarity: float = Field(0.35, ge=-1, le=1)  # cosine; weaker matches are dropped
    memory_dedupe_similarity: float = Field(0.92, ge=0, le=1)  # a new memory this close updates
    memory_chroma_url: str | None = None  # a Chroma server; None: HASHIRU_HOME/chroma on disk
    # minilm (local, offline), chroma-default (downloads), ollama:<model> or gemini:<model>
    memory_embedding: str = "minilm"

    ollama_host: str = "http://127.0.0.1:11434"
    # several Ollama servers: URLs, or {url, memory_gib} tables; empty: ollama_host alone
    ollama_hosts: tuple[OllamaHost, ...] = ()
    # hiring an Ollama model no host has: ask the person (the CLI and the app; the Python API has
    # nobody to ask, so it never pulls), always pull, or never
    ollama_pull: PullMode = "ask"
    endpoints: dict[str, EndpointSettings] = Field(default_factory=dict)  # by name
    gemini_api_key: SecretStr | None = None
    gemini_base_url: str | None = None
    gemini_default_model: str = "gemini-2.5-flash"
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    anthropic_default_model: str = "claude-sonnet-4-6"
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None  # any Chat Completions server; None: api.openai.com
    openai_default_model: str = "gpt-4.1-mini"

    @field_validator("ollama_hosts", mode="before")
    @classmethod
    def _host_urls(cls, hosts: Any) -> Any:
        """A host given as its URL alone; a comma-separated list from the environment."""
        if isinstance(hosts, str):
            hosts = [part for part in hosts.split(",") if part.strip()]
        if isinstance(hosts, list | tuple):
            return [{"url": h.strip()} if isinstance(h, str) else h for h in hosts]
        return hosts

    @field_validator("ollama_hosts")
    @classmethod
    def _distinct_hosts(cls, hosts: tuple[OllamaHost, ...]) -> tuple[OllamaHost, ...]:
        urls = [host_url(h.url) for h in hosts]
        if len(set(urls)) < len(urls):
            raise ValueError("a host is listed twice")
        return tuple(h.model_copy(update={"url": u}) for h, u in zip(hosts, urls, strict=True))

    @field_validator("endpoints")
    @classmethod
    def _endpoint_names(cls, endpoints: dict[str, EndpointSettings]) -> dict:
        for name in endpoints:
            if not re.fullmatch(ENDPOINT_NAME, name):
                raise ValueError(
                    f"name {name!r}: use up to 32 lower-case letters, digits, '-' or '_'"
                )
        return endpoints

    @field_validator("mcp_servers")
    @classmethod
    def _server_names(cls, servers: dict[str, McpServerSettings]) -> dict[str, McpServerSettings]:
        for name in servers:
            if not re.fullmatch(MCP_SERVER_NAME, name):
                raise ValueError(f"name {name!r}: use up to 32 letters, digits, '-' or '_'")
        return servers

    @property
    def pool(self) -> tuple[OllamaHost, ...]:
        """The Ollama hosts hires are placed on: `ollama_hosts`, else `ollama_host` alone."""
        return self.ollama_hosts or (OllamaHost(url=host_url(self.ollama_host)),)

    @property
    def host_memory_bytes(self) -> dict[str, int]:
        """The memory budgets of their own: each Ollama host's and local endpoint's that has a
        `memory_gib`, by the host an employee records (its URL, the endpoint's name)."""
        hosts = {host.url: host.memory_gib for host in self.ollama_hosts}
        endpoints = {name: e.memory_gib for name, e in self.endpoints.items() if e.local}
        return {host: int(gib * GIB) for host, gib in {**hosts, **endpoints}.items() if gib}

    def policy(self) -> RunPolicy:
        """The run policy these settings give when a run or session chooses nothing else."""
        return RunPolicy.model_validate(self.model_dump(include=set(RunPolicy.model_fields)))

    @property
    def workspace_dir(self) -> Path:
        return (self.workspace or self.home / "workspace").expanduser()

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read settings; `overrides` (e.g. from CLI flags) win over everything else."""
        environ = os.environ if environ is None else environ
        home = Path(overrides.get("home") or environ.get("HASHIRU_HOME") or default_home())
        values: dict[str, Any] = {"home": home}
        values.update(_read_toml(home.expanduser() / "hashiru.toml"))
        for name in cls.model_fields:
            for env_name in (f"HASHIRU_{name.upper()}", *_ENV_ALIASES.get(name, ())):
                if environ.get(env_name):
                    values[name] = environ[env_name]
                    break
        values.update({k: v for k, v in overrides.items() if v is not None})
        values["endpoints"] = _with_keys(values.get("endpoints"), environ)
        if any(environ.get(name) for name in OTLP_ENDPOINTS):
            values.setdefault("trace_export", True)
        return _validated(cls, values)


def _with_keys(endpoints: Any, environ: Mapping[str, str]) -> Any:
    """Each endpoint's key, read from the variable its `api_key_env` names."""
    if not isinstance(endpoints, dict):
        return endpoints if endpoints is not None else {}
    return {
        name: {**table, "api_key": environ[table["api_key_env"]]}
        if isinstance(table, dict) and environ.get(str(table.get("api_key_env")))
        else table
        for name, table in endpoints.items()
    }


def _validated(model: type[M], values: dict[str, Any]) -> M:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc, settings=issubclass(model, Settings))) from None


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an address) is this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_url(host: str) -> str:
    """An Ollama host as a URL, the way OLLAMA_HOST is read: a bare host gets `http://` and
    Ollama's port (`gpu-box` is `http://gpu-box:11434`); a URL stays as given, less a trailing /."""
    text = host.strip().rstrip("/")
    if "://" in text:
        return text
    head, slash, path = text.partition("/")
    if not re.search(r"(^[^:]*|\]):\d+$", head):  # no port (an IPv6 address is in [])
        head += ":11434"
    return f"http://{head}{slash}{path}"


_TABLES = frozenset({"prices", "models", "mcp_servers", "endpoints"})
"""Settings that are tables in hashiru.toml, with no environment variable of their own."""


def _one_line(exc: ValidationError, settings: bool) -> str:
    """The first problem, naming where a setting comes from, or the run policy's field."""
    error = exc.errors()[0]
    name = ".".join(str(part) for part in error["loc"]) or "settings"
    if error["type"] == "extra_forbidden":
        return f"Unknown setting '{name}' (check hashiru.toml for a typo)."
    value = error.get("input")
    secret = any(word in name for word in ("key", "env", "headers"))
    # a table is not shown: it may hold a secret (an MCP server's env or headers)
    got = "" if isinstance(value, dict) else f", got {'***' if secret else repr(value)}"
    in_toml = "." in name or name in _TABLES
    source = "in hashiru.toml" if in_toml else f"HASHIRU_{name.upper()}"
    where = f"setting '{name}' ({source})" if settings else f"'{name}' for a run"
    return f"Invalid {where}: {error['msg']}{got}."
