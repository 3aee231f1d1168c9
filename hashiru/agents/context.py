"""Context keeping: every request an agent sends fits its model's window, the CEO's and each
employee's, and what is left out is summarized, never silently cut.

Why here and not in the providers: a provider that overflows fails (or, like Ollama, cuts the
prompt from the front, system prompt first); only the agent layer knows which messages matter.
So before each call a `ContextKeeper` counts the request and, past `context_fill` of the
window, works on a copy of the messages (the full history stays with the caller, and in a saved
conversation):

1. a tool result larger than a share of the window is cut to its head and tail, with a note;
2. old tool results are shortened to a stub saying what was there and how big (oldest first);
3. the oldest exchanges are replaced by a summary a model writes (metered and paid like any
   call; if it cannot be paid or fails, they are replaced by a note that they were left out);
4. as a last resort, the largest remaining contents are cut to head and tail.

Never dropped: the system prompt, the latest user message, the last exchanges, and a tool call
without its results (cuts fall just before an assistant message, so its results go with it).
Compaction aims well below the threshold, so its summary is reused for many calls after.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import itertools
import json
import math
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from hashiru.agents.events import ContextCompacted, Event
from hashiru.agents.loop import LAST_STEP_NOTE
from hashiru.agents.metering import Costed, Meter, MeteredModel
from hashiru.errors import HashiruError
from hashiru.messages import Message, ModelResponse, ToolResult, ToolSpec, Usage
from hashiru.providers import Providers
from hashiru.providers.base import StreamItem
from hashiru.settings import Settings

Summarize = Callable[[str, int], Awaitable[str]]
"""Writes a summary of a text in at most so many tokens (a metered model call)."""
Emit = Callable[[Event], None]

MESSAGE_TOKENS = 4  # a chat template's role markers and separators, per message
RESULT_SHARE = 0.25  # the most of the free room (the limit less the system prompt and the
# tool schemas, which every request carries) that one tool result may take
TARGET_SHARE = 0.6  # compaction aims to fill this share of the free room, leaving room to grow
KEEP_EXCHANGES = 2  # the last assistant messages (with their results) are never summarized
STUB_CHARS = 160  # what a shortened tool result keeps of its start
COMPACTION_NOTE = "context compaction"  # on the ledger rows of the calls that write summaries
SUMMARY_PROMPT = (
    "You compress an AI agent's working conversation so it can go on with less context. "
    "Write a concise summary of what was asked, what was done (tools called, employees asked "
    "and what they answered), the facts and numbers found, and what is still open. Keep exact "
    "values, names and decisions; drop pleasantries. Plain text, no preamble."
)
_PIECES = re.compile(r"\w{1,4}|[^\w\s]")
SIZES_KEPT = 50_000
_SIZES: OrderedDict[int, tuple[Message, int]] = OrderedDict()


@dataclass(frozen=True)
class ContextConfig:
    """The workspace settings context keeping needs."""

    fill: float  # compact a request that would fill more of its model's window than this
    default_window: int  # a model's window when neither its backend nor a setting says
    compaction_model: str | None  # writes the summaries; None: the agent's own model
    max_output_tokens: int  # a reply's cap: the window must hold it too

    @classmethod
    def from_settings(cls, settings: Settings) -> ContextConfig:
        return cls(
            settings.context_fill,
            settings.context_tokens_default,
            settings.compaction_model,
            settings.max_tokens,
        )


class TokenCounter:
    """A request's input tokens, estimated so that it does not fall short of the real count.

    Pieces are counted: a punctuation mark, or up to four letters or digits of a word (more
    than most tokenizers make of text). Once the model's calls have reported their real
    counts, that is scaled by the largest ratio of real to counted seen, plus a margin.
    """

    MARGIN = 1.05

    def __init__(self) -> None:
        self.scale = 1.0
        self.observed = 0.0  # the largest ratio of real to counted seen so far
        self._tools = ("", 0)  # the latest tool schemas, as JSON, and their pieces
        self._seen: tuple[ToolSpec, ...] = ()  # the spec objects those were counted of

    def count(self, messages: Sequence[Message], tools: Sequence[ToolSpec] = ()) -> int:
        return self.scaled(self.raw(messages, tools))

    def raw(self, messages: Sequence[Message], tools: Sequence[ToolSpec] = ()) -> int:
        return self._schemas(tools) + sum(message_pieces(m) for m in messages)

    def _schemas(self, tools: Sequence[ToolSpec]) -> int:
        """The tool schemas' pieces (remembered: every step sends the same ones)."""
        if not tools:
            return 0
        seen = self._seen
        if len(tools) == len(seen) and all(a is b for a, b in zip(tools, seen, strict=True)):
            return self._tools[1]  # the very specs just counted (one request, counted twice)
        text = json.dumps([t.model_dump() for t in tools])
        if text != self._tools[0]:
            self._tools = (text, _pieces(text))
        self._seen = tuple(tools)
        return self._tools[1]

    def scaled(self, raw: int) -> int:
        """Tokens, from the pieces `raw` counted."""
        return math.ceil(raw * self.scale)

    def observe(self, raw: int, usage: Usage) -> None:
        """Learn from a call: its real input tokens against the pieces counted of it."""
        if raw and usage.input_tokens:
            self.observed = max(self.observed, usage.input_tokens / raw)
            self.scale = self.observed * self.MARGIN

    def tokens_of(self, text: str) -> int:
        return math.ceil(_pieces(text) * self.scale)


