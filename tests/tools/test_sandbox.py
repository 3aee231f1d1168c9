"""The sandbox contains hostile tools with a clear message, and stays fast for honest ones.

Every hostile call is followed by a normal one: a contained tool must not break the sandbox.
Each layer is also tested on its own, in a real worker behind that layer alone, so that losing
one layer fails its test even where the other layers would still stop the attempt.
"""

from __future__ import annotations

import asyncio
import ctypes
import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from hashiru.settings import Settings
from hashiru.tools import sandbox as sandbox_module
from hashiru.tools.sandbox import Sandbox, SandboxConfig, SandboxError

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the sandbox needs Linux")

DOUBLE = "def run(x):\n    return x * 2\n"
READ = "def run(path):\n    with open(path) as f:\n        return f.read()\n"
WRITE = "def run(path):\n    with open(path, 'w') as f:\n        f.write('pwned')\n"
CONNECT = """import socket
def run(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        return s.recv(100).decode()
"""


def config(**settings: Any) -> SandboxConfig:
    return SandboxConfig.from_settings(Settings.load(**settings))


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    box = Sandbox(config(), pool_size=1)
    yield box
    await box.aclose()


@pytest.fixture
def secret_home() -> Path:
    """HASHIRU_HOME (a temporary one, from conftest) with a key file in it."""
    home = Path(os.environ["HASHIRU_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    (home / "secret.txt").write_text("hunter2")
    return home


async def contained(
    box: Sandbox, code: str, expect: str, allow_network: bool = False, **arguments: object
) -> SandboxError:
    """The call fails with a message matching `expect`, and the next call works."""
    with pytest.raises(SandboxError) as caught:
        await box.call_tool(code, arguments, allow_network=allow_network)
    assert re.search(expect, str(caught.value)), str(caught.value)
    assert await box.call_tool(DOUBLE, {"x": 21}) == 42
    return caught.value


# -- honest tools -------------------------------------------------------------------------------


async def test_a_normal_tool_returns_its_data(sandbox: Sandbox) -> None:
    code = "def run(name, n=1):\n    print('noise')\n    return {'hi': [name] * n, 'ok': True}\n"
    assert await sandbox.call_tool(code, {"name": "Ada ✓", "n": 2}) == {
        "hi": ["Ada ✓", "Ada ✓"],
        "ok": True,
    }


async def test_an_async_run_is_awaited(sandbox: Sandbox) -> None:
    code = "import asyncio\nasync def run():\n    await asyncio.sleep(0.01)\n    return 'done'\n"
    assert await sandbox.call_tool(code, {}) == "done"


async def test_run_python_captures_stdout_and_the_last_expression(sandbox: Sandbox) -> None:
    assert await sandbox.run_python("print('hi')\nx = 6\nx * 7") == {"stdout": "hi\n", "result": 42}
    assert (await sandbox.run_python("{1, 2}"))["result"] == "{1, 2}"  # not JSON: its repr
    assert await sandbox.run_python("y = 1") == {"stdout": "", "result": None}
    with pytest.raises(SandboxError) as caught:
        await sandbox.run_python("print('before')\n1 / 0")
    assert str(caught.value) == "line 2: ZeroDivisionError: division by zero"
    assert caught.value.stdout == "before\n"


async def test_each_call_gets_a_fresh_working_dir_that_is_removed(sandbox: Sandbox) -> None:
    code = """import os, pathlib, tempfile
def run():
    pathlib.Path("note.txt").write_text("kept?")
    tempfile.mkstemp()
    return [os.getcwd(), sorted(os.listdir("."))[:1]]
"""
    first, listing = await sandbox.call_tool(code, {})
    second, _ = await sandbox.call_tool(code, {})
    assert listing == ["note.txt"] and first != second
    assert not Path(first).exists() and not Path(second).exists()


async def test_four_calls_at_once_run_side_by_side() -> None:
    """Each call waits at a barrier until all four have reached it, so calls run one after
    another would time out (the figure for it is in bench/perf/sandbox.py)."""
    arrived: list[asyncio.StreamWriter] = []
    everyone = asyncio.Event()

    async def barrier(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        arrived.append(writer)
        if len(arrived) == 4:
            everyone.set()
        await everyone.wait()
        writer.write(b"go\n")
        await writer.drain()
        writer.close()

    code = """import socket
def run(i, port):
    with socket.create_connection(("127.0.0.1", port), timeout=8) as s:
        return [i, s.recv(100).decode()]
"""
    server = await asyncio.start_server(barrier, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    box = Sandbox(config(), pool_size=2)
    try:
        async with server:
            calls = (box.call_tool(code, {"i": i, "port": port}, True) for i in range(4))
            results = await asyncio.gather(*calls)
    finally:
        await box.aclose()
    assert results == [[i, "go\n"] for i in range(4)]


async def test_a_warm_call_is_much_faster_than_a_cold_one() -> None:
    cold_box, warm_box = Sandbox(config(), pool_size=0), Sandbox(config())
    try:
        await cold_box.call_tool(DOUBLE, {"x": 1})  # detection and the page cache, not measured
        cold, warm = [], []
        for _ in range(3):
            started = time.perf_counter()
            await cold_box.call_tool(DOUBLE, {"x": 1})
            cold.append(time.perf_counter() - started)
            await warm_box.warm_up()
            started = time.perf_counter()
            await warm_box.call_tool(DOUBLE, {"x": 1})
            warm.append(time.perf_counter() - started)
    finally:
        await cold_box.aclose()
        await warm_box.aclose()
    print(f"\nsandbox call: cold {min(cold) * 1e3:.1f} ms, warm {min(warm) * 1e3:.1f} ms")
    assert min(warm) < min(cold)


async def test_allowed_third_party_imports_work_and_others_say_how() -> None:
    code = "import psutil\ndef run(x):\n    return psutil.__name__ * x\n"
    await contained(Sandbox(config(), pool_size=0), code, "tool_imports")
    box = Sandbox(config(tool_imports=("psutil",)), pool_size=0)
    assert await box.call_tool(code, {"x": 1}) == "psutil"


async def test_aclose_stops_the_warm_workers() -> None:
    box = Sandbox(config(), pool_size=2)
    await box.warm_up()
    assert _workers(), "warm workers should be waiting"
    await box.aclose()
    assert not _workers()
    with pytest.raises(SandboxError, match="closed"):
        await box.call_tool(DOUBLE, {"x": 1})


async def test_a_cancelled_call_leaves_no_worker_behind() -> None:
    box = Sandbox(config(), pool_size=1)
    for delay in (0, 0.01, 0.3):  # while the worker starts, and while the tool runs
        call = asyncio.ensure_future(box.call_tool("import time\ndef run(): time.sleep(60)", {}))
        await asyncio.sleep(delay)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
    await box.aclose()
    assert not _workers()


def test_working_dirs_of_dead_processes_are_swept() -> None:
    from hashiru.tools import sandbox

    temp = Path(tempfile.gettempdir())
    dead = temp / f"{sandbox.WORKDIR_PREFIX}{2**22 + 1}-x"  # above any pid_max: no such process
    alive = temp / f"{sandbox.WORKDIR_PREFIX}{os.getpid()}-x"
    for path in (dead, alive):
        (path / "sub").mkdir(parents=True)
    sandbox._sweep_workdirs.__wrapped__()
    assert not dead.exists() and alive.exists()
    alive.joinpath("sub").rmdir()
    alive.rmdir()


def test_layers_name_what_is_active() -> None:
    layers = Sandbox(config()).layers()
    assert layers[0] == "process limits (rlimit)" and "audit hooks" in layers


def test_the_config_takes_the_sandbox_settings(tmp_path: Path) -> None:
    settings = Settings.load(
        sandbox_cpu_seconds=2, sandbox_wall_seconds=3, sandbox_memory_mb=128,
        sandbox_file_size_mb=4, sandbox_output_kb=8, tool_imports=("psutil",),
        workspace=tmp_path / "work",
    )  # fmt: skip
    assert SandboxConfig.from_settings(settings) == SandboxConfig(
        cpu_seconds=2, wall_seconds=3.0, memory_mb=128, file_size_mb=4, output_kb=8,
        tool_imports=("psutil",), protected=(settings.home, tmp_path / "work"),
    )  # fmt: skip
    protected = sandbox_module.protected_paths(SandboxConfig.from_settings(settings))
    assert {str(settings.home), str(tmp_path / "work")} <= set(protected)


async def test_the_first_probe_runs_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ticker on the loop keeps ticking while the first probe starts its workers."""
    monkeypatch.setattr(sandbox_module, "_DETECTED", {})  # as in a fresh process
    ticks, during = 0, []
    first_working = sandbox_module._first_working

    def probe(python: tuple[str, ...]) -> Any:
        during.append(ticks)
        try:
            return first_working(python)
        finally:
            during.append(ticks)

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    monkeypatch.setattr(sandbox_module, "_first_working", probe)
    ticking = asyncio.ensure_future(ticker())
    box = Sandbox(config(), pool_size=1)
    try:
        await box.warm_up()
        assert await box.call_tool(DOUBLE, {"x": 21}) == 42
    finally:
        ticking.cancel()
        await box.aclose()
    assert len(during) == 2, "one probe, for the first worker"
    assert during[1] > during[0], "the event loop stood still while the probe ran"


# -- secrets ------------------------------------------------------------------------------------


async def test_hashiru_home_cannot_be_read(sandbox: Sandbox, secret_home: Path) -> None:
    error = await contained(
        sandbox, READ, "reading .* not allowed", path=str(secret_home / "secret.txt")
    )
    assert "hunter2" not in str(error)
    listing = "import os\ndef run(path):\n    return os.listdir(path)\n"
    await contained(sandbox, listing, "reading .* not allowed", path=str(secret_home))


@pytest.mark.parametrize("secret", [".hashiru/config.toml", ".ssh/id_ed25519", ".aws/credentials"])
async def test_secrets_in_the_users_home_cannot_be_read(sandbox: Sandbox, secret: str) -> None:
    await contained(sandbox, READ, "reading .* not allowed", path=str(Path.home() / secret))


async def test_a_dir_fd_does_not_reach_around_the_check(
    sandbox: Sandbox, secret_home: Path
) -> None:
    code = """import os
def run(parent):
    fd = os.open(parent, os.O_RDONLY)
    return os.read(os.open("home/secret.txt", os.O_RDONLY, dir_fd=fd), 100).decode()
"""
    await contained(sandbox, code, "not allowed|Permission denied", parent=str(secret_home.parent))


async def test_the_parents_environment_stays_out(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-do-not-leak")
    monkeypatch.setenv("HASHIRU_BUDGET_USD", "99")
    environment = await sandbox.call_tool("import os\ndef run(): return dict(os.environ)", {})
    assert "sk-ant-do-not-leak" not in json.dumps(environment)
    assert set(environment) <= {"PATH", "LANG", "HOME", "TMPDIR", "PWD"}  # bwrap sets PWD
    parent = "import os\ndef run():\n    return open(f'/proc/{os.getppid()}/environ').read()\n"
    await contained(sandbox, parent, "reading /proc/.* not allowed")


# -- writes -------------------------------------------------------------------------------------


async def test_writes_outside_the_working_dir_fail(sandbox: Sandbox, tmp_path: Path) -> None:
    target = tmp_path / "escape.txt"
    await contained(sandbox, WRITE, "writing outside the working directory", path=str(target))
    await contained(sandbox, WRITE, "writing outside the working directory", path="../escape.txt")
    symlink = "import os\ndef run(target):\n    os.symlink(target, 'out')\n    open('out/x', 'w')\n"
    await contained(sandbox, symlink, "writing outside the working directory", target=str(tmp_path))
    dir_fd = """import os
def run(outside):
    fd = os.open(outside, os.O_RDONLY)
    os.open("escape.txt", os.O_CREAT | os.O_WRONLY, dir_fd=fd)
"""
    await contained(sandbox, dir_fd, "writing outside|Permission denied", outside=str(tmp_path))
    assert not target.exists() and not (Path(tempfile.gettempdir()) / "escape.txt").exists()


async def test_a_file_bigger_than_the_limit_fails(sandbox: Sandbox) -> None:
    big = "def run():\n    with open('big', 'wb') as f:\n        f.write(b'x' * (32 * 2**20))\n"
    await contained(sandbox, big, "16 MB file-size limit")


# -- network ------------------------------------------------------------------------------------


async def test_network_only_when_allowed(sandbox: Sandbox) -> None:
    async def greet(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hello\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(greet, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        await contained(
            sandbox, CONNECT, r"network is not allowed in the sandbox \(socket\.", port=port
        )
        assert await sandbox.call_tool(CONNECT, {"port": port}, allow_network=True) == "hello\n"


# -- processes, resources -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "import subprocess\ndef run():\n    subprocess.run(['true'])\n",
        "import os\ndef run():\n    os.system('true')\n",
        "import os\ndef run():\n    os.fork()\n",
        "import os\ndef run():\n    while True:\n        os.fork()\n",  # a fork bomb
        "import os\ndef run():\n    os.posix_spawn('/bin/true', ['true'], {})\n",
        "import _posixsubprocess\ndef run():\n    _posixsubprocess.fork_exec()\n",
    ],
    ids=["subprocess", "os.system", "os.fork", "fork-bomb", "posix_spawn", "fork_exec"],
)
async def test_no_new_processes(sandbox: Sandbox, code: str) -> None:
    await contained(sandbox, code, "starting processes .*not allowed")


async def test_no_signals_to_other_processes(sandbox: Sandbox) -> None:
    code = "import os\ndef run():\n    os.kill(os.getppid(), 0)\n"
    await contained(sandbox, code, "signalling processes is not allowed")


async def test_ten_gigabytes_do_not_fit(sandbox: Sandbox) -> None:
    await contained(
        sandbox, "def run():\n    return len(bytearray(10 * 2**30))\n", "512 MB memory limit"
    )


async def test_limits_cannot_be_raised(sandbox: Sandbox) -> None:
    code = "import resource\ndef run():\n    resource.setrlimit(resource.RLIMIT_CPU, (-1, -1))\n"
    await contained(sandbox, code, "changing resource limits is not allowed")


async def test_cpu_and_wall_clock_limits() -> None:
    """The message names the limit that struck: the CPU limit for a busy loop (with a wall clock
    far off, so that a loaded machine, where a second of CPU takes longer, does not race it),
    and the wall clock long before a sleep of 600 s ends."""
    cpu_box = Sandbox(config(sandbox_cpu_seconds=1, sandbox_wall_seconds=60), pool_size=1)
    wall_box = Sandbox(config(sandbox_wall_seconds=2), pool_size=1)
    try:
        await contained(cpu_box, "def run():\n    while True:\n        pass\n", "1 s CPU limit")
        await contained(
            wall_box, "import time\ndef run():\n    time.sleep(600)\n", "2 s wall-clock limit"
        )
    finally:
        await cpu_box.aclose()
        await wall_box.aclose()


async def test_printing_a_hundred_megabytes_is_cut_off(sandbox: Sandbox) -> None:
    printing = "def run():\n    for _ in range(100):\n        print('x' * 2**20)\n"
    await contained(sandbox, printing, "printed more than the 1024 KB output limit")
    raw = "import os\ndef run():\n    for _ in range(100):\n        os.write(1, b'x' * 2**20)\n"
    await contained(sandbox, raw, "output exceeded the 1024 KB limit")


# -- ctypes, code that does not fit ----------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    ["import ctypes", "import _ctypes", "import importlib\nimportlib.import_module('ctypes')"],
)
async def test_no_ctypes(sandbox: Sandbox, code: str) -> None:
    expect = "^line [12]: importing _?ctypes is not allowed in the sandbox$"
    await contained(sandbox, code + "\ndef run(): pass\n", expect)


@pytest.mark.parametrize(
    ("code", "expect"),
    [
        ("def run(:\n    pass\n", "^line 1: SyntaxError"),
        ("def run():\n    x = [\n\n    return x\n", "^line [23]: SyntaxError"),
        (
            "def run():\n    x = 0\n    return 1 / x\n",
            "^line 3: ZeroDivisionError: division by zero$",
        ),
        ("def walk():\n    pass\n", "does not define run"),
        ("def run():\n    return {1, 2}\n", "result is not JSON: Object of type set"),
        ("def run():\n    return object()\n", "result is not JSON: Object of type object"),
        ("def run():\n    return float('nan')\n", "result is not JSON"),
        ("import sys\ndef run():\n    sys.exit(3)\n", "line 3: tool called exit\\(3\\)"),
    ],
    ids=["syntax", "syntax-line-3", "runtime-line", "no-run", "set", "object", "nan", "exit"],
)
async def test_code_that_does_not_fit_names_the_problem(
    sandbox: Sandbox, code: str, expect: str
) -> None:
    await contained(sandbox, code, expect)


# -- the kernel's fences alone ----------------------------------------------------------------


KERNEL_PROBE = """
import importlib.util, json, os, socket, sys
spec = importlib.util.spec_from_file_location("kernel", sys.argv[1])
kernel = importlib.util.module_from_spec(spec)
spec.loader.exec_module(kernel)
workdir, secret, outside = sys.argv[2:5]
os.chdir(workdir)
landlock = kernel.install_landlock(workdir, [os.path.dirname(secret)], False)
seccomp = kernel.install_seccomp(False)
def attempt(action):
    try:
        action()
        return "allowed"
    except OSError as exc:
        return exc.errno
print(json.dumps({
    "landlock": landlock, "seccomp": seccomp,
    "read secret": attempt(lambda: open(secret).read()),
    "write outside": attempt(lambda: open(outside, "w")),
    "write inside": attempt(lambda: open("inside.txt", "w").close()),
    "fork": attempt(os.fork) if seccomp else "skipped",
    "inet socket": attempt(socket.socket),
}))
"""


def test_the_kernels_fences_hold_without_the_audit_hook(tmp_path: Path, secret_home: Path) -> None:
    """What stays true when hostile code gets past the audit hook: Landlock and seccomp."""
    kernel = Path(importlib.util.find_spec("hashiru.tools.sandbox_kernel").origin)  # type: ignore[union-attr, arg-type]
    workdir = tmp_path / "work"
    workdir.mkdir()
    argv = [sys.executable, "-I", "-c", KERNEL_PROBE, str(kernel), str(workdir)]
    argv += [str(secret_home / "secret.txt"), str(tmp_path / "outside.txt")]
    found = json.loads(subprocess.run(argv, capture_output=True, check=True).stdout)
    if not found["landlock"] and not found["seccomp"]:
        pytest.skip("neither Landlock nor seccomp here")
    if found["landlock"]:
        assert found["read secret"] != "allowed" and found["write outside"] != "allowed"
        assert found["write inside"] == "allowed"
    if found["seccomp"]:
        assert found["fork"] != "allowed" and found["inet socket"] != "allowed"
    assert not (tmp_path / "outside.txt").exists()


# -- each layer on its own, in a real worker --------------------------------------------------

ATTEMPT = """import errno, os, socket
def attempt(action):
    try:
        action()
    except OSError as exc:
        return type(exc).__name__ if exc.errno is None else errno.errorcode[exc.errno]
    return "allowed"
def fork():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
def connect(port):
    socket.create_connection(("127.0.0.1", port), timeout=5).close()
"""


def behind(
    fences: tuple[str, ...],
    code: str,
    wrapper: Any = None,
    settings: dict[str, Any] | None = None,
    **arguments: object,
) -> tuple[list[str], Any]:
    """Run a tool in a worker with only `fences` up (and `wrapper` around it, none by default):
    the layers its ready line reports, and the tool's result."""
    box_config = config(**(settings or {}))
    python = sandbox_module._python(box_config)
    job = {"mode": "tool", "code": ATTEMPT + code, "arguments": arguments}
    wrapper = wrapper or sandbox_module._Wrapper("none")
    lines = sandbox_module._start_once(wrapper, python, box_config, job, fences)
    assert len(lines) >= 2 and lines[0]["ready"] is True, lines
    assert lines[-1]["ok"] is True, lines[-1]
    return lines[0]["layers"], lines[-1]["result"]


@pytest.fixture
def host_port() -> Any:
    """A port listening on the host's loopback."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


def test_rlimits_alone_cap_cpu_memory_and_file_size() -> None:
    code = """import resource
def run():
    limits = {name: resource.getrlimit(getattr(resource, name))[0]
              for name in ("RLIMIT_CPU", "RLIMIT_AS", "RLIMIT_FSIZE")}
    def write():
        with open("big", "wb") as f:
            f.write(b"x" * 2 * 2**20)
    return {**limits, "write 2 MB": attempt(write)}
"""
    settings = {"sandbox_cpu_seconds": 3, "sandbox_memory_mb": 256, "sandbox_file_size_mb": 1}
    layers, found = behind(("rlimit",), code, settings=settings)
    assert found == {
        "RLIMIT_CPU": 3, "RLIMIT_AS": 256 * 2**20, "RLIMIT_FSIZE": 2**20, "write 2 MB": "EFBIG"
    }  # fmt: skip
    assert layers == ["process limits (rlimit)"]


def test_landlock_alone_confines_writes_and_hides_protected_paths(
    tmp_path: Path, secret_home: Path
) -> None:
    if not _landlock_abi():
        pytest.skip("this kernel has no Landlock")
    code = """def run(outside, secret):
    return {
        "write outside": attempt(lambda: open(outside, "w").close()),
        "read secret": attempt(lambda: open(secret).read()),
        "write inside": attempt(lambda: open("inside.txt", "w").close()),
    }
"""
    outside, secret = str(tmp_path / "outside.txt"), str(secret_home / "secret.txt")
    layers, found = behind(("landlock",), code, outside=outside, secret=secret)
    assert found == {"write outside": "EACCES", "read secret": "EACCES", "write inside": "allowed"}
    assert [layer.split(" ")[0] for layer in layers] == ["landlock"]
    assert not (tmp_path / "outside.txt").exists()


def test_seccomp_alone_stops_new_processes_and_internet_sockets() -> None:
    if os.uname().machine not in ("x86_64", "aarch64"):
        pytest.skip("the seccomp filter is written for x86_64 and aarch64")
    code = """def run():
    return {
        "fork": attempt(fork),
        "internet socket": attempt(lambda: socket.socket().close()),
        "unix socket": attempt(lambda: socket.socket(socket.AF_UNIX).close()),
    }
"""
    layers, found = behind(("seccomp",), code)
    assert found == {"fork": "EPERM", "internet socket": "EPERM", "unix socket": "allowed"}
    assert layers == ["seccomp (no new processes, no network)"]


def test_the_audit_hook_alone_refuses_network_and_signals(host_port: int) -> None:
    code = """def run(port):
    return {
        "connect": attempt(lambda: connect(port)),
        "signal": attempt(lambda: os.kill(os.getpid(), 0)),
    }
"""
    layers, found = behind(("audit",), code, port=host_port)
    assert found == {"connect": "SandboxViolation", "signal": "SandboxViolation"}
    assert layers == ["audit hooks"]


def test_the_network_namespace_alone_cuts_the_worker_off(host_port: int) -> None:
    wrapper = next((w for w in sandbox_module._wrappers() if w.layers and _starts(w)), None)
    if wrapper is None:
        pytest.skip("neither bubblewrap nor unshare starts a process here")
    code = """def run(port):
    return {
        "interfaces": [name for _, name in socket.if_nameindex()],
        "connect to the host": attempt(lambda: connect(port)),
    }
"""
    layers, found = behind((), code, wrapper, port=host_port)
    assert found["interfaces"] == ["lo"]
    assert found["connect to the host"] in ("ENETUNREACH", "ECONNREFUSED")
    assert layers == [] and wrapper.layers[0] in Sandbox(config()).layers()


def test_a_wrapper_that_does_not_cut_the_network_is_not_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrapper that starts workers but leaves them on the host's network: its layer is left
    out, whatever it claims, and the sandbox falls back to the next wrapper."""
    fake = tmp_path / "fake-unshare"
    fake.write_text('#!/bin/sh\n[ "$1" = --net ] && shift\nexec "$@"\n')  # runs it, no --net
    fake.chmod(0o755)
    claims = sandbox_module._Wrapper("unshare", str(fake), layers=("network namespace (fake)",))
    monkeypatch.setattr(
        sandbox_module, "_wrappers", lambda: [claims, sandbox_module._Wrapper("none")]
    )
    monkeypatch.setattr(sandbox_module, "_DETECTED", {})  # as in a fresh process
    assert _starts(claims), "the fake wrapper starts a worker"
    layers = Sandbox(config()).layers()
    assert "network namespace (fake)" not in layers and "audit hooks" in layers
    assert sandbox_module._DETECTED[sandbox_module._python(config())][0].kind == "none"


def _starts(wrapper: Any) -> bool:
    """Whether the wrapper starts a process here at all (a check apart from the sandbox's)."""
    with tempfile.TemporaryDirectory() as workdir:
        argv = [*wrapper.argv(False, workdir, []), sys.executable, "-c", "pass"]
        return subprocess.run(argv, capture_output=True, check=False).returncode == 0


def _landlock_abi() -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return max(0, libc.syscall(ctypes.c_long(444), None, ctypes.c_long(0), ctypes.c_long(1)))


def _workers() -> list[psutil.Process]:
    return [
        child
        for child in psutil.Process().children(recursive=True)
        if any("sandbox_child" in part for part in child.cmdline())
    ]


async def test_discarding_a_worker_with_unread_output_does_not_hang(tmp_path: Path) -> None:
    """asyncio's wait() waits for the pipes to close; a paused reader must not block it."""
    from hashiru.tools.sandbox import _Worker

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import os, time; os.write(1, b'x' * 2**20); time.sleep(60)",
        stdout=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    await asyncio.sleep(0.5)  # the output fills our reader's buffer, which pauses the pipe
    await asyncio.wait_for(_Worker(process, str(tmp_path / "gone")).discard(), 10)
    assert process.returncode is not None
