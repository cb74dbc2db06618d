"""Warm kernels: the client side of the fork server (grader/forkserver.py, the server side).

As root, with the sandbox available (and unless BP_COLD_KERNELS=1), each grading process
starts one fork server, which has imported torch once; the sandbox's kernel manager
(sandbox.SandboxKernelManager) makes each student's sandbox around a placeholder and asks the
server to fork the kernel into it (ForkServer.start). WarmKernel is that kernel as
jupyter_client sees a kernel's process.
"""
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import typing
from pathlib import Path


def first_json(stream):
    """The first JSON object written to `stream` (bwrap's --info-fd)."""
    data = b""
    while True:
        chunk = stream.read1(4096)
        if not chunk:
            raise RuntimeError("bubblewrap exited before it said which process is the sandbox")
        data += chunk
        try:
            return json.loads(data)
        except ValueError:
            continue


class ForkServer:
    """This process's fork server (grader/forkserver.py), started on first use: as root,
    with the sandbox available, unless BP_COLD_KERNELS=1. mine() is None where kernels
    start cold."""

    _servers: typing.ClassVar[dict] = {}  # pid of the owning process -> server or None
    _lock = threading.Lock()  # a Dask worker may run tasks in several threads

    @classmethod
    def mine(cls, scratch=None, env=None):
        """This process's server (None where kernels start cold); `scratch`: a folder for
        its start, `env`: the sandbox's clean environment (sandbox.environment())."""
        with cls._lock:
            return cls._mine(scratch, env)

    @classmethod
    def _mine(cls, scratch, env):
        pid = os.getpid()
        server = cls._servers.get(pid)
        if server is not None and server.process.poll() is not None:
            del cls._servers[pid]  # it died (with the thread that started it): start another
        if pid not in cls._servers:
            cls._servers.clear()  # a forked worker does not inherit its parent's server
            usable = os.geteuid() == 0 and os.environ.get("BP_COLD_KERNELS") != "1" \
                and hasattr(os, "pidfd_open")
            try:
                cls._servers[pid] = cls(scratch, env) if usable else None
            except (OSError, RuntimeError) as err:
                print(f"warm kernels are off: the fork server did not start ({err})",
                      file=sys.stderr)
                cls._servers[pid] = None
        return cls._servers[pid]

    def __init__(self, scratch=None, env=None):
        self.sock, theirs = socket.socketpair()
        # its home while it imports (matplotlib writes its font cache there), removed at once
        home = tempfile.mkdtemp(prefix="bp-forkserver-", dir=scratch)
        env = {**(env or {}), "HOME": home, "MPLCONFIGDIR": home, "IPYTHONDIR": home}
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-s", str(Path(__file__).with_name("forkserver.py")),
                 str(theirs.fileno())], pass_fds=(theirs.fileno(),), env=env, cwd="/",
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            theirs.close()
            self.replies = self.sock.makefile("rb")
            self.sock.settimeout(300)
            if not json.loads(self.replies.readline() or b"{}").get("ready"):
                raise RuntimeError("it exited while importing")
        finally:
            shutil.rmtree(home, ignore_errors=True)

    def start(self, request):
        """The pid of a kernel forked into the sandbox of request["ns_pid"]."""
        with self._lock:
            self.sock.sendall(json.dumps(request).encode() + b"\n")
            reply = json.loads(self.replies.readline() or b'{"error": "the fork server died"}')
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply["pid"]


class WarmKernel:
    """A forked kernel as jupyter_client sees a kernel's process. It is not the grader's
    child: it is alive while both it and its sandbox's placeholder are, and stopping it
    (or its exit) stops the placeholder, whose PID namespace takes every process with it."""

    stdin = stdout = stderr = None

    def __init__(self, holder, pid):
        self.holder, self.pid = holder, holder.pid
        try:
            self.pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            self.pidfd = None  # it has already exited

    @property
    def returncode(self):
        return self.poll()

    def poll(self):
        if self.holder.poll() is None:
            if self.pidfd is not None and not select.select([self.pidfd], [], [], 0)[0]:
                return None
            self.holder.kill()
            self.holder.wait()
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None
        return self.holder.returncode

    def wait(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("kernel", timeout)
            if self.pidfd is not None:
                select.select([self.pidfd], [], [], 0.05)
        return self.holder.returncode

    def send_signal(self, signum):
        self.holder.send_signal(signum)

    def kill(self):
        self.holder.kill()

    def terminate(self):
        self.holder.terminate()