def message_pieces(message: Message) -> int:
    """Words and punctuation of a message (remembered: a run counts its messages every step)."""
    hit = _SIZES.get(id(message))
    if hit is not None and hit[0] is message:
        return hit[1]
    pieces = _message_pieces(message)
    _SIZES[id(message)] = (message, pieces)  # the message is kept, so its id is not reused
    if len(_SIZES) > SIZES_KEPT:
        _SIZES.popitem(last=False)
    return pieces


def _message_pieces(message: Message) -> int:
    text = message.text
    for call in message.tool_calls:
        text += f" {call.name} {json.dumps(call.arguments, ensure_ascii=False)}"
    for result in message.tool_results:
        text += f" {result.name} {result.content}"
    return _pieces(text) + MESSAGE_TOKENS


def _pieces(text: str) -> int:
    return len(_PIECES.findall(text))


@dataclass
class ContextKeeper:
    """Keeps one agent's requests within its model's window (see the module's docstring).

    It remembers what it compacted (the summary and the results it shortened), so the next
    request of the same conversation reuses them instead of paying for a new summary.
    """

    agent: str
    window: int
    counter: TokenCounter
    config: ContextConfig
    sent: int = 0  # the pieces counted of the latest request it let through
    _summary: tuple[str, int, Message] | None = None  # (fingerprint, messages covered, summary)
    _shortened: set[str] = field(default_factory=set)  # call ids of results cut to a stub
    _cut_ids: set[str] = field(default_factory=set)  # call ids of results cut to head and tail
    _clips: dict[int, tuple[Message, Message, int]] = field(default_factory=dict)  # by id
    _stubs: dict[int, tuple[Message, Message]] = field(default_factory=dict)  # by id(original)
    _covered: tuple[Message, ...] = ()  # the messages the summary stands for
    _floor: int = 0  # what every request of this agent carries: system prompt, tool schemas

    @property
    def limit(self) -> int:
        """The most input tokens a request may carry: `fill` of the window, and room to reply."""
        room = self.window - self.config.max_output_tokens
        return max(256, min(int(self.window * self.config.fill), room))

    async def fit(
        self,
        messages: list[Message],
        tools: Sequence[ToolSpec],
        summarize: Summarize,
        emit: Emit,
    ) -> list[Message]:
        """`messages` as this request should carry them: as they are when they fit."""
        self.sent = self.counter.raw(messages, tools)
        before = self.counter.scaled(self.sent)
        how: list[str] = []
        self._floor = self.counter.count(messages[:1], tools)
        fitted, shift = self._with_summary(messages)
        fitted = self._clip_large(fitted, how)
        stages = (
            lambda: self._shorten(fitted, tools, how),
            lambda: self._summarize(messages, fitted, shift, tools, summarize, how),
            lambda: self._clip_largest(fitted, tools, how),
        )
        for stage in stages:
            if fitted is not messages:  # changed: count it again
                self.sent = self.counter.raw(fitted, tools)
            if self.counter.scaled(self.sent) <= self.limit:
                break
            fitted = stage()
            fitted = await fitted if inspect.isawaitable(fitted) else fitted
        else:
            self.sent = self.counter.raw(fitted, tools)
        after = self.counter.scaled(self.sent)
        if how:
            emit(
                ContextCompacted(
                    agent=self.agent,
                    tokens_before=before,
                    tokens_after=after,
                    window=self.window,
                    how="; ".join(how),
                )
            )
        return fitted

    @property
    def _free(self) -> int:
        """The room a request has for its conversation: the limit less what every request
        carries (the system prompt and the tool schemas)."""
        return max(0, self.limit - self._floor)

    @property
    def _target(self) -> float:
        """What compaction aims at: the fixed part, and a share of the free room."""
        return self._floor + self._free * TARGET_SHARE

    def _over(self, messages: list[Message], tools: Sequence[ToolSpec]) -> bool:
        return self.counter.count(messages, tools) > self.limit

    def _clip_large(self, messages: list[Message], how: list[str]) -> list[Message]:
        """Each tool result over its share of the free room cut to head and tail, with a note
        (made once per message: a run carries its results for many steps)."""
        most = max(64, int(self._free * RESULT_SHARE))
        fitted = []
        new = 0
        changed = False
        for message in messages:
            if message.tool_results and message_pieces(message) * self.counter.scale > most:
                made = self._clips.get(id(message))
                if made is None or made[0] is not message or made[2] != most:
                    made = (message, self._clipped(message, most), most)
                    self._clips[id(message)] = made
                ids = {r.call_id for r in message.tool_results}
                if made[1] is not message and not ids <= self._cut_ids:
                    self._cut_ids |= ids
                    new += 1
                changed = changed or made[1] is not message
                message = made[1]
            fitted.append(message)
        if new:
            how.append(f"cut {_count(new, 'large tool result')} to head and tail")
        return fitted if changed else messages

    def _clipped(self, message: Message, most: int) -> Message:
        """`message` with each of its tool results over `most` tokens cut to head and tail."""
        results = [
            r.model_copy(update={"content": self.clip(r.content, most)})
            if self.counter.tokens_of(r.content) > most
            else r
            for r in message.tool_results
        ]
        if results == message.tool_results:
            return message
        return message.model_copy(update={"tool_results": results})

    def _with_summary(self, messages: list[Message]) -> tuple[list[Message], int]:
        """The summary made for an earlier request in place of the messages it covers, and
        how far the indices moved (a fitted message at index i >= 2 is messages[i + shift])."""
        if self._summary is None:
            return messages, 0
        fingerprint, covered, summary = self._summary
        if len(messages) <= covered or not self._same(messages[1:covered], fingerprint):
            self._summary = None  # another conversation, or it changed: summarize afresh
            return messages, 0
        return [messages[0], summary, *messages[covered:]], covered - 2

    def _same(self, messages: list[Message], fingerprint: str) -> bool:
        """Whether `messages` are those the summary covers: the very objects (a run's own
        list, cheap to check), or equal ones (an employee's, read again for each question)."""
        if len(messages) == len(self._covered) and all(
            a is b for a, b in zip(messages, self._covered, strict=True)
        ):
            return True
        if _fingerprint(messages) != fingerprint:
            return False
        self._covered = tuple(messages)
        return True

    def _shorten(
        self, messages: list[Message], tools: Sequence[ToolSpec], how: list[str]
    ) -> list[Message]:
        """Old tool results (all but the latest) shortened to stubs, oldest first, until the
        request is well within the limit; results shortened before stay shortened."""
        target = self._target
        total = self.counter.count(messages, tools)
        fitted = list(messages)
        new = 0
        for i in range(_protected_from(messages, exchanges=1)):  # the latest results stay whole
            results = fitted[i].tool_results
            if not results:
                continue
            fresh = [r for r in results if r.call_id not in self._shortened]
            if fresh and total <= target:
                continue  # well within: shorten no more than before
            stubbed = self._stubbed(fitted[i])
            total += self.counter.scale * (message_pieces(stubbed) - message_pieces(fitted[i]))
            fitted[i] = stubbed
            self._shortened.update(r.call_id for r in fresh)
            new += len(fresh)
        if new:
            how.append(f"shortened {_count(new, 'old tool result')}")
        return fitted

    def _stubbed(self, message: Message) -> Message:
        """`message` with its tool results shortened to stubs (made once per message)."""
        made = self._stubs.get(id(message))
        if made is None or made[0] is not message:
            stubs = [_stub(r) for r in message.tool_results]
            made = (message, message.model_copy(update={"tool_results": stubs}))
            self._stubs[id(message)] = made
        return made[1]

    async def _summarize(
        self,
        original: list[Message],
        messages: list[Message],
        shift: int,
        tools: Sequence[ToolSpec],
        summarize: Summarize,
        how: list[str],
    ) -> list[Message]:
        """The oldest exchanges of `messages` (fitted from `original`, indices moved by
        `shift`) replaced by a summary, or by a note that they were left out."""
        cut = self._cut(messages, tools)
        if cut is None:
            return messages
        covered, task = messages[1:cut], _latest_request(original)
        budget = max(64, min(1024, int(self._free * TARGET_SHARE * 0.3)))
        text = self.clip(_transcript(covered), int(self.limit * 0.8))
        try:
            summary = (await summarize(text, budget)).strip()
            done = f"summarized {_count(len(covered), 'earlier message')}"
        except HashiruError as exc:  # e.g. the budget cannot pay for it: leave them out
            summary = f"({len(covered)} earlier messages were left out: {exc})"
            done = f"left out {_count(len(covered), 'earlier message')} (no summary: {exc})"
        note = f"Summary of the conversation so far (older messages were compacted):\n{summary}"
        end = cut + shift  # where the summary ends in the original messages
        if task is not None and original.index(task) < end:  # keep the request, verbatim
            note += f"\n\nThe request being worked on, as the user wrote it:\n{task.text}"
        replaced = Message.user(note)
        self._summary = (_fingerprint(original[1:end]), end, replaced)
        self._covered = tuple(original[1:end])
        how.append(done)
        return [messages[0], replaced, *messages[cut:]]

    def _cut(self, messages: list[Message], tools: Sequence[ToolSpec]) -> int | None:
        """Where the summary's messages end: just before an assistant message (its tool
        results follow it), the earliest that leaves the rest within the target, and never
        inside the last exchanges."""
        protected = _protected_from(messages)
        cuts = [i for i in range(2, protected + 1) if messages[i].role == "assistant"]
        if not cuts:
            return None
        sizes = [message_pieces(m) for m in messages]
        after = list(itertools.accumulate(reversed(sizes)))[::-1]  # after[i]: sizes[i:] summed
        kept = sizes[0] + self.counter.raw([], tools)  # the system prompt and the tools
        for cut in cuts:
            if self.counter.scale * (kept + after[cut]) <= self._target:
                return cut
        return cuts[-1]

    def _clip_largest(
        self, messages: list[Message], tools: Sequence[ToolSpec], how: list[str]
    ) -> list[Message]:
        """Last resort: halve the largest content left until the request fits."""
        fitted = list(messages)
        for _ in range(64):
            if not self._over(fitted, tools):
                break
            i = max(range(1, len(fitted)), key=lambda n: message_pieces(fitted[n]), default=None)
            if i is None:
                break
            fitted[i] = _halved(fitted[i], self)
        how.append("cut the largest remaining messages to head and tail")
        return fitted

    def clip(self, text: str, tokens: int) -> str:
        """`text` cut to about `tokens` tokens: its head and tail, and a note of what is gone."""
        if self.counter.tokens_of(text) <= tokens:
            return text
        chars = max(200, int(len(text) * tokens / max(1, self.counter.tokens_of(text))))
        head, tail = text[: chars * 2 // 3], text[-(chars // 3) :]
        gone = len(text) - len(head) - len(tail)
        return f"{head}\n[… {gone:,} characters cut to fit the context window …]\n{tail}"


class KeptModel(Costed):
    """A metered chat model whose every request is first fitted by a ContextKeeper."""

    def __init__(
        self, model: MeteredModel, keeper: ContextKeeper, summarize: Summarize, emit: Emit
    ) -> None:
        self.model = model
        self.keeper = keeper
        self.summarize = summarize
        self.emit = emit

    @property
    def ref(self) -> str:
        return self.model.ref

    async def fitted(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> list[Message]:
        return await self.keeper.fit(list(messages), tools, self.summarize, self.emit)

    async def complete_with_cost(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec] = (), max_tokens: int = 0
    ) -> tuple[ModelResponse, Decimal]:
        sent = await self.fitted(messages, tools)
        response, cost = await self.model.complete_with_cost(sent, tools, max_tokens)
        self.keeper.counter.observe(self.keeper.sent, response.usage)
        return response, cost

    async def stream(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec] = (), max_tokens: int = 0
    ) -> AsyncIterator[StreamItem]:
        sent = await self.fitted(messages, tools)
        async for item in self.model.stream(sent, tools, max_tokens):
            if isinstance(item, ModelResponse):
                self.keeper.counter.observe(self.keeper.sent, item.usage)
            yield item


