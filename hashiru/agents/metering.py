"""Paying for model calls: reserve the worst case before a call, settle the real cost after.

Providers know nothing about money and the ledger knows nothing about SDKs; this is where the
two meet. A `MeteredModel` looks like any chat model to the loop and to employees, but every
call is held against the budget first (input bytes as an upper bound on input tokens, plus
`max_tokens` of output), so concurrent calls can never spend past it, and is then settled at
the provider-reported usage. A cancelled call releases its hold; a failed one settles at zero.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal

from hashiru import tracing
from hashiru.economy.ledger import BudgetState, Ledger, Reservation
from hashiru.economy.prices import PriceBook
from hashiru.economy.resources import gib
from hashiru.errors import ProviderError
from hashiru.messages import Message, ModelResponse, TextDelta, ToolSpec, Usage
from hashiru.providers import ChatModel
from hashiru.providers.base import StreamItem
from hashiru.settings import RunPolicy, Settings

REPLAY_SOURCE = "replay"
"""The price source of a call played back from a cassette: it cost nothing."""
MESSAGE_OVERHEAD_TOKENS = 16  # a chat template's role markers and separators, per message


def input_token_bound(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> int:
    """An upper bound on a request's input tokens: no tokenizer makes a token of under a byte."""
    sent = sum(len(m.model_dump_json().encode()) for m in messages)
    schemas = len(json.dumps([t.model_dump() for t in tools]).encode()) if tools else 0
    return sent + schemas + MESSAGE_OVERHEAD_TOKENS * len(messages)


@dataclass(frozen=True)
class MeterConfig:
    """The workspace settings a till needs: the output cap per call, the longest a local call
    may be held for, and the shares of the budget at which the CEO is warned."""

    max_tokens: int
    request_timeout: float
    budget_warnings: tuple[float, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> MeterConfig:
        return cls(settings.max_tokens, settings.request_timeout, settings.budget_warnings)


@dataclass
class Bill:
    """Filled in by the caller of `Meter.paying` with what the call reported."""

    usage: Usage = field(default_factory=Usage)
    cost_usd: Decimal = Decimal(0)
    response: ModelResponse | None = None  # the reply, for the call's span


class Meter:
    """One run's till: every model call of the run, the CEO's and its employees', goes here.

    It charges by the run's policy: the run's spending cap, and whether the expense budget is
    enforced at all.
    """

    def __init__(
        self,
        ledger: Ledger,
        prices: PriceBook,
        config: MeterConfig,
        run_id: str,
        policy: RunPolicy,
    ) -> None:
        self.ledger = ledger
        self.prices = prices
        self.config = config
        self.run_id = run_id
        self.policy = policy
        self._warned = 0.0
        self._latest: BudgetState | None = None  # the budgets after this run's latest call
        self.peak_input_tokens: dict[str, int] = {}  # each agent's largest request this run

    def metered(self, model: ChatModel, agent: str, note: str = "") -> MeteredModel:
        """`model`, paid for as `agent`; `note` marks its ledger rows (e.g. compaction)."""
        return MeteredModel(model, self, agent, note)

    @asynccontextmanager
    async def paying(
        self,
        agent: str,
        model: ChatModel,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        max_tokens: int,
        note: str = "",
    ) -> AsyncIterator[Bill]:
        """Pay for one call (see `_paid`), inside its `chat <model>` span."""
        with tracing.span(
            f"chat {model.name}", **self._chat_span(agent, model, messages, note)
        ) as span:
            async with self._paid(agent, model, messages, tools, max_tokens, note) as bill:
                yield bill
            span.set(**_reply_span(bill, self._latest))

    def _chat_span(
        self, agent: str, model: ChatModel, messages: Sequence[Message], note: str
    ) -> dict[str, object]:
        """A `chat <model>` span's attributes (GenAI conventions, and who pays for it)."""
        attributes: dict[str, object] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": tracing.provider_name(model.provider.name),
            "gen_ai.request.model": model.name,
            "hashiru.agent": agent,
            "hashiru.run_id": self.run_id,
            "hashiru.note": note or None,
        }
        if tracing.content_traced():
            turns = [m.model_dump(mode="json", exclude_defaults=True) for m in messages]
            attributes["gen_ai.input.messages"] = tracing.as_text(turns)
        return attributes

    @asynccontextmanager
    async def _paid(
        self,
        agent: str,
        model: ChatModel,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        max_tokens: int,
        note: str,
    ) -> AsyncIterator[Bill]:
        provider, name = model.provider.name, model.name
        if model.provider.replayed:
            worst = Decimal(0)
        elif model.local:
            worst = self.prices.local_cost(self.config.request_timeout)
        else:
            bound = input_token_bound(messages, tools)
            worst = self.prices.worst_case(provider, name, bound, max_tokens)
        hold = await asyncio.to_thread(
            self.ledger.reserve,
            run_id=self.run_id,
            agent=agent,
            model=model.ref,
            provider=provider,
            usd=worst,
            run_limit_usd=self.policy.max_usd,
            enforce=self.policy.enable_economy_budget,
        )
        bill = Bill()
        started = time.monotonic()
        try:
            yield bill
        except ProviderError:
            await self._settle(hold, bill, model, started, ok=False, note=note)
            raise
        except BaseException:
            await asyncio.to_thread(self.ledger.release, hold, "the call was cancelled")
            raise
        peak = self.peak_input_tokens.get(agent, 0)
        self.peak_input_tokens[agent] = max(peak, bill.usage.input_tokens)
        await self._settle(hold, bill, model, started, ok=True, note=note)

    async def _settle(
        self, hold: Reservation, bill: Bill, model: ChatModel, started: float, ok: bool, note: str
    ) -> None:
        seconds = time.monotonic() - started
        replayed = bill.response is not None and bill.response.replayed
        if model.provider.replayed or replayed:
            bill.cost_usd, source, note = Decimal(0), REPLAY_SOURCE, note or "replayed"
        elif model.local:
            bill.cost_usd, source = self.prices.local_cost(seconds), "local compute"
        else:
            bill.cost_usd = self.prices.cost(model.provider.name, model.name, bill.usage)
            source = self.prices.price(model.provider.name, model.name).source
        self._latest = await asyncio.to_thread(
            self.ledger.settle,
            hold,
            usd=bill.cost_usd,
            usage=bill.usage,
            seconds=seconds,
            price_source=source,
            ok=ok,
            note=note,
        )

    def notices(self) -> list[str]:
        """Budget warnings the CEO has not seen yet: each threshold is said once per run.

        Read from the budgets as this run's latest settled call left them (the ledger returns
        them with the settlement), so a step costs no extra read of the ledger.
        """
        state = self._latest
        if state is None or not state.usd_total:
            return []
        used = float(state.usd_spent / state.usd_total)
        crossed = [t for t in self.config.budget_warnings if t <= used and t > self._warned]
        if not crossed:
            return []
        self._warned = max(crossed)
        if used >= 1:
            return [
                f"The expense budget is exhausted (${state.usd_spent:.4f} of "
                f"${state.usd_total:.2f}): finish with what you have, or use a local employee."
            ]
        return [
            f"{used:.0%} of the ${state.usd_total:.2f} expense budget is spent "
            f"(${state.usd_free:.4f} left): prefer local employees and finish soon."
        ]


