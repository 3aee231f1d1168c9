"""Where generated tools and `run_python` run: one short-lived, fenced-in process per call.

The CEO writes tools at runtime, so their code is untrusted. Each call runs in its own worker
(`sandbox_child.py`), which puts up rlimits, Landlock, seccomp and an audit hook before the
tool's first line; around it the OS adds bubblewrap or a network namespace where it can. This
side enforces what a process cannot police in itself: the wall clock and the output size (it
kills the process group), and an environment built from nothing, so no key reaches the tool.

Starting Python costs tens of milliseconds, so a small pool of workers per network setting is
started ahead of need: each has its fences up already and waits for one job on stdin, runs it
and exits, so nothing leaks from one call to the next. What is available is probed once per
process with a real worker, in a thread when asked from async code; a layer counts only once a
check inside that worker shows it holding (`layers()` reports those), and anything that fails is
left out silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from hashiru.errors import HashiruError
from hashiru.settings import Settings

CHILD = Path(__file__).with_name("sandbox_child.py")
WORKDIR_PREFIX = "hashiru-tool-"  # sandbox_kernel.py hides the other workers' dirs by it
POOL_SIZE = 2
START_SECONDS = 15.0  # for a worker to come up, beyond the tool's own wall-clock limit
HOME_SECRETS = (
    ".hashiru", ".ssh", ".aws", ".azure", ".gnupg", ".netrc", ".git-credentials", ".docker",
    ".kube", ".pypirc", ".npmrc", ".config/gcloud", ".config/gh", ".config/hashiru",
    ".bash_history", ".zsh_history", ".python_history", ".env",
)  # fmt: skip
SYSTEM_SECRETS = ("/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/etc/ssh")
FENCES = ("rlimit", "landlock", "seccomp", "audit")  # what sandbox_child.py puts up, in order


@dataclass(frozen=True)
class SandboxConfig:
    """What one sandboxed call may use, and what it may never read."""

    cpu_seconds: int
    wall_seconds: float
    memory_mb: int
    file_size_mb: int
    output_kb: int
    tool_imports: tuple[str, ...] = ()  # modules beyond the standard library a tool may import
    protected: tuple[Path, ...] = ()  # besides the usual secret stores (see protected_paths)

    @classmethod
    def from_settings(cls, settings: Settings) -> SandboxConfig:
        """The sandbox_* settings and tool_imports; HASHIRU_HOME and the workspace protected."""
        return cls(
            cpu_seconds=settings.sandbox_cpu_seconds,
            wall_seconds=settings.sandbox_wall_seconds,
            memory_mb=settings.sandbox_memory_mb,
            file_size_mb=settings.sandbox_file_size_mb,
            output_kb=settings.sandbox_output_kb,
            tool_imports=tuple(settings.tool_imports),
            protected=(settings.home, settings.workspace_dir),
        )


class SandboxError(HashiruError):
    """A sandboxed call failed; the message is fit for the model (what happened, which line).

    `stdout` holds what the code printed before it failed.
    """

    def __init__(self, message: str, stdout: str = "") -> None:
        super().__init__(message)
        self.stdout = stdout


@dataclass(frozen=True)
class _Wrapper:
    """The command a worker runs under: bubblewrap, unshare or nothing."""

    kind: str  # "bwrap" | "unshare" | "none"
    program: str = ""
    userns: bool = False  # unshare --user --map-root-user, for users who are not root
    layers: tuple[str, ...] = ()

    def cuts_off(self, seen: dict[str, Any]) -> bool:
        """Whether a worker under this wrapper is cut off the network, as its layers claim: in a
        network namespace of its own, with no interface but loopback. `seen` is the worker's
        view (sandbox_child.network_view); a wrapper that claims nothing has nothing to show."""
        if not self.layers:
            return True
        namespace, interfaces = seen.get("namespace"), seen.get("interfaces")
        return (
            namespace is not None
            and namespace != _network_namespace()
            and interfaces is not None
            and set(interfaces) <= {"lo"}
        )

    def argv(self, network: bool, workdir: str, protected: list[str]) -> list[str]:
        if self.kind == "bwrap":
            argv = [self.program, "--die-with-parent", "--ro-bind", "/", "/", "--dev", "/dev"]
            argv += [] if network else ["--unshare-net"]
            for path in filter(os.path.exists, protected):
                cover = ["--tmpfs"] if os.path.isdir(path) else ["--ro-bind", "/dev/null"]
                argv += [*cover, path]
            return [*argv, "--bind", workdir, workdir, "--"]
        if self.kind == "unshare" and not network:
            return [self.program, *(["--user", "--map-root-user"] if self.userns else []), "--net"]
        return []


@dataclass
class _Worker:
    process: asyncio.subprocess.Process
    workdir: str

    async def discard(self) -> None:
        """Kill the whole process group: under bubblewrap the worker is a grandchild, and one
        left alive would hold the pipes open (asyncio's wait() waits for them)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        # asyncio's wait() returns only once the pipes close, and a stdout reader paused on a
        # full buffer (output we stopped reading) never sees its EOF: read to the end first.
        if self.process.stdout is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.process.stdout.read(), START_SECONDS)
        await self.process.wait()
        _remove_tree(self.workdir)


