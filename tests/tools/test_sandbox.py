"""The sandbox contains hostile tools with a clear message, and stays fast for honest ones.

Every hostile call is followed by a normal one: a contained tool must not break the sandbox.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest

from hashiru.settings import Settings
from hashiru.tools.sandbox import Sandbox, SandboxError

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the sandbox needs Linux")

DOUBLE = "def run(x):\n    return x * 2\n"
READ = "def run(path):\n    with open(path) as f:\n        return f.read()\n"
WRITE = "def run(path):\n    with open(path, 'w') as f:\n        f.write('pwned')\n"
CONNECT = """import socket
def run(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        return s.recv(100).decode()
"""


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    box = Sandbox(Settings.load(), pool_size=1)
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


async def test_four_calls_at_once_take_about_as_long_as_one() -> None:
    box = Sandbox(Settings.load(), pool_size=2)
    code = "import time\ndef run(i):\n    time.sleep(0.5)\n    return i\n"
    try:
        started = time.perf_counter()
        results = await asyncio.gather(*(box.call_tool(code, {"i": i}) for i in range(4)))
        elapsed = time.perf_counter() - started
    finally:
        await box.aclose()
    assert results == [0, 1, 2, 3]
    assert elapsed < 1.5, f"4 concurrent 0.5 s calls took {elapsed:.2f} s"


async def test_a_warm_call_is_much_faster_than_a_cold_one() -> None:
    cold_box, warm_box = Sandbox(Settings.load(), pool_size=0), Sandbox(Settings.load())
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
    await contained(Sandbox(Settings.load(), pool_size=0), code, "tool_imports")
    box = Sandbox(Settings.load(tool_imports=("psutil",)), pool_size=0)
    assert await box.call_tool(code, {"x": 1}) == "psutil"


async def test_aclose_stops_the_warm_workers() -> None:
    box = Sandbox(Settings.load(), pool_size=2)
    await box.warm_up()
    assert _workers(), "warm workers should be waiting"
    await box.aclose()
    assert not _workers()
    with pytest.raises(SandboxError, match="closed"):
        await box.call_tool(DOUBLE, {"x": 1})


async def test_a_cancelled_call_leaves_no_worker_behind() -> None:
    box = Sandbox(Settings.load(), pool_size=1)
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
    layers = Sandbox(Settings.load()).layers()
    assert layers[0] == "process limits (rlimit)" and "audit hooks" in layers


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
    box = Sandbox(Settings.load(sandbox_cpu_seconds=1, sandbox_wall_seconds=2), pool_size=1)
    try:
        started = time.perf_counter()
        await contained(box, "def run():\n    while True:\n        pass\n", "1 s CPU limit")
        assert time.perf_counter() - started < 2
        started = time.perf_counter()
        await contained(
            box, "import time\ndef run():\n    time.sleep(600)\n", "2 s wall-clock limit"
        )
        assert time.perf_counter() - started < 4
    finally:
        await box.aclose()


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
