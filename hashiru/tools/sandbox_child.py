"""The sandbox's worker process: fences go up before the tool's first line, then one job.

`hashiru.tools.sandbox` starts this file as `python -I -B [-S] sandbox_child.py CONFIG` in a fresh
temporary directory with an environment built from nothing. It imports the standard library
only: -I keeps the project and the user's site off sys.path, so nothing of HASHIRU is in reach.

Order matters. The kernel's fences first (sandbox_kernel.py: rlimits, Landlock, seccomp; they
need ctypes, which is forgotten again); then the audit hook, which from then on sees every
import, open, socket and process event of this interpreter. Each layer is checked right after it
goes up; only then does the worker print its ready line (the layers that passed, and what it sees
of the network, for the namespace around it) and wait for one job (JSON on stdin). The tool's
prints go to a capped buffer; one JSON envelope on the last line of stdout carries the result;
then the process ends at once.

The audit hook gives clear messages and stops honest mistakes, but it is no wall: it lives in
the tool's own interpreter, and CPython's docs say hooks cannot sandbox hostile code. The walls
are the kernel's: rlimits, Landlock, seccomp, and the namespace or bubblewrap around the process.
"""

from __future__ import annotations

import ast
import contextlib
import errno
import importlib.util
import io
import json
import os
import pathlib
import signal
import socket
import stat
import subprocess
import sys
import types
from collections.abc import Callable
from typing import Any

TOOL_FILE = "<tool>"
MB = 1024 * 1024

NEVER_IMPORT = frozenset({"ctypes", "_ctypes", "_posixsubprocess", "posix", "_xxsubinterpreters"})
# Stdlib modules that touch files or processes in C, out of the audit hook's sight: only when
# the user lists them in `tool_imports`.
RISKY_IMPORTS = frozenset(
    {"sqlite3", "_sqlite3", "readline", "_dbm", "_gdbm", "_posixshmem", "_multiprocessing"}
)
PROCESS_EVENTS = frozenset(
    {"os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
     "subprocess.Popen", "pty.spawn", "os.startfile", "webbrowser.open"}
)  # fmt: skip
SIGNAL_EVENTS = frozenset({"os.kill", "os.killpg", "signal.pthread_kill"})
NETWORK_EVENTS = frozenset(
    {"socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
     "socket.gethostbyname", "socket.gethostbyaddr", "socket.getnameinfo",
     "socket.getservbyname", "socket.getservbyport"}
)  # fmt: skip
WRITE_EVENTS = {  # event -> positions of the paths it changes
    "os.remove": (0,), "os.rename": (0, 1), "os.link": (0, 1), "os.mkdir": (0,),
    "os.rmdir": (0,), "os.chmod": (0,), "os.chown": (0,), "os.utime": (0,),
    "os.truncate": (0,), "os.setxattr": (0,), "os.removexattr": (0,), "os.symlink": (1,),
}  # fmt: skip
READ_EVENTS = frozenset({"os.listdir", "os.scandir", "os.getxattr", "os.listxattr"})
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
DEVICES_OK = frozenset({"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"})
PROC_OK = frozenset(  # besides the process's own /proc/<pid>
    {"cpuinfo", "meminfo", "stat", "loadavg", "uptime", "version", "filesystems", "sys",
     "cgroups", "swaps", "vmstat", "pressure"}
)  # fmt: skip
# Pre-imported so that a warm worker answers common tools without an import.
WARM_MODULES = ("re", "math", "datetime", "collections", "itertools", "functools", "random")


class SandboxViolation(PermissionError):
    """The tool tried something the sandbox forbids; the message says what."""


class ImportBlocked(ImportError):
    """An import the sandbox forbids; an ImportError so that optional imports degrade."""


class ToolShapeError(Exception):
    """The tool's code or result does not fit the protocol (no run, a result that is not JSON)."""


class OutputLimit(BaseException):
    """Raised on the print that crosses the output cap; BaseException so `except Exception`
    in the tool does not swallow it."""


# -- the audit hook -----------------------------------------------------------------------------


def disarm_modules() -> None:
    """Replace functions that change the system without raising an audit event.

    The originals are referenced from these module dicts only, so they are gone for good, and
    the hook refuses to import these modules afresh (NEVER_IMPORT).
    """
    import _posixsubprocess
    import posix

    def refuse(what: str) -> Any:
        def refused(*args: object, **kwargs: object) -> Any:
            raise SandboxViolation(f"{what} is not allowed in the sandbox")

        return refused

    for module in (os, posix):
        for name in ("mknod", "mkfifo", "pidfd_open", "chroot"):
            if hasattr(module, name):
                setattr(module, name, refuse(f"os.{name}"))
    signal.pidfd_send_signal = refuse("signal.pidfd_send_signal")
    spawn = refuse("starting processes (_posixsubprocess.fork_exec)")
    _posixsubprocess.fork_exec = spawn  # type: ignore[attr-defined]
    subprocess._fork_exec = spawn  # type: ignore[attr-defined]