@dataclass
class _Pool:
    idle: list[_Worker] = field(default_factory=list)
    starting: list[asyncio.Task[_Worker]] = field(default_factory=list)


class Sandbox:
    """Runs untrusted code in fenced, single-use worker processes; see the module docstring.

    Its warm workers belong to the event loop that started them: use one Sandbox per loop and
    `aclose()` it before the loop ends.
    """

    def __init__(self, config: SandboxConfig, *, pool_size: int = POOL_SIZE) -> None:
        self._config = config
        self._pool_size = pool_size
        self._pools = {False: _Pool(), True: _Pool()}  # keyed by allow_network
        self._protected = protected_paths(config)
        self._closed = False
        self._chores: set[asyncio.Future[None]] = set()  # discards of workers no call took

    async def call_tool(self, code: str, arguments: dict, allow_network: bool = False) -> Any:
        """Run `code`'s run(**arguments) and return its JSON result; SandboxError otherwise."""
        job = {"mode": "tool", "code": code, "arguments": arguments}
        return (await self._run(job, allow_network))["result"]

    async def run_python(self, code: str) -> dict:
        """Run a snippet: {"stdout": what it printed, "result": its last expression's value}."""
        envelope = await self._run({"mode": "python", "code": code}, False)
        return {"stdout": envelope["stdout"], "result": envelope["result"]}

    def layers(self) -> list[str]:
        """The fences a worker puts up here, each checked inside a real worker (for `hashiru
        doctor`); network calls skip the network namespace and the network rules. The first
        call probes, which blocks: from async code, `await warm_up()` first."""
        wrapper, child_layers = _detect(self._python())
        return [*child_layers, *wrapper.layers]

    async def warm_up(self, allow_network: bool = False) -> None:
        """Start the pool now, rather than on the first call, and wait until it is ready."""
        pool = self._pools[allow_network]
        self._refill(allow_network)
        await asyncio.gather(*pool.starting, return_exceptions=True)

    async def aclose(self) -> None:
        """Stop the warm workers and remove their working directories."""
        self._closed = True
        for pool in self._pools.values():
            starting, pool.starting = pool.starting, []  # let them start: see _claim
            for outcome in await asyncio.gather(*starting, return_exceptions=True):
                if isinstance(outcome, _Worker):
                    pool.idle.append(outcome)
            idle, pool.idle = pool.idle, []
            await asyncio.gather(*(worker.discard() for worker in idle))
        await asyncio.gather(*self._chores, return_exceptions=True)

    async def _run(self, job: dict[str, Any], network: bool) -> dict[str, Any]:
        if self._closed:
            raise SandboxError("the sandbox is closed")
        try:
            payload = (json.dumps(job, allow_nan=False) + "\n").encode()
        except (TypeError, ValueError) as exc:
            raise SandboxError(f"the tool's arguments are not JSON: {exc}") from None
        worker = await self._acquire(network)
        try:
            output, code = await self._exchange(worker.process, payload)
        finally:
            self._refill(network)  # now, not while the call runs: a start costs a core
            await worker.discard()
        return _envelope(output, code, self._config)

    async def _exchange(
        self, process: asyncio.subprocess.Process, payload: bytes
    ) -> tuple[bytes, int]:
        limits = self._config
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(payload)
            await process.stdin.drain()
            process.stdin.close()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the worker is gone; what it printed says why
        try:
            return await asyncio.wait_for(_collect(process, limits), limits.wall_seconds)
        except TimeoutError:
            seconds = limits.wall_seconds
            raise SandboxError(f"tool exceeded its {seconds:g} s wall-clock limit") from None
        except _TooMuchOutput:
            raise SandboxError(f"tool output exceeded the {limits.output_kb} KB limit") from None

    async def _acquire(self, network: bool) -> _Worker:
        """A ready worker if there is one, else the one that started first, else a new one."""
        pool = self._pools[network]
        while pool.idle:
            worker = pool.idle.pop()
            if worker.process.returncode is None:
                return worker
            await worker.discard()
        self._refill(network)
        if pool.starting:
            task = pool.starting.pop(0)
            self._refill(network)
        else:
            task = asyncio.ensure_future(self._spawn(network))  # no pool: a cold start
        return await self._claim(task)

    async def _claim(self, task: asyncio.Task[_Worker]) -> _Worker:
        """Await a starting worker without ever cancelling its start: asyncio answers a
        cancelled process start by killing the direct child only, and a bubblewrap child
        killed mid-setup leaves its own child holding the pipes, so the wait never ends."""
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            chore = asyncio.ensure_future(self._discard_unclaimed(task))
            self._chores.add(chore)  # at once, so that aclose() waits for a start still going
            chore.add_done_callback(self._chores.discard)
            raise

    async def _discard_unclaimed(self, task: asyncio.Task[_Worker]) -> None:
        try:
            worker = await asyncio.shield(task)
        except Exception:
            return  # it failed to start: nothing to discard
        await worker.discard()

    def _refill(self, network: bool) -> None:
        pool = self._pools[network]
        while not self._closed and len(pool.idle) + len(pool.starting) < self._pool_size:
            task = asyncio.ensure_future(self._spawn(network))
            pool.starting.append(task)
            task.add_done_callback(functools.partial(self._started, pool))

    def _started(self, pool: _Pool, task: asyncio.Task[_Worker]) -> None:
        if task not in pool.starting:
            return  # claimed by a call, which awaits it itself
        pool.starting.remove(task)
        if not task.cancelled() and task.exception() is None:
            pool.idle.append(task.result())  # a failed start shows on the next call instead

    async def _spawn(self, network: bool) -> _Worker:
        python = self._python()
        wrapper, _ = _DETECTED.get(python) or await asyncio.to_thread(_detect, python)
        workdir = _new_workdir()
        argv = [*wrapper.argv(network, workdir, self._protected), *python]
        argv.append(json.dumps(_child_config(self._config, network, workdir, self._protected)))
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env=_environment(workdir),
            start_new_session=True,
        )
        worker = _Worker(process, workdir)
        try:
            await _await_ready(process)
        except BaseException:
            await worker.discard()
            raise
        return worker

    def _python(self) -> tuple[str, ...]:
        return _python(self._config)


