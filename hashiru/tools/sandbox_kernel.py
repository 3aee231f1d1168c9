"""The kernel's fences around a sandbox worker: rlimits, Landlock and seccomp.

Loaded by `sandbox_child.py` by path, before any tool code, without entering sys.modules.
These are the walls that hold even when hostile code gets past the audit hook, which lives in
the same interpreter as the tool and so can be tampered with:

- rlimits cap CPU seconds, address space, file size, open files and (where the kernel counts
  them, i.e. not for root) tasks;
- Landlock (Linux 5.13+) lets the process write only in its working directory and /dev/null,
  read everything but the protected paths, other processes' /proc entries and devices, and,
  from ABI 4 and 6, denies TCP without network and signals to processes outside the sandbox;
- seccomp denies new processes (threads are allowed), ptrace, mounts, device nodes and kernel
  modules, and without network every socket but AF_UNIX ones and every connect, bind and
  addressed send.

Each installer reports its layer only once a check shows it holds: a write outside the working
dir refused, a denied syscall refused, the limits in force. `sandbox.layers()` (and `hashiru
doctor`) show only what passed.

Standard library only; ctypes is imported inside the installers and forgotten by the caller.
"""

from __future__ import annotations

import errno
import os
import resource
import socket
import stat
import struct
from collections.abc import Iterator
from typing import Any