def make_guard(config: dict[str, Any]) -> Callable[[str, tuple[Any, ...]], None]:
    """The audit hook, as a closure over immutable values and functions taken now.

    It says no to: network unless allowed, new processes and signals, writes outside the working
    directory, reads of protected paths, other processes' /proc and devices, ctypes and the gc's
    object walks, and imports beyond the standard library and `tool_imports`.
    """
    workdir = realpath(config["workdir"])
    protected = tuple(config["protected"])
    network = bool(config["network"])
    allowed = frozenset(config["imports"]) | sys.stdlib_module_names
    pid = str(os.getpid())
    getcwd, listdir, readlink, fstat = os.getcwd, os.listdir, os.readlink, os.stat

    def inside(real: str) -> bool:
        return real == workdir or real.startswith(workdir + "/")

    def private(real: str) -> bool:
        if any(real == p or real.startswith(p + "/") for p in protected):
            return True
        parts = real.split("/")
        if len(parts) > 2 and parts[1] == "proc":
            return parts[2] not in PROC_OK and parts[2] != pid
        return len(parts) > 2 and parts[1] == "dev" and real not in DEVICES_OK

    def bases() -> list[str]:
        """Relative paths count from the cwd and from every open directory descriptor: the
        audit events do not say which one (dir_fd) a call used."""
        found = [getcwd()]
        for fd in listdir("/proc/self/fd"):
            try:
                target = readlink(f"/proc/self/fd/{fd}")
                local = target.startswith("/") and not target.startswith("/proc/")
                if local and stat.S_ISDIR(fstat(target).st_mode):
                    found.append(target)
            except OSError:
                continue
        return found

    def real_paths(path: Any) -> list[str]:
        text = plain_path(path)
        if isinstance(text, int):
            return [realpath(f"/proc/self/fd/{text}")]
        if text.startswith("/"):
            return [realpath(text)]
        return [realpath(base + "/" + text) for base in bases()]

    def shown(path: Any) -> str:
        text = plain_path(path)
        return text if isinstance(text, str) else real_paths(text)[0]

    def check_write(event: str, path: Any) -> None:
        for real in real_paths(path):
            if not inside(real) and not (real == "/dev/null" and event == "open"):
                raise SandboxViolation(
                    f"writing outside the working directory is not allowed in the sandbox "
                    f"({event} {shown(path)})"
                )

    def check_read(event: str, path: Any) -> None:
        for real in real_paths(path):
            if not inside(real) and private(real):
                raise SandboxViolation(f"reading {real} is not allowed in the sandbox ({event})")

    def check_import(name: str, filename: Any) -> None:
        top = str(name).split(".")[0]
        if top in NEVER_IMPORT or top.startswith(("_test", "_xx", "_interp")):
            raise ImportBlocked(f"importing {name} is not allowed in the sandbox")
        if filename and inside(realpath(plain_path(filename))):
            raise ImportBlocked(f"loading compiled code from {filename} is not allowed")
        if top in RISKY_IMPORTS and top.lstrip("_") not in config["imports"]:
            raise ImportBlocked(
                f"importing {name} is not allowed in the sandbox (add it to tool_imports)"
            )
        if top not in allowed:
            raise ImportBlocked(
                f"importing {name} is not allowed in the sandbox: only the standard library and "
                f"the modules named in the tool_imports setting are"
            )

    def check_socket(event: str, args: tuple[Any, ...]) -> None:
        if event == "socket.__new__":
            if args[1] == socket.AF_UNIX or (network and args[1] in INET):
                return
        elif event not in NETWORK_EVENTS and event != "socket.sethostname":
            return
        elif network and event != "socket.sethostname":
            owner = args[0] if args else None
            if type(owner) is not socket.socket or owner.family != socket.AF_UNIX:
                return
        raise SandboxViolation(f"network is not allowed in the sandbox ({event})")

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path, mode, flags = args[:3]
            if path is None or type(path) is int:
                return  # an open descriptor keeps its access mode
            if any(c in (mode or "") for c in "wax+") or (flags or 0) & WRITE_FLAGS:
                check_write(event, path)
            else:
                check_read(event, path)
        elif event in WRITE_EVENTS:
            for position in WRITE_EVENTS[event]:
                check_write(event, args[position])
            if event == "os.symlink":  # where the new link points must stay inside too
                target = plain_path(args[0])
                if not target.startswith("/"):
                    target = real_paths(args[1])[0].rsplit("/", 1)[0] + "/" + target
                check_write(event, target)
            elif event == "os.link":
                check_read(event, args[0])
        elif event in READ_EVENTS:
            check_read(event, args[0])
        elif event == "import":
            check_import(args[0], args[1])
        elif event.startswith("socket."):
            check_socket(event, args)
        elif event in PROCESS_EVENTS:
            raise SandboxViolation(f"starting processes is not allowed in the sandbox ({event})")
        elif event in SIGNAL_EVENTS:
            raise SandboxViolation(f"signalling processes is not allowed in the sandbox ({event})")
        elif event.startswith("ctypes."):
            raise SandboxViolation(f"ctypes is not allowed in the sandbox ({event})")
        elif event in ("gc.get_objects", "gc.get_referrers", "gc.get_referents"):
            raise SandboxViolation(f"walking the interpreter's objects is not allowed ({event})")
        elif event in ("resource.setrlimit", "resource.prlimit"):
            raise SandboxViolation(f"changing resource limits is not allowed ({event})")
        elif event == "sqlite3.connect" and args[0] not in ("", ":memory:", b"", b":memory:"):
            database = plain_path(args[0])
            check_write(event, "/" if str(database).startswith("file:") else database)
        elif event in ("sqlite3.enable_load_extension", "sqlite3.load_extension"):
            raise SandboxViolation(f"loading SQLite extensions is not allowed ({event})")

    return hook