class Costed:
    """A chat model that says what each call cost: `complete` is `complete_with_cost` less
    the cost."""

    async def complete_with_cost(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec] = (), max_tokens: int = 0
    ) -> tuple[ModelResponse, Decimal]:
        raise NotImplementedError

    async def complete(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec] = (), max_tokens: int = 0
    ) -> ModelResponse:
        response, _ = await self.complete_with_cost(messages, tools, max_tokens)
        return response


@dataclass(frozen=True)
class MeteredModel(Costed):
    """A chat model whose every call is paid for through a Meter, as `agent`."""

    model: ChatModel
    meter: Meter
    agent: str
    note: str = ""

    @property
    def ref(self) -> str:
        return self.model.ref

    def _paying(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], limit: int
    ) -> AbstractAsyncContextManager[Bill]:
        return self.meter.paying(self.agent, self.model, messages, tools, limit, self.note)

    async def complete_with_cost(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec] = (), max_tokens: int = 0
    ) -> tuple[ModelResponse, Decimal]:
        limit = max_tokens or self.meter.config.max_tokens
        async with self._paying(messages, tools, limit) as bill:
            response = await self.model.complete(messages, tools, limit)
            bill.usage, bill.response = response.usage, response
        return response, bill.cost_usd

    async def stream(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec] = (), max_tokens: int = 0
    ) -> AsyncIterator[StreamItem]:
        limit = max_tokens or self.meter.config.max_tokens
        async with self._paying(messages, tools, limit) as bill:
            async for item in self.model.stream(messages, tools, limit):
                if not isinstance(item, TextDelta):
                    bill.usage, bill.response = item.usage, item
                yield item


def _reply_span(bill: Bill, budgets: BudgetState | None) -> dict[str, object]:
    """What a finished call adds to its span: usage, dollars, the memory local models hold
    after it, and the reply when traced."""
    attributes: dict[str, object] = {
        "gen_ai.usage.input_tokens": bill.usage.input_tokens,
        "gen_ai.usage.output_tokens": bill.usage.output_tokens,
        "hashiru.cost_usd": bill.cost_usd,
        "hashiru.memory_used_gib": gib(budgets.memory_used_bytes) if budgets else None,
    }
    if (reply := bill.response) is not None:
        attributes["gen_ai.response.model"] = reply.model or None
        attributes["gen_ai.response.finish_reasons"] = [reply.stop_reason or ""]
        if tracing.content_traced():
            attributes["gen_ai.output.messages"] = tracing.as_text(
                reply.as_message().model_dump(mode="json", exclude_defaults=True)
            )
    return attributes