def _python(config: SandboxConfig) -> tuple[str, ...]:
    # -S also hides site-packages when tools may import the standard library only.
    site = () if config.tool_imports else ("-S",)
    return (sys.executable, "-I", "-B", *site, str(CHILD))


def protected_paths(config: SandboxConfig) -> list[str]:
    """What no tool may read: the config's protected paths (HASHIRU_HOME, the workspace), the
    usual secret stores in the user's home, a .env beside the process, and the system's password
    and host-key files."""
    home = Path.home()
    paths = [*config.protected, Path.cwd() / ".env", *SYSTEM_SECRETS]
    paths += [home / name for name in HOME_SECRETS]
    return sorted({os.path.realpath(Path(path).expanduser()) for path in paths})


def _child_config(
    config: SandboxConfig,
    network: bool,
    workdir: str,
    protected: list[str],
    fences: tuple[str, ...] = FENCES,
) -> dict:
    """What sandbox_child.py needs to know, as its one argument (JSON; no secrets in it)."""
    return {
        "cpu_seconds": config.cpu_seconds,
        "memory_mb": config.memory_mb,
        "file_size_mb": config.file_size_mb,
        "output_bytes": config.output_kb * 1024,
        "network": network,
        "protected": protected,
        "imports": list(config.tool_imports),
        "workdir": workdir,
        "nproc_headroom": None if os.geteuid() == 0 else 32,  # root: the kernel ignores it
        "fences": list(fences),
    }