realpath = os.path.realpath
INET = (socket.AF_INET, socket.AF_INET6)
_STR_SLOT = pathlib.PurePath.__dict__["_str"]
_PURE_FSPATH, _PURE_STR = pathlib.PurePath.__fspath__, pathlib.PurePath.__str__


def plain_path(path: Any) -> str | int:
    """The path as CPython used it, without running the tool's code: a str subclass or a
    Path subclass could otherwise answer one thing to the system call and another to us."""
    kind = type(path)
    if kind is str or kind is int:
        return path
    if issubclass(kind, str):
        return str.__str__(path)
    if issubclass(kind, bytes):
        return os.fsdecode(bytes.__bytes__(path))
    if kind is os.DirEntry:
        return path.path
    if (
        issubclass(kind, pathlib.PurePath)
        and type.__getattribute__(kind, "__fspath__") is _PURE_FSPATH
        and type.__getattribute__(kind, "__str__") is _PURE_STR
    ):
        try:
            return _STR_SLOT.__get__(path, kind)
        except AttributeError:
            return str(path)  # the original methods, on a path not yet turned into text
    raise SandboxViolation(f"the sandbox does not accept {kind.__name__} objects as paths")


# -- one job ------------------------------------------------------------------------------------


class Capture(io.StringIO):
    """The tool's sys.stdout and sys.stderr: text up to the cap, then OutputLimit."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit, self.size, self.overflow = limit, 0, False

    def write(self, text: str) -> int:
        self.size += len(text)
        if self.size > self.limit:
            self.overflow = True
            raise OutputLimit(f"tool printed more than the {self.limit // 1024} KB output limit")
        return super().write(text)


def run_tool(job: dict[str, Any]) -> str:
    namespace: dict[str, Any] = {"__name__": "__tool__"}
    exec(compile(job["code"], TOOL_FILE, "exec"), namespace)
    run = namespace.get("run")
    if not callable(run):
        raise ToolShapeError("the tool's code does not define run(**arguments)")
    result = run(**job["arguments"])
    if isinstance(result, types.CoroutineType):
        import asyncio

        result = asyncio.run(result)
    try:
        return json.dumps(result, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ToolShapeError(f"the tool's result is not JSON: {exc}") from None


def run_snippet(job: dict[str, Any]) -> str:
    """Run code like a notebook cell: the value of a final expression is the result."""
    tree = ast.parse(job["code"], TOOL_FILE)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(tree, TOOL_FILE, "exec"), namespace)
    if last is None:
        return "null"
    value = eval(compile(ast.Expression(last.value), TOOL_FILE, "eval"), namespace)
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return json.dumps(repr(value))


def describe(exc: BaseException, config: dict[str, Any]) -> str:
    """One line for the model, with the line of the tool's code where it happened."""
    if isinstance(exc, SyntaxError) and exc.filename == TOOL_FILE:
        return f"line {exc.lineno}: SyntaxError: {exc.msg}"
    if isinstance(exc, MemoryError):
        return f"tool exceeded its {config['memory_mb']} MB memory limit"
    if isinstance(exc, OSError) and exc.errno == errno.EFBIG:
        text = f"tool exceeded its {config['file_size_mb']} MB file-size limit"
    elif isinstance(exc, SandboxViolation | ImportBlocked | ToolShapeError | OutputLimit):
        text = str(exc)
    elif isinstance(exc, SystemExit):
        text = f"tool called exit({exc.code!r})"
    else:
        text = f"{type(exc).__name__}: {exc}"
    line, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == TOOL_FILE:
            line = tb.tb_lineno
        tb = tb.tb_next
    text = text if len(text) <= 2000 else text[:2000] + "..."
    return f"line {line}: {text}" if line else text


