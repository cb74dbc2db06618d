"""Warm kernels: each grading kernel is a fork of a process that imported torch once.

A grading kernel spends about two seconds of CPU before the notebook's first line runs:
Python, IPython, ipykernel, torch, numpy and matplotlib are imported anew for every
student. As root, a worker instead starts this fork server once:

1. The server is a fresh interpreter (this file, with the sandbox's environment), started
   by the worker. It imports those modules and nothing of the grader, the course or any
   student; it never runs student code and holds nothing a student may not see.
2. Each student's sandbox is made by bubblewrap exactly as for a cold kernel (sandbox.argv:
   the same namespaces, mounts, user and limits), around a placeholder (`sleep`).
3. For each kernel the server forks. The child enters the sandbox's namespaces (setns:
   cgroup, IPC, UTS, network, PID, then mount, which makes the sandbox's root its root;
   it stops if its root is still the host's) and forks the kernel into the sandbox's PID
   namespace. The grader asks for this only once the placeholder runs: bwrap starts it
   when the sandbox is complete. The kernel starts a session,
   takes the sandbox's limits, drops to the sandbox's user with no capability (the bounding
   set emptied, no_new_privs; it checks /proc/self/status and stops if any is left),
   closes every other file descriptor, takes the sandbox's environment and folder, and
   runs ipykernel.
4. The grader kills the placeholder when the kernel exits or is stopped; its PID namespace
   ends, and every process the student started with it.

    python forkserver.py FD    (FD: the worker's end of a socket pair)

Requests and replies are JSON lines: {"ns_pid", "uid", "env", "cwd", "limits",
"connection_file"} -> {"pid": the kernel's process id} or {"error": "..."}.
"""
import ctypes
import json
import os
import resource
import signal
import socket
import sys

# what every kernel imports before it runs a cell: the kernel's own start-up modules
# (ipykernel's debugger brings debugpy, 0.2 s of each start) and what a notebook imports
PRELOAD = ("IPython", "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.debugger",
           "sqlite3", "pdb", "faulthandler",
           "numpy", "torch", "matplotlib", "matplotlib.pyplot", "matplotlib_inline.backend_inline")
NAMESPACES = ("cgroup", "ipc", "uts", "net", "pid", "mnt")  # mnt last: it changes our root
RLIMITS = {"--as": resource.RLIMIT_AS, "--cpu": resource.RLIMIT_CPU,
           "--fsize": resource.RLIMIT_FSIZE, "--nproc": resource.RLIMIT_NPROC,
           "--core": resource.RLIMIT_CORE}
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_CHILD_SUBREAPER = 1, 4, 24, 36
PR_SET_NO_NEW_PRIVS = 38
LIBC = ctypes.CDLL(None, use_errno=True)
SET_BY_IMPORTS = {}  # environment variables the preloaded modules set (debugpy sets one)


def _check(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _enter(ns_pid):
    """Join the namespaces of process `ns_pid` (the sandbox's first process)."""
    fds = []
    for name in NAMESPACES:
        mine, theirs = f"/proc/self/ns/{name}", f"/proc/{ns_pid}/ns/{name}"
        if os.path.exists(theirs) and os.readlink(theirs) != os.readlink(mine):
            fds.append((name, os.open(theirs, os.O_RDONLY | os.O_CLOEXEC)))
    if os.readlink(f"/proc/{ns_pid}/ns/user") != os.readlink("/proc/self/ns/user"):
        raise RuntimeError("the sandbox has a user namespace of its own")
    if not any(name == "mnt" for name, _ in fds) or not any(name == "pid" for name, _ in fds):
        raise RuntimeError("the sandbox shares the grader's mount or PID namespace")
    host_root = os.stat("/")
    for name, fd in fds:
        _check(LIBC.setns(fd, 0), f"setns {name}")
        os.close(fd)
    root = os.stat("/")
    if (root.st_dev, root.st_ino) == (host_root.st_dev, host_root.st_ino):
        raise RuntimeError("the sandbox's root is the host's: it was not complete")


def _drop(uid):
    """Become `uid` with no capability at all, for good."""
    for cap in range(64):
        if LIBC.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != 22:
            _check(-1, f"drop capability {cap}")
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    _check(LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    with open("/proc/self/status") as f:
        status = dict(line.split(":", 1) for line in f if ":" in line)
    left = {k: status[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")
            if int(status[k], 16)}
    if left or os.getuid() != uid or os.geteuid() != uid or os.getgid() != uid:
        raise RuntimeError(f"privileges left after dropping them: {left}")
    _check(LIBC.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "dumpable")  # as after an exec


def _kernel(req, report):
    """In the sandbox's PID namespace: become the student's kernel (never returns)."""
    code = 1
    try:
        os.setsid()
        null = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        for opt, value in req["limits"].items():
            resource.setrlimit(RLIMITS[opt], (value, value))
        _drop(req["uid"])
        os.closerange(3, report)
        os.closerange(report + 1, 1 << 16)
        os.chdir(req["cwd"])
        os.environ.clear()
        os.environ.update(req["env"])
        for name, value in SET_BY_IMPORTS.items():  # as if the kernel had imported them
            os.environ.setdefault(name, value)
        del sys.path[0]  # this file's folder (ipykernel_launcher drops its own the same way)
        sys.argv = ["ipykernel_launcher", "-f", req["connection_file"]]
        signal.signal(signal.SIGINT, signal.default_int_handler)
        from ipykernel.kernelapp import IPKernelApp

        os.close(report)
        report = None
        IPKernelApp.launch_instance(argv=sys.argv[1:])
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 1
    except BaseException as err:  # noqa: BLE001 (reported to the grader, then exit)
        if report is not None:
            os.write(report, json.dumps({"error": f"{type(err).__name__}: {err}"}).encode())
    finally:
        import atexit

        atexit._run_exitfuncs()
        os._exit(code)


def _fork(req):
    """The reply to one request: fork, enter the sandbox, fork the kernel into it."""
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read)
        try:
            _enter(req["ns_pid"])
            kernel = os.fork()
            if kernel == 0:
                _kernel(req, write)
            os.write(write, json.dumps({"pid": kernel}).encode() + b"\n")
            os._exit(0)
        except BaseException as err:  # noqa: BLE001
            os.write(write, json.dumps({"error": f"{type(err).__name__}: {err}"}).encode())
            os._exit(1)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    try:
        os.waitpid(child, 0)
    except ChildProcessError:
        pass  # reaped already (SIGCHLD is ignored)
    lines = [json.loads(x) for x in b"".join(chunks).replace(b"}{", b"}\n{").splitlines() if x]
    errors = [x["error"] for x in lines if "error" in x]
    if errors or not lines:
        return {"error": "; ".join(errors) or "the kernel's process did not start"}
    return lines[0]


def main(fd):
    LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # the kernels are orphaned when their first child exits: they become ours, not the
    # host's init's, and are reaped as soon as they exit
    LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    sock = socket.socket(fileno=fd)
    before = dict(os.environ)
    for name in PRELOAD:
        __import__(name)
    SET_BY_IMPORTS.update({k: v for k, v in os.environ.items() if before.get(k) != v})
    sock.sendall(b'{"ready": true}\n')
    stream = sock.makefile("rb")
    for line in stream:
        try:
            reply = _fork(json.loads(line))
        except Exception as err:  # noqa: BLE001
            reply = {"error": f"{type(err).__name__}: {err}"}
        sock.sendall(json.dumps(reply).encode() + b"\n")


if __name__ == "__main__":
    main(int(sys.argv[1]))