def _environment(workdir: str) -> dict[str, str]:
    """Built from nothing: no key, no HASHIRU_*, no OLLAMA_HOST can reach the tool."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": workdir,
            "TMPDIR": workdir}  # fmt: skip


class _TooMuchOutput(Exception):
    pass


async def _collect(process: asyncio.subprocess.Process, limits: SandboxConfig) -> tuple[bytes, int]:
    """Everything the worker writes, until it exits; _TooMuchOutput past the cap."""
    assert process.stdout is not None
    cap = limits.output_kb * 1024 + 64 * 1024  # room for the envelope around the output
    chunks, size = [], 0
    while chunk := await process.stdout.read(1 << 16):
        size += len(chunk)
        if size > cap:
            raise _TooMuchOutput
        chunks.append(chunk)
    return b"".join(chunks), await process.wait()


async def _await_ready(process: asyncio.subprocess.Process) -> None:
    """The worker's first line says its fences are up; anything else is why it failed."""
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), START_SECONDS)
    except TimeoutError:
        raise SandboxError(f"the sandbox worker did not start within {START_SECONDS:g} s") from None
    if not line.startswith(b'{"ready": true'):
        with contextlib.suppress(TimeoutError):
            line += await asyncio.wait_for(process.stdout.read(2000), 1)
        text = line.decode(errors="replace").strip()[-500:]
        raise SandboxError(f"the sandbox worker did not start: {text or 'no output'}")


def _envelope(output: bytes, code: int, limits: SandboxConfig) -> dict[str, Any]:
    """The worker's last line is its JSON envelope; without one, the exit status says why."""
    last = output.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    try:
        envelope = json.loads(last)
    except ValueError:
        envelope = None
    if isinstance(envelope, dict) and envelope.get("ok") is True:
        return envelope
    if isinstance(envelope, dict) and "error" in envelope:
        raise SandboxError(str(envelope["error"]), str(envelope.get("stdout", "")))
    signum = -code if code < 0 else code - 128 if code > 128 else 0
    if signum in (signal.SIGXCPU, signal.SIGKILL):
        raise SandboxError(f"tool exceeded its {limits.cpu_seconds} s CPU limit")
    if signum == signal.SIGXFSZ:
        raise SandboxError(f"tool exceeded its {limits.file_size_mb} MB file-size limit")
    if signum:
        raise SandboxError(f"tool was killed by {signal.Signals(signum).name}")
    tail = output.decode(errors="replace").strip()[-500:]
    raise SandboxError(f"tool exited (status {code}) without a result" + (f": {tail}" * bool(tail)))