class ContextWindows:
    """Each model's window (asked of its backend once) and token counter, shared by a
    workspace's runs; the keepers of its employees, which outlive a run."""

    def __init__(self, providers: Providers, config: ContextConfig) -> None:
        self.providers = providers
        self.config = config
        self._windows: dict[str, int] = {}
        self._counters: dict[str, TokenCounter] = {}
        self._employees: dict[tuple[str, str], ContextKeeper] = {}

    async def window(self, ref: str) -> int:
        """The model's window: what its backend (or a setting) says, else the default."""
        if ref not in self._windows:
            provider, model = self.providers.parse_ref(ref)
            try:  # the first use of a backend imports its SDK: seconds, so not on the loop
                backend = await asyncio.to_thread(self.providers.get, provider)
                info = await backend.describe(model)
                found = info.context_tokens
            except HashiruError:  # the call itself will say what is wrong
                found = None
            self._windows[ref] = found or self.config.default_window
        return self._windows[ref]

    def counter(self, ref: str) -> TokenCounter:
        return self._counters.setdefault(ref, TokenCounter())

    async def keeper(self, agent: str, ref: str, lasting: bool = False) -> ContextKeeper:
        """A keeper for `agent` on `ref`: a new one, or (`lasting`, an employee) the one its
        earlier calls used, with its summary."""
        key = (agent, ref)
        if lasting and key in self._employees:
            return self._employees[key]
        keeper = ContextKeeper(agent, await self.window(ref), self.counter(ref), self.config)
        if lasting:
            self._employees[key] = keeper
        return keeper

    async def kept(
        self, meter: Meter, agent: str, ref: str, emit: Emit, lasting: bool = False, host: str = ""
    ) -> KeptModel:
        """`ref` (loaded on `host`) for `agent`, paid through `meter`, each request fitted to
        its window; its summaries are written by the compaction model, paid as `agent`'s."""
        keeper = await self.keeper(agent, ref, lasting)
        model = meter.metered(self.providers.model(ref, host), agent)
        compaction = self.config.compaction_model
        writer = meter.metered(
            self.providers.model(compaction or ref, "" if compaction else host),
            agent,
            COMPACTION_NOTE,
        )

        async def summarize(text: str, max_tokens: int) -> str:
            prompt = [Message.system(SUMMARY_PROMPT), Message.user(text)]
            return (await writer.complete(prompt, (), max_tokens)).text

        return KeptModel(model, keeper, summarize, emit)

    def forget(self, agent: str) -> None:
        """A fired employee's keeper goes (a new hire of the name starts afresh)."""
        for key in [k for k in self._employees if k[0] == agent]:
            del self._employees[key]