MB = 1024 * 1024
DEVICES_READ = ("/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
PROC_READ = (
    "cpuinfo", "meminfo", "stat", "loadavg", "uptime", "version", "filesystems", "sys",
    "cgroups", "swaps", "vmstat", "pressure",
)  # fmt: skip
WORKDIR_PREFIX = "hashiru-tool-"


def set_limits(config: dict[str, Any]) -> bool:
    """Cap this process; True once getrlimit shows the CPU, memory and file-size caps in force."""
    cpu, memory, file_size = config["cpu_seconds"], config["memory_mb"], config["file_size_mb"]
    wanted = [
        (resource.RLIMIT_CPU, cpu, cpu + 1),  # SIGXCPU at the soft limit, SIGKILL a second on
        (resource.RLIMIT_AS, memory * MB, memory * MB),
        (resource.RLIMIT_FSIZE, file_size * MB, file_size * MB),
        (resource.RLIMIT_CORE, 0, 0),
        (resource.RLIMIT_NOFILE, 256, 256),
    ]
    if config["nproc_headroom"] is not None:  # the kernel ignores RLIMIT_NPROC for root
        tasks = _user_tasks() + config["nproc_headroom"]
        wanted.append((resource.RLIMIT_NPROC, tasks, tasks))
    for which, soft, hard in wanted:
        current = resource.getrlimit(which)[1]
        hard = hard if current == resource.RLIM_INFINITY else min(hard, current)
        resource.setrlimit(which, (min(soft, hard), hard))
    return all(_in_force(which, soft) for which, soft, _ in wanted[:3])


def _in_force(which: int, cap: int) -> bool:
    soft = resource.getrlimit(which)[0]
    return soft != resource.RLIM_INFINITY and soft <= cap


def _user_tasks() -> int:
    """Tasks (threads too) of this uid: RLIMIT_NPROC counts them all, not just ours."""
    uid, count = os.getuid(), 0
    for name in os.listdir("/proc"):
        try:
            if name.isdigit() and os.stat(f"/proc/{name}").st_uid == uid:
                count += len(os.listdir(f"/proc/{name}/task"))
        except OSError:
            continue
    return count


# -- Landlock -----------------------------------------------------------------------------------

SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446  # the same on every arch
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1, 2, 4, 8
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
FILE_ONLY = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
READ = EXECUTE | READ_FILE | READ_DIR


def install_landlock(workdir: str, protected: list[str], network: bool) -> int:
    """Restrict this process for good; returns the Landlock ABI used, 0 where there is none or
    where the check after it fails."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    long = ctypes.c_long
    abi = libc.syscall(long(SYS_CREATE_RULESET), None, long(0), long(1))  # 1: ask the version
    if abi < 1:
        return 0
    fs = (1 << 13) - 1 | (REFER if abi >= 2 else 0) | (TRUNCATE if abi >= 3 else 0)
    fs |= IOCTL_DEV if abi >= 5 else 0
    net = 3 if abi >= 4 and not network else 0  # bind and connect TCP
    scoped = 3 if abi >= 6 else 0  # abstract unix sockets and signals outside the sandbox
    attr = struct.pack("=QQQ", fs, net, scoped)[: 8 if abi < 4 else 16 if abi < 6 else 24]
    ruleset = libc.syscall(long(SYS_CREATE_RULESET), attr, long(len(attr)), long(0))
    if ruleset < 0:
        return 0
    try:
        for path, rights in _rules(workdir, protected, fs):
            _add_rule(libc, ruleset, path, rights & fs)
        if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
            return 0
        if libc.syscall(long(SYS_RESTRICT_SELF), long(ruleset), long(0)) != 0:
            return 0
    finally:
        os.close(ruleset)
    return abi if _landlock_holds(workdir) else 0


def _landlock_holds(workdir: str) -> bool:
    """A directory made beside the working dir is refused, and so is listing the dir that holds
    it (bubblewrap's read-only / refuses the first too, never the second)."""
    beside = workdir.rstrip("/") + ".landlock-check"
    try:
        os.mkdir(beside)
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            return False
    else:
        os.rmdir(beside)
        return False
    try:
        os.listdir(os.path.dirname(workdir))
    except PermissionError:
        return True
    return False


def _add_rule(libc: Any, ruleset: int, path: str, rights: int) -> None:
    import ctypes

    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= FILE_ONLY
        attr = struct.pack("=Qi", rights, fd)  # struct landlock_path_beneath_attr, packed
        long = ctypes.c_long
        libc.syscall(long(SYS_ADD_RULE), long(ruleset), long(1), attr, long(0))  # PATH_BENEATH
    finally:
        os.close(fd)


def _rules(workdir: str, protected: list[str], fs: int) -> Iterator[tuple[str, int]]:
    """Everything in the working dir; reads of everything outside the hidden paths.

    Landlock only grants, so "all but X" becomes: along the way from / to each hidden path,
    grant each sibling. /proc, /dev and the temp dir (other tools' working dirs) are hidden
    too, with a few of their entries granted back.
    """
    yield workdir, fs
    yield "/dev/null", READ_FILE | WRITE_FILE | TRUNCATE | IOCTL_DEV
    yield from ((device, READ_FILE) for device in DEVICES_READ)
    yield f"/proc/{os.getpid()}", READ
    yield from ((f"/proc/{name}", READ) for name in PROC_READ)
    hidden = {*protected, "/proc", "/dev"}
    temp = os.path.dirname(workdir)
    partial = {temp, *_ancestors(temp), *(a for path in hidden for a in _ancestors(path))}
    for directory in sorted(partial):
        if any(_within(directory, path) for path in hidden):
            continue
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            path = os.path.join(directory, name)
            if path in hidden or path in partial or name.startswith(WORKDIR_PREFIX):
                continue
            if not os.path.islink(path):  # a link's target is judged where it lies
                yield path, READ


def _ancestors(path: str) -> Iterator[str]:
    """The path's parents up to /, not the path itself."""
    parent = os.path.dirname(path)
    while True:
        yield parent
        if parent == "/":
            return
        parent = os.path.dirname(parent)


def _within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


# -- seccomp ------------------------------------------------------------------------------------

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
DENIED = {  # name -> (x86_64, aarch64); None where the architecture lacks the call
    "fork": (57, None), "vfork": (58, None), "execve": (59, 221), "execveat": (322, 281),
    "ptrace": (101, 117), "process_vm_readv": (310, 270), "process_vm_writev": (311, 271),
    "mknod": (133, None), "mknodat": (259, 33), "chroot": (161, 51), "mount": (165, 40),
    "umount2": (166, 39), "pivot_root": (155, 41), "unshare": (272, 97), "setns": (308, 268),
    "io_uring_setup": (425, 425), "pidfd_open": (434, 434), "pidfd_send_signal": (424, 424),
    "pidfd_getfd": (438, 438), "bpf": (321, 280), "kexec_load": (246, 104),
    "init_module": (175, 105), "finit_module": (313, 273), "delete_module": (176, 106),
    "reboot": (169, 142),
}  # fmt: skip
DENIED_OFFLINE = {"connect": (42, 203), "bind": (49, 200), "sendmsg": (46, 211),
                  "sendmmsg": (307, 269)}  # fmt: skip
CLONE, CLONE3, SOCKET, SENDTO = (56, 220), (435, 435), (41, 198), (44, 206)
CLONE_THREAD = 0x00010000


def seccomp_program(machine: str, network: bool) -> list[tuple[int, int, int, int]]:
    """The classic-BPF filter as (code, jt, jf, k) tuples; anything not named is allowed."""
    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    arch = 0 if machine == "x86_64" else 1
    allow, deny, nosys = 0x7FFF0000, 0x00050000 | errno.EPERM, 0x00050000 | errno.ENOSYS
    denied = {**DENIED, **({} if network else DENIED_OFFLINE)}
    body: list[tuple[int, int, str | None, str | None]] = [
        (ld, 4, None, None),  # seccomp_data.arch
        (jeq, AUDIT_ARCH[machine], None, "deny"),
        (ld, 0, None, None),  # seccomp_data.nr
    ]
    if machine == "x86_64":
        body.append((jge, 0x40000000, "deny", None))  # the x32 ABI
    body += [(jeq, nrs[arch], "deny", None) for nrs in denied.values() if nrs[arch] is not None]
    body.append((jeq, CLONE3[arch], "nosys", None))  # its flags hide in memory: glibc falls back
    body.append((jeq, CLONE[arch], "clone", None))
    if not network:
        body.append((jeq, SOCKET[arch], "socket", None))
        body.append((jeq, SENDTO[arch], "sendto", None))
    body.append((ret, allow, None, None))
    labels = {"clone": len(body)}
    body += [(ld, 16, None, None), (jset, CLONE_THREAD, "allow", "deny")]  # args[0]: flags
    labels["socket"] = len(body)
    body += [(ld, 16, None, None), (jeq, socket.AF_UNIX, "allow", "deny")]  # args[0]: domain
    labels["sendto"] = len(body)  # send() is sendto() without an address: args[4] must be NULL
    body += [(ld, 48, None, None), (jeq, 0, None, "deny"), (ld, 52, None, None)]
    body.append((jeq, 0, "allow", "deny"))
    for name, action in (("allow", allow), ("deny", deny), ("nosys", nosys)):
        labels[name] = len(body)
        body.append((ret, action, None, None))

    def jump(target: str | None, at: int) -> int:
        return 0 if target is None else labels[target] - at - 1

    return [(code, jump(jt, i), jump(jf, i), k) for i, (code, k, jt, jf) in enumerate(body)]


def install_seccomp(network: bool) -> bool:
    """Filter this process's syscalls for good; True once a check shows the filter holds."""
    machine = os.uname().machine
    if machine not in AUDIT_ARCH:
        return False
    import ctypes

    class SockFilter(ctypes.Structure):
        _fields_ = [
            ("code", ctypes.c_ushort),
            ("jt", ctypes.c_ubyte),
            ("jf", ctypes.c_ubyte),
            ("k", ctypes.c_uint),
        ]

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]

    program = seccomp_program(machine, network)
    filters = (SockFilter * len(program))(*(SockFilter(*op) for op in program))
    fprog = SockFprog(len(program), filters)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        return False
    installed = libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) == 0  # PR_SET_SECCOMP, FILTER
    return installed and _seccomp_holds(network)


def _seccomp_holds(network: bool) -> bool:
    """A fork is refused with EPERM, and without network so is an internet socket."""
    try:
        pid = os.fork()
    except OSError as exc:
        if exc.errno != errno.EPERM:
            return False
    else:
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        return False
    if network:
        return True
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
    except OSError as exc:
        return exc.errno == errno.EPERM
    return False