def _new_workdir() -> str:
    """A fresh temporary directory named after this process, so that a later one can tell
    which were left behind by a process that died before it could remove them."""
    _sweep_workdirs()
    prefix = f"{WORKDIR_PREFIX}{os.getpid()}-"
    return os.path.realpath(tempfile.mkdtemp(prefix=prefix))


@functools.cache
def _sweep_workdirs() -> None:
    for path in Path(tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}*-*"):
        owner = path.name.removeprefix(WORKDIR_PREFIX).split("-")[0]
        if owner.isdigit() and not psutil.pid_exists(int(owner)):
            _remove_tree(str(path))


def _remove_tree(path: str) -> None:
    """Remove a working directory even where the tool took its own permissions away."""
    for root, dirs, _ in os.walk(path):
        for name in dirs:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(root, name), 0o700, follow_symlinks=False)
    shutil.rmtree(path, ignore_errors=True)


_DETECTED: dict[tuple[str, ...], tuple[_Wrapper, tuple[str, ...]]] = {}
_DETECTING = threading.Lock()


def _detect(python: tuple[str, ...]) -> tuple[_Wrapper, tuple[str, ...]]:
    """The strongest wrapper that starts a worker here and keeps its claims, and the layers
    that worker showed holding. Blocks (it starts workers): async code runs it in a thread.

    Tried once per process with a real worker, so a wrapper that exists but fails (no user
    namespaces, a seccomp'd container) is left out silently.
    """
    with _DETECTING:
        if python not in _DETECTED:
            _DETECTED[python] = _first_working(python)
        return _DETECTED[python]


def _first_working(python: tuple[str, ...]) -> tuple[_Wrapper, tuple[str, ...]]:
    for wrapper in _wrappers():
        lines = _start_once(wrapper, python, SandboxConfig.from_settings(Settings()))
        ready = lines[0] if lines and isinstance(lines[0], dict) else {}
        if ready.get("ready") is True and wrapper.cuts_off(ready.get("network", {})):
            return wrapper, tuple(ready["layers"])
    return _Wrapper("none"), ()


def _wrappers() -> list[_Wrapper]:
    found = []
    if bwrap := shutil.which("bwrap"):
        name = "bubblewrap (read-only /, protected paths hidden, no network)"
        found.append(_Wrapper("bwrap", bwrap, layers=(name,)))
    if unshare := shutil.which("unshare"):
        if os.geteuid() == 0:
            found.append(_Wrapper("unshare", unshare, layers=("network namespace (unshare)",)))
        else:
            name = "network namespace (unshare --user)"
            found.append(_Wrapper("unshare", unshare, userns=True, layers=(name,)))
    return [*found, _Wrapper("none")]


def _start_once(
    wrapper: _Wrapper,
    python: tuple[str, ...],
    config: SandboxConfig,
    job: dict[str, Any] | None = None,
    fences: tuple[str, ...] = FENCES,
) -> list[dict[str, Any]]:
    """Start one offline worker and wait for it, blocking: the probe's way to see what holds
    (no job), and the tests' way to run a job behind only some of the fences. Returns the JSON
    lines it printed (its ready line first, the job's envelope last); none if it failed."""
    workdir = _new_workdir()
    protected = protected_paths(config)
    argv = [*wrapper.argv(False, workdir, protected), *python]
    argv.append(json.dumps(_child_config(config, False, workdir, protected, fences)))
    payload = json.dumps(job).encode() + b"\n" if job else b""
    try:
        done = subprocess.run(
            argv, input=payload, capture_output=True, cwd=workdir, env=_environment(workdir),
            timeout=START_SECONDS + config.wall_seconds, start_new_session=True, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return []
    finally:
        _remove_tree(workdir)
    lines = []
    for line in done.stdout.splitlines():
        with contextlib.suppress(ValueError):
            lines.append(json.loads(line))
    return lines


def _network_namespace() -> str | None:
    try:
        return os.readlink("/proc/self/ns/net")
    except OSError:
        return None
