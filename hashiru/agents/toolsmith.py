"""The CEO's workshop: built-in tools, the tools it wrote, and the tools to write them.

`create_tool` checks a tool (name, schema, code, imports), asks the user's approval where the
settings or a network need require it, runs it once in the sandbox, and only then registers it;
it is offered from the CEO's next step on. Generated tools and `run_python` run in the sandbox,
never in this process.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path
from typing import Annotated, Any

from jsonschema import Draft202012Validator
from pydantic import BaseModel, Field

from hashiru.settings import RunPolicy
from hashiru.tools import Tool, ToolFailure, tool
from hashiru.tools.files import file_tools
from hashiru.tools.generated import as_tool, check_code, check_name, check_schema
from hashiru.tools.registry import ToolRegistry
from hashiru.tools.sandbox import Sandbox, SandboxError
from hashiru.tools.search import SearchConfig, search_tools
from hashiru.tools.web import FetchConfig, web_tools


class ToolRequest(BaseModel):
    """What the user is asked to approve: a tool the CEO wrote (enable it?), a call to an
    MCP server's tool (run it?) when `server` is set, or downloading a model onto an Ollama
    host for a hire when `pull_host` is set."""

    name: str
    description: str
    code: str = ""  # a written tool's code
    needs_network: bool = False
    server: str | None = None  # the MCP server whose tool the CEO wants to call
    arguments: dict[str, Any] = Field(default_factory=dict)  # that call's arguments
    until_exit: bool = False  # approving the call approves the server's calls until exit
    pull_host: str | None = None  # where the model `name` would be downloaded to

    @property
    def question(self) -> str:
        """What the person answers yes or no to."""
        if self.pull_host is not None:
            return f"Download {self.name} to {self.pull_host}?"
        if self.server is None:
            return "Enable it?"
        if self.until_exit:
            return f"Allow it, and the later calls to {self.server}'s tools until HASHIRU exits?"
        return "Allow this call?"

    @property
    def shown(self) -> tuple[str, str]:
        """What the person reads before answering, and its language: the code, or the call's
        arguments as JSON."""
        if self.pull_host is not None:
            return self.description, "text"
        if self.server is None:
            return self.code, "python"
        return json.dumps(self.arguments, indent=2, ensure_ascii=False), "json"


Approver = Callable[[ToolRequest], Awaitable[bool]]


async def refuse_all(request: ToolRequest) -> bool:
    """The approver when nobody can be asked: nothing that needs approval is enabled."""
    return False


class Toolsmith:
    """The built-in tools, the registry of generated ones, and the sandbox they all run in."""

    def __init__(
        self,
        registry: ToolRegistry,
        sandbox: Sandbox,
        *,
        workspace: Path,
        fetch: FetchConfig,
        search: SearchConfig,
        tool_imports: tuple[str, ...] = (),
    ) -> None:
        self.registry = registry
        self.sandbox = sandbox
        self.workspace = workspace
        self.fetch = fetch
        self.search = search
        self.tool_imports = tool_imports

    def tools(
        self, run_id: str, policy: RunPolicy, approve: Approver, reserved: Collection[str]
    ) -> list[Tool]:
        """What the policy's switches allow now: asked again before every step, so new tools
        appear."""
        creation, invocation = policy.enable_tool_creation, policy.enable_tool_invocation
        offered: list[Tool] = []
        builtins = self.builtin_tools()
        if creation:
            taken = {*reserved, *(t.name for t in builtins), "create_tool", "delete_tool"}
            offered += self._making_tools(run_id, policy.tool_approval, approve, taken)
        if creation or invocation:
            offered.append(tool(self._list_tools(builtins, reserved)))
        if invocation:
            offered += builtins + self.generated_tools()
        return offered

    def builtin_tools(self) -> list[Tool]:
        sandbox = self.sandbox

        async def run_python(
            code: Annotated[str, Field(description="Python; the last expression is returned")],
        ) -> dict[str, Any]:
            """Run Python in a sandbox (no network, no files outside a scratch folder)."""
            return await sandbox.run_python(code)

        return [
            tool(run_python),
            *file_tools(self.workspace),
            *web_tools(self.fetch),
            *search_tools(self.search),
        ]

    def generated_tools(self) -> list[Tool]:
        return [
            as_tool(manifest, self.registry.code(manifest.name), self.sandbox)
            for manifest in self.registry.manifests()
            if manifest.active
        ]

    def _list_tools(self, builtins: list[Tool], reserved: Collection[str]):
        registry = self.registry

        async def list_tools() -> list[dict[str, Any]]:
            """Every tool: built-in or generated, with version and state of generated ones."""
            listed: list[dict[str, Any]] = [
                {"name": name, "origin": "built-in"}
                for name in [*reserved, *(t.name for t in builtins)]
            ]
            for manifest in registry.manifests():
                listed.append(
                    {
                        "name": manifest.name,
                        "origin": "generated",
                        "version": manifest.version,
                        "enabled": manifest.enabled,
                        "approved": manifest.approved,
                        "needs_network": manifest.needs_network,
                        "created_by_run": manifest.versions[-1].created_by_run,
                    }
                )
            return listed

        return list_tools

    def _making_tools(
        self, run_id: str, ask_first: bool, approve: Approver, taken: set[str]
    ) -> list[Tool]:
        registry, sandbox, tool_imports = self.registry, self.sandbox, self.tool_imports

        async def create_tool(
            name: Annotated[str, Field(description="lowercase_with_underscores")],
            description: Annotated[str, Field(description="What it does, for its callers")],
            parameters: Annotated[dict, Field(description="JSON Schema of the arguments")],
            code: Annotated[str, Field(description="Python defining run(**arguments) -> JSON")],
            needs_network: bool = False,
            examples: Annotated[
                list[dict] | None, Field(description="Arguments to try it with before saving")
            ] = None,
        ) -> dict[str, Any]:
            """Write a new tool (or a new version of one) and test it in the sandbox."""
            check_name(name, taken)
            check_schema(parameters)
            check_code(code, tool_imports, needs_network)
            validator = Draft202012Validator(parameters)
            examples = examples or []
            for example in examples:
                if error := next(iter(validator.iter_errors(example)), None):
                    raise ToolFailure(f"example {example} does not fit the schema: {error.message}")
            request = ToolRequest(
                name=name, description=description, code=code, needs_network=needs_network
            )
            approved = not (ask_first or needs_network) or await approve(request)
            network = needs_network and approved
            try:
                trials = [
                    await sandbox.call_tool(code, example, allow_network=network)
                    for example in examples
                ] or [await sandbox.run_python(code)]
            except SandboxError as exc:
                raise ToolFailure(f"the trial run failed, nothing was saved: {exc}") from None
            manifest = await asyncio.to_thread(
                registry.save,
                name=name,
                description=description,
                parameters=parameters,
                code=code,
                needs_network=needs_network,
                approved=approved,
                run_id=run_id,
            )
            outcome: dict[str, Any] = {"created": name, "version": manifest.version}
            if examples:
                outcome["trial_results"] = trials
            outcome["enabled"] = manifest.active
            if not manifest.active:
                outcome["note"] = f"waiting for the user's approval (hashiru tools enable {name})"
            return outcome

        async def delete_tool(
            name: Annotated[str, Field(description="A generated tool")],
        ) -> dict[str, Any]:
            """Remove a generated tool from the offer; it is archived, not destroyed."""
            await asyncio.to_thread(registry.delete, name)
            return {"deleted": name}

        return [tool(create_tool), tool(delete_tool)]