def run_job(job: dict[str, Any], config: dict[str, Any]) -> bytes:
    limit = config["output_bytes"]
    capture = Capture(limit)
    sys.stdout = sys.stderr = capture
    try:
        result, error = (run_tool if job["mode"] == "tool" else run_snippet)(job), None
    except BaseException as exc:  # everything the tool raises becomes a message
        result, error = None, describe(exc, config)
    finally:
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    if capture.overflow:
        result, error = None, f"tool printed more than the {limit // 1024} KB output limit"
    printed = json.dumps(capture.getvalue())
    if error is None:
        envelope = f'{{"ok":true,"result":{result},"stdout":{printed}}}'
    else:
        envelope = json.dumps({"ok": False, "error": error, "stdout": capture.getvalue()})
    if len(envelope) > limit:  # keep the error, drop what was printed
        error = error or f"tool output exceeded the {limit // 1024} KB limit"
        envelope = json.dumps({"ok": False, "error": error, "stdout": ""})
    return envelope.encode("ascii")


def load_kernel() -> types.ModuleType:
    """sandbox_kernel.py, by path: -I keeps this directory off sys.path, and sys.modules never
    learns of it, so the tool cannot import it (or the ctypes it used) from there."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sandbox_kernel.py")
    spec = importlib.util.spec_from_file_location("hashiru_sandbox_kernel", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fence(config: dict[str, Any]) -> list[str]:
    """Put up the layers named in config["fences"], in order; the names of those that a check
    right after showed holding. Each check is one only that layer could pass (the tests put up
    one layer at a time to see each hold on its own)."""
    kernel = load_kernel()
    wanted, network, layers = config["fences"], config["network"], []
    if "rlimit" in wanted and kernel.set_limits(config):
        layers.append("process limits (rlimit)")
    if "landlock" in wanted:
        abi = kernel.install_landlock(config["workdir"], config["protected"], network)
        if abi:
            layers.append(
                f"landlock v{abi} (writes only in the working dir, protected paths hidden)"
            )
    if "seccomp" in wanted and kernel.install_seccomp(network):
        layers.append("seccomp (no new processes" + (")" if network else ", no network)"))
    for name in [m for m in sys.modules if m.split(".")[0] in ("ctypes", "_ctypes")]:
        del sys.modules[name]
    sys.modules["__main__"] = types.ModuleType("__main__")  # not this module: the tool's own
    if "audit" in wanted:
        disarm_modules()
        sys.addaudithook(make_guard(config))
        if guard_holds(network):
            layers.append("audit hooks")
    return layers


def guard_holds(network: bool) -> bool:
    """The hook refuses a signal and, without network, an internet socket."""

    def refused(attempt: Callable[[], object]) -> bool:
        try:
            attempt()
        except SandboxViolation:
            return True
        except OSError:
            return False
        return False

    signal_refused = refused(lambda: os.kill(os.getpid(), 0))
    if network:
        return signal_refused
    return signal_refused and refused(
        lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
    )


def network_view() -> dict[str, Any]:
    """The network namespace this worker is in and the interfaces it sees, taken before the
    fences go up (seccomp refuses the netlink socket that lists them): the sandbox trusts a
    namespace wrapper only when they show it cut off."""
    view: dict[str, Any] = {"namespace": None, "interfaces": None}
    with contextlib.suppress(OSError):
        view["namespace"] = os.readlink("/proc/self/ns/net")
    with contextlib.suppress(OSError):
        view["interfaces"] = [name for _, name in socket.if_nameindex()]
    return view


def main() -> None:
    config = json.loads(sys.argv[1])
    for name in WARM_MODULES:
        __import__(name)
    network = network_view()
    layers = fence(config)
    out = sys.stdout.buffer
    ready = {"ready": True, "layers": layers, "network": network}
    out.write(json.dumps(ready).encode() + b"\n")
    out.flush()
    line = sys.stdin.buffer.readline()
    if line.strip():
        envelope = run_job(json.loads(line), config)
        out.write(b"\n" + envelope + b"\n")
        out.flush()
    os._exit(0)  # no exit hooks or lingering threads of the tool's after the envelope


if __name__ == "__main__":
    main()