def _protected_from(messages: list[Message], exchanges: int = KEEP_EXCHANGES) -> int:
    """The index from which the last `exchanges` start (an assistant message and the results
    of its calls): they are never summarized away."""
    assistants = [i for i, m in enumerate(messages) if m.role == "assistant"]
    kept = assistants[-exchanges] if len(assistants) >= exchanges else 1
    return max(1, kept)


def _latest_request(messages: list[Message]) -> Message | None:
    """The latest message from the user (a step note the loop adds is not one)."""
    for message in reversed(messages):
        if message.role == "user" and message.text != LAST_STEP_NOTE:
            return message
    return None


def _stub(result: ToolResult) -> ToolResult:
    """A tool result shortened to what it was and how big; the call keeps its result."""
    if result.content.startswith('{"shortened"'):
        return result
    stub = {
        "shortened": f"this result of {len(result.content):,} characters was shortened to keep "
        "the context within the model's window; call the tool again if you need it",
        "began": result.content[:STUB_CHARS],
    }
    return result.model_copy(update={"content": json.dumps(stub, ensure_ascii=False)})


def _halved(message: Message, keeper: ContextKeeper) -> Message:
    half = max(64, message_pieces(message) // 2)
    if message.tool_results:
        results = [
            r.model_copy(update={"content": keeper.clip(r.content, half)})
            for r in message.tool_results
        ]
        return message.model_copy(update={"tool_results": results})
    return message.model_copy(update={"text": keeper.clip(message.text, half)})


def _transcript(messages: Sequence[Message]) -> str:
    """Messages as plain text for the summarizer to read."""
    lines = []
    for message in messages:
        if message.text:
            lines.append(f"{message.role}: {message.text}")
        for call in message.tool_calls:
            lines.append(f"{message.role} called {call.name}({json.dumps(call.arguments)})")
        for result in message.tool_results:
            lines.append(f"{result.name} returned: {result.content}")
    return "\n".join(lines)


def _fingerprint(messages: Sequence[Message]) -> str:
    digest = hashlib.sha256()
    for message in messages:
        digest.update(message.model_dump_json().encode())
    return digest.hexdigest()


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
