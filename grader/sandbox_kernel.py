"""Start the IPython kernel that runs a student's notebook during grading.

jupyter_client starts it as `python sandbox_kernel.py -f CONNECTION_FILE`. It
sets limits on memory, CPU time and file size, and, when it runs as root (as
on the course's CI machines), it puts the kernel in its own mount namespace in
which the folders listed in BP_SANDBOX_READONLY (the course: gradebook, source,
every submission) are read-only, and drops every capability so the kernel
cannot undo that. Student code can then read what it needs but write nowhere
that matters; a temporary home takes IPython's and Matplotlib's caches.
"""
import ctypes
import os
import resource
import shutil
import subprocess
import sys
import tempfile

CLONE_NEWNS = 0x00020000
LIMITS = {
    resource.RLIMIT_AS: int(os.environ.get("BP_KERNEL_MEMORY", str(4 << 30))),
    resource.RLIMIT_CPU: int(os.environ.get("BP_KERNEL_CPU_SECONDS", "900")),
    resource.RLIMIT_FSIZE: 64 << 20,
    resource.RLIMIT_CORE: 0,
}


def make_readonly(paths):
    """Remount `paths` read-only in a new mount namespace; False if not possible here."""
    if os.getuid() != 0 or not paths or not shutil.which("setpriv"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS) != 0:
        return False
    mount = ["mount", "--make-rprivate", "/"]
    subprocess.run(mount, check=True)
    for path in paths:
        subprocess.run(["mount", "--bind", path, path], check=True)
        subprocess.run(["mount", "-o", "remount,bind,ro", path, path], check=True)
    return True


def main(args):
    home = tempfile.mkdtemp(prefix="bp-kernel-")
    os.environ.update(HOME=home, IPYTHONDIR=os.path.join(home, ".ipython"),
                      MPLCONFIGDIR=os.path.join(home, ".mpl"))
    readonly = [p for p in os.environ.get("BP_SANDBOX_READONLY", "").split(os.pathsep) if p]
    kernel = [sys.executable, "-m", "ipykernel_launcher", *args]
    if make_readonly(readonly):
        kernel = ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--no-new-privs",
                  "--", *kernel]
    for which, value in LIMITS.items():
        resource.setrlimit(which, (value, value))
    os.execvp(kernel[0], kernel)


if __name__ == "__main__":
    main(sys.argv[1:])
