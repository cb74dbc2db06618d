"""The submission zoo: good, wrong and hostile submissions, each built by a script
from the source (instructor) or release (student) notebook, never edited by hand.

Each kind says which grade cells a fair teaching assistant would give 0 (`lose`;
every other grade cell gets full marks) and what the student must read in the
feedback (`says`).
"""
import copy
from dataclasses import dataclass, field

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell

ALL = "ALL"


@dataclass
class Kind:
    name: str
    base: str  # "source" (a correct solution) or "release" (untouched)
    steps: list = field(default_factory=list)  # functions nb -> None, applied in order
    lose: object = frozenset()  # grade ids that score 0, or ALL
    says: tuple = ()  # strings the feedback must contain
    files: dict = field(default_factory=dict)  # other files put next to the notebook
    raw: bytes = None  # submit these bytes instead of a notebook
    base_of: str = None  # build from another assignment's notebook (e.g. "release:ps2_...")
    never: tuple = ()  # strings the feedback must not contain
    link: str = None  # submit a link instead: "symbolic:<path in the course>" or "hard:<path>"

    def build(self, nb):
        nb = copy.deepcopy(nb)
        for step in self.steps:
            step(nb)
        return nb


# --- edits -------------------------------------------------------------------

def _cell(nb, cell_id):
    return next(c for c in nb.cells if c.id == cell_id)


def edit(cell_id, old, new):
    def step(nb):
        cell = _cell(nb, cell_id)
        assert old in cell.source, f"{old!r} not in cell {cell_id}"
        cell.source = cell.source.replace(old, new)
    return step


def insert(after_id, source, markdown=False):
    def step(nb):
        i = next(i for i, c in enumerate(nb.cells) if c.id == after_id)
        cell = new_markdown_cell(source) if markdown else new_code_cell(source)
        cell.id = f"student-{len(nb.cells)}"
        nb.cells.insert(i + 1, cell)
    return step


def delete(cell_id):
    def step(nb):
        nb.cells.remove(_cell(nb, cell_id))
    return step


def replace_source(cell_id, source):
    def step(nb):
        _cell(nb, cell_id).source = source
    return step


def to_markdown(cell_id):
    def step(nb):
        i = next(i for i, c in enumerate(nb.cells) if c.id == cell_id)
        old = nb.cells[i]
        cell = new_markdown_cell(old.source, metadata=old.metadata)
        cell.id = old.id
        nb.cells[i] = cell
    return step


def append(source, markdown=False):
    def step(nb):
        cell = new_markdown_cell(source) if markdown else new_code_cell(source)
        cell.id = f"student-end-{len(nb.cells)}"
        nb.cells.append(cell)
    return step


def set_metadata(cell_id, **changes):
    def step(nb):
        _cell(nb, cell_id).metadata["nbgrader"].update(changes)
    return step


def duplicate_at_end(cell_id):
    def step(nb):
        cell = copy.deepcopy(_cell(nb, cell_id))
        cell.id = "student-copy"
        nb.cells.append(cell)
    return step


HOSTILE_FILES = '''
attempts = {
    "delete the gradebook": lambda p: __import__("os").remove(p),
    "overwrite the source": lambda p: open(p, "w").write("{}"),
    "overwrite a classmate": lambda p: open(p, "w").write("{}"),
}
targets = {
    "delete the gradebook": "../../../gradebook.db",
    "overwrite the source": "../../../source/{a}/{a}.ipynb",
    "overwrite a classmate": "../../../submitted/correct/{a}/{a}.ipynb",
}
for what, path in targets.items():
    try:
        attempts[what](path)
        print(what, path, "succeeded")
    except OSError as err:
        print(what, "failed:", type(err).__name__)
'''

# Every hostile cell below runs in the grading kernel; a fair grade ignores it.
READS = '''
import os
import re
import sys

found = []
for top, dirs, names in os.walk("/"):  # all but the installed software and the kernel's files
    if top.startswith(("/proc", "/sys", "/dev", sys.prefix, sys.base_prefix)):
        dirs[:] = []
        continue
    for name in names:
        path = os.path.join(top, name)
        if name == "gradebook.db" or (re.fullmatch(r"ps\\d_\\w+\\.ipynb", name)
                                      and top != os.getcwd()):
            found.append(path)
for path in ["../../../gradebook.db", "../../../source/{a}/{a}.ipynb",
             "../../correct/{a}/{a}.ipynb", "/etc/shadow"]:
    try:
        found.append(path + ": " + open(path).read(200))
    except OSError:
        pass
for path in found:
    print("a secret " + "was found:", path)
print(f"searched the file system: {len(found)} secrets found")
'''

SIGNALS = '''
import os
import signal

sent = 0
for sig in (signal.SIGTERM, signal.SIGKILL):
    for pid in [int(p) for p in os.listdir("/proc") if p.isdigit()] + [-1, os.getppid()]:
        if pid not in (os.getpid(), 0):
            try:
                os.kill(pid, sig)
                sent += 1
            except OSError:
                pass
print(f"signals sent: {sent}; the grader is not visible from here")
'''

LEFTOVER = '''
import subprocess
import sys

code = "import time\\nwhile True:\\n    time.sleep(0.5)  # bp-leftover-marker"
subprocess.Popen([sys.executable, "-c", code], start_new_session=True,
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
subprocess.Popen([sys.executable, "-c", code], close_fds=False)  # keeps the kernel's pipes
print("two processes left behind")
'''

FLOOD = '''
import os
import time

n = 0
try:
    for _ in range(5000):
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
        n += 1
    print(f"fork never failed: {n} processes")
except OSError as err:
    print(f"fork failed after {n} processes: {type(err).__name__}")
'''

DISK = '''
import os

block = b"0" * (8 << 20)
for folder in ("/tmp", os.path.expanduser("~"), os.getcwd()):
    written = 0
    try:
        for i in range(1000):
            with open(os.path.join(folder, f"fill{i}"), "wb") as f:
                f.write(block)
            written += len(block)
    except OSError as err:
        print(f"{folder}: stopped after {written >> 20} MiB: {type(err).__name__}")
    else:
        print(f"{folder}: wrote {written >> 20} MiB without " + "any error")
'''

PERSIST = '''
import glob
import os
import site
import sys

planted = []
code = "print('PLANTED-BY-A-STUDENT')\\n"
folders = set(sys.path) | set(site.getsitepackages()) | {site.getusersitepackages()}
folders |= set(glob.glob("/home/*/.ipython/profile_default/startup"))
folders |= set(glob.glob("/root/.ipython/profile_default/startup"))
folders |= {os.path.expanduser("~/.ipython/profile_default/startup")}
for folder in sorted(f for f in folders if f):
    for name in ("sitecustomize.py", "usercustomize.py", "zz_planted.pth", "00-planted.py"):
        text = "import os; " + code if name.endswith(".pth") else code
        try:
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, name), "w") as f:
                f.write(text)
            planted.append(os.path.join(folder, name))
        except OSError:
            pass
print(f"planted {len(planted)} files, all inside this sandbox")
'''

XSS = '''
from IPython.display import HTML, Javascript, display

display(HTML("<script>document.body.setAttribute('data-pwned', 'script')</script>"
             "<img src=x onerror=\\"document.body.setAttribute('data-pwned', 'img')\\">"))
display(Javascript("document.body.setAttribute('data-pwned', 'javascript')"))
print("<script>document.body.setAttribute('data-pwned', 'stream')</script>")
'''
XSS_MARKDOWN = ("<svg onload=\"document.body.setAttribute('data-pwned', 'svg')\"></svg>"
                '<script>document.body.setAttribute("data-pwned", "markdown")</script>'
                '<a href="javascript:document.body.setAttribute(1, 2)">click me</a>')

SHADOWS = {
    "torch.py": "raise ImportError('SHADOW torch imported')\n",
    "numpy.py": "raise ImportError('SHADOW numpy imported')\n",
    "check.py": "def __getattr__(name):\n    return lambda *args, **kwargs: None\n",
    "judge.py": "GRADING = False\n",
}

TAMPER = '''
import numpy as np
import numpy.testing
import torch

import check
import compare
import judge

torch.allclose = lambda *args, **kwargs: True
torch.testing.assert_close = lambda *args, **kwargs: None
numpy.testing.assert_allclose = lambda *args, **kwargs: None
np.allclose = lambda *args, **kwargs: True
compare.verdict = lambda *args, **kwargs: None
compare.close = lambda *args, **kwargs: True
judge.judge_answers = lambda *args, **kwargs: None
judge.GRADING = False
'''

# Frame peeking: an answer that implements nothing and looks for the right one in the
# frames of its callers (the old checks computed it there, before calling the student).
PEEK = '''
    import inspect
    frame = inspect.currentframe()  # a walk up the callers (inspect.stack() reads sources: slow)
    while (frame := frame.f_back) is not None:
        for value in list(frame.f_locals.values()):
            if isinstance(value, dict) and "grad_W" in value:
                return value["grad_W"][0], value["grad_b"][0]
    return torch.zeros_like(W), torch.zeros_like(b)
'''

# Patching what a check might read: comparisons, conversions to Python numbers.
PATCH_TORCH = '''
import numpy as np
import torch

torch.Tensor.tolist = lambda self: [0.0] * self.numel()
torch.Tensor.abs = lambda self: torch.zeros_like(self)
torch.Tensor.max = lambda self, *args, **kwargs: torch.zeros(())
torch.allclose = lambda *args, **kwargs: True
torch.equal = lambda *args, **kwargs: True
torch.isclose = lambda a, b, *args, **kwargs: torch.ones_like(a, dtype=torch.bool)
np.allclose = lambda *args, **kwargs: True
'''

# Printing the kernel's input history (every cell run so far, hidden tests included).
PRINT_HISTORY = 'print("\\n".join(In))'
# ... and the source lines of whoever calls the student's function (its first 20 calls):
# introspection, which the grader refuses in a graded function (that part scores 0).
PRINT_CALLERS = ("    import inspect\n    if len(_calls) < 20:\n        _calls.append(1)\n"
                 "        print([f.code_context for f in inspect.stack()])\n")


# The whole notebook against the verdict: code at the top level, outside graded functions.
# A Tensor method, added at the top level, that does a graded function's work with autograd
TENSOR_METHOD = """import torch


def _bp_gradients(x, t, W, b):
    W = W.clone().requires_grad_()
    b = b.clone().requires_grad_()
    E = 0.5 * ((torch.sigmoid(x @ W + b) - t) ** 2).sum()
    return torch.autograd.grad(E, (W, b))


torch.Tensor.bp_gradients = _bp_gradients"""
AUTOGRAD_GRADIENTS = TENSOR_METHOD.replace("_bp_gradients(x, t, W, b)", "_cheat(x, t, W, b)") \
    .rsplit("\n\n\n", 1)[0]
# Forgers: the right answers, computed in the kernel (for the visible cases and for the
# hidden ones, wherever the kernel can find them), published as the checks' records.
FORGE = """import json
import os
import re
import sys

import check
import judge
import torch
from IPython.display import clear_output, publish_display_data

RIGHT = None


def _forger(name):
    part = getattr(check, name).part

    def forged(fn=None, hidden=False):
        found = json.loads(os.environ.get("BACKPROP_HIDDEN_CASES") or "{}")
        for i, case in enumerate(found.get(name, []) if hidden else part.cases):
            answer = judge.answer(part, RIGHT[name], case)
            publish_display_data({judge.RECORD: {"part": name, "hidden": hidden, "case": i,
                                                 **answer}}, metadata={})
        print(part.done)
    return forged
"""
RIGHT_PS1 = """def _train(x, t, lr=0.05, steps=300):
    W, b, losses = torch.zeros(x.shape[1], 1, dtype=x.dtype), torch.zeros(1, dtype=x.dtype), []
    for _ in range(steps):
        out = torch.sigmoid(x @ W + b)
        losses.append(float(((out - t) ** 2).sum() / 2))
        W, b = (p - lr * g for p, g in zip((W, b), _gradients(x, t, W, b)))
    return W, b, losses


def _gradients(x, t, W, b):
    out = torch.sigmoid(x @ W + b)
    d = out * (1 - out) * (out - t)
    return x.T @ d, d.sum(0)


RIGHT = {"sigmoid": torch.sigmoid,
         "sigmoid_prime": lambda z: torch.sigmoid(z) * (1 - torch.sigmoid(z)),
         "forward": lambda x, W, b: torch.sigmoid(x @ W + b),
         "gradients": _gradients, "train": _train}"""
# the checks replaced, directly and through sys.modules, by the forgers
REPLACE_CHECKS = """

for _name in RIGHT:
    _forged = _forger(_name)
    setattr(check, _name, _forged)
    setattr(sys.modules["check"], _name, _forged)
print("checks replaced")"""
# an IPython hook that clears each test cell's output and publishes forged records
HOOK = r"""

def _after(result):
    calls = re.findall(r"check\.(\w+)\(\w+(, hidden=True)?\)", result.info.raw_cell or "")
    if calls:
        clear_output()
        for name, hidden in calls:
            _forger(name)(hidden=bool(hidden))


get_ipython().events.register("post_run_cell", _after)
print("hook registered")"""


def forger(right, then):
    """The code of a forging cell: FORGE with the right answers `right`, then `then`."""
    return FORGE.replace("RIGHT = None", right) + then


# autograd reached through attribute names assembled from pieces
ASSEMBLED = """
    import operator

    grad_on = operator.methodcaller("requi" + "res_gr" + "ad_")
    W, b = grad_on(W.clone()), grad_on(b.clone())
    E = 0.5 * ((forward(x, W, b) - t) ** 2).sum()
    engine = operator.attrgetter("au" + "togr" + "ad")(torch)
    return operator.attrgetter("g" + "rad")(engine)(E, (W, b))"""
# the environment and every variable of the kernel, printed in the feedback
PRINT_ENVIRONMENT = """import os

print(dict(os.environ))
print({k: v for k, v in globals().items() if not k.startswith("_")})
print("environment printed")"""
# honest code: a helper function of its own and a constant of its own
HONEST_HELPERS = """HALF = 0.5
SHAPE_OF_B = (1,)


def output_delta(O, t):
    \"\"\"delta of a sigmoid output for E = HALF * sum((O - t)**2): O(1 - O)(O - t).\"\"\"
    return O * (1 - O) * (O - t) * (2 * HALF)


def gradients(x, t, W, b):
    \"\"\"(dE/dW, dE/db) for E = 1/2 * sum((O - t)**2) over the batch.\"\"\"
    delta = output_delta(forward(x, W, b), t)
    return x.T @ delta, delta.sum(0).reshape(SHAPE_OF_B)"""


# --- ps1_perceptron ----------------------------------------------------------

PS1 = "ps1_perceptron"
G = ("test_gradients", "test_gradients_hidden")
T = ("test_train", "test_train_hidden")
SIGN = edit("gradients", "delta = O * (1 - O) * (O - t)", "delta = O * (1 - O) * (t - O)")

PS1_ZOO = [
    Kind("correct", "source"),
    Kind("untouched", "release", lose=ALL),
    Kind("sigma-prime-missing", "source",
         [edit("gradients", "delta = O * (1 - O) * (O - t)", "delta = O - t")],
         lose={*G, *T}, says=("the sigmoid derivative O*(1-O) is missing",)),
    Kind("sign-flipped", "source", [SIGN], lose={*G, *T}, says=("the sign is flipped",)),
    Kind("mean-not-sum", "source",
         [edit("gradients", "return x.T @ delta, delta.sum(0)",
               "return x.T @ delta / len(x), delta.mean(0)")],
         lose={*G, *T}, says=("the mean over the batch was taken",)),
    Kind("bias-not-summed", "source",
         [edit("gradients", "delta.sum(0)", "delta")],
         lose={*G, *T}, says=("the batch dimension was kept",)),
    Kind("grad-W-transposed", "source",
         [edit("gradients", "return x.T @ delta,", "return delta.T @ x,")],
         lose={*G, *T}, says=("the result is transposed",)),
    Kind("syntax-error", "source", [edit("gradients", "O = forward(x, W, b)", "O = forward(x, W, b")],
         lose={*G, *T}),
    Kind("infinite-loop", "source",
         [edit("train", "    losses = []", "    losses = []\n    while True:\n        pass")],
         lose=set(T)),
    Kind("memory-bomb", "source",
         [insert("sigmoid", "hog = [bytearray(1 << 30) for _ in range(64)]")]),
    Kind("sys-exit", "source", [insert("forward", "import sys\n\nsys.exit('bye')")]),
    Kind("os-exit", "source", [insert("forward", "import os\n\nos._exit(1)")]),
    Kind("kernel-crash", "source",
         [edit("train", "    losses = []", "    losses = []\n    import ctypes\n"
               "    ctypes.string_at(0)")],
         lose=set(T), says=("KernelDied",)),
    Kind("deleted-test-cell", "source", [SIGN, delete("test_gradients")], lose={*G, *T},
         says=("the sign is flipped", "put back")),
    Kind("edited-test-cell", "source",
         [SIGN, replace_source("test_gradients", "print('Part 3: all good')")], lose={*G, *T},
         says=("the sign is flipped", "restored")),
    Kind("test-cell-to-markdown", "source", [SIGN, to_markdown("test_gradients")], lose={*G, *T},
         says=("the sign is flipped", "restored")),
    Kind("duplicate-grade-id", "source", [duplicate_at_end("test_forward")]),
    Kind("redefined-helpers", "source", [SIGN, insert("gradients", TAMPER)], lose={*G, *T},
         says=("the sign is flipped",)),
    Kind("uses-autograd", "source",
         [edit("gradients", "    O = forward(x, W, b)\n    delta = O * (1 - O) * (O - t)\n"
               "    return x.T @ delta, delta.sum(0)",
               "    W = W.clone().requires_grad_()\n    b = b.clone().requires_grad_()\n"
               "    E = 0.5 * ((forward(x, W, b) - t) ** 2).sum()\n"
               "    return torch.autograd.grad(E, (W, b))")],
         lose=set(G), says=("uses autograd",)),
    # --- verdicts out of reach (issue: verdicts a student can neither forge nor read)
    Kind("frame-peeking", "source",
         [replace_source("gradients", "def gradients(x, t, W, b):" + PEEK)],
         lose={*G, *T}, says=("introspection",)),
    Kind("patches-torch", "source", [SIGN, insert("gradients", PATCH_TORCH)], lose={*G, *T},
         says=("the sign is flipped",)),
    Kind("delegates-to-helpers", "source",
         [edit("gradients", "    O = forward(x, W, b)\n    delta = O * (1 - O) * (O - t)\n"
               "    return x.T @ delta, delta.sum(0)",
               "    ref = references.autograd_mlp(x, t, [W], [b])\n"
               "    return ref['grad_W'][0], ref['grad_b'][0]"),
          insert("gradients", "import references")],
         lose=set(G), says=("the course's checks",)),
    Kind("prints-history", "source",
         [edit("gradients", "    O = forward(x, W, b)\n", PRINT_CALLERS + "    O = forward(x, W, b)\n"),
          insert("gradients", "_calls = []"), append(PRINT_HISTORY)],
         lose=set(G), says=("introspection",), never=("hidden=True",)),
    Kind("loss-after-update", "source",
         [edit("train", "        losses.append(0.5 * ((O - t) ** 2).sum().item())\n", ""),
          edit("train", "        b = b - lr * grad_b\n",
               "        b = b - lr * grad_b\n"
               "        losses.append(0.5 * ((forward(x, W, b) - t) ** 2).sum().item())\n")],
         lose=set(T), says=("it was recorded after the update",)),
    Kind("prints-10MB", "source", [insert("sigmoid", "print('x' * 10_000_000)")]),
    Kind("stderr-warnings", "source",
         [edit("forward", "    return sigmoid(x @ W + b)",
               "    import warnings\n    warnings.warn('forward: just saying')\n"
               "    return sigmoid(x @ W + b)"),
          insert("sigmoid", "import sys\n\nprint('debugging...', file=sys.stderr)")]),
    Kind("hostile-files", "source", [insert("train", HOSTILE_FILES.replace("{a}", PS1))]),
    Kind("extra-cells", "source",
         [insert("intro", "My notes on the perceptron.", markdown=True),
          insert("sigmoid", "sigmoid(torch.zeros(3))"),
          insert("gradients", "## scratch\nTrying things out.", markdown=True),
          insert("plot", "print(losses[:3])")]),
    Kind("renamed-function", "source", [edit("train", "def train(", "def train_model(")],
         lose=set(T)),
    # --- the sandbox (issue: grading that a hostile class cannot break)
    Kind("reads-secrets", "source", [append(READS.replace("{a}", PS1))],
         says=("searched the file system: 0 secrets found",), never=("a secret was found",)),
    Kind("signals-grader", "source", [append(SIGNALS)],
         says=("the grader is not visible from here",)),
    Kind("leftover-processes", "source", [append(LEFTOVER)], says=("two processes left",)),
    Kind("process-flood", "source", [append(FLOOD)], says=("fork failed after",)),
    Kind("disk-fill", "source", [append(DISK)], says=("/tmp: stopped after",),
         never=("without any error",)),
    Kind("persistence", "source", [append(PERSIST)], says=("all inside this sandbox",)),
    Kind("shadow-modules", "source", [SIGN], lose={*G, *T}, files=SHADOWS,
         says=("the sign is flipped", "ignored", "check.py, judge.py, numpy.py, torch.py"),
         never=("SHADOW",)),
    Kind("xss", "source", [insert("sigmoid", XSS), insert("intro", XSS_MARKDOWN, markdown=True)]),
    # --- malformed submissions: graded with the course's test cells, or a plain reason
    Kind("invalid-json", "source", lose=ALL, raw=b'{"cells": [oops',
         says=("not a readable notebook",)),
    Kind("empty-file", "source", lose=ALL, raw=b"", says=("not a readable notebook",)),
    Kind("wrong-assignment", "release", lose=ALL, base_of="release:ps2_multi_output_perceptron",
         says=("does not look like the notebook of ps1_perceptron",)),
    Kind("test-cell-to-solution", "source",
         [SIGN, set_metadata("test_gradients", solution=True, grade=False, locked=False)],
         lose={*G, *T}, says=("restored", "the sign is flipped")),
    Kind("renamed-grade-id", "source",
         [SIGN, set_metadata("test_gradients", grade_id="test_gradients_mine"),
          replace_source("test_gradients", "print('all good')")],
         lose={*G, *T}, says=("unknown or repeated nbgrader id", "the sign is flipped")),
    Kind("hidden-marker-in-comment", "source",
         [insert("sigmoid", "# ### BEGIN HIDDEN TESTS (my notes)\nnotes = 1")],
         says=("defused",)),
    # --- verdicts that hold against the whole notebook (issue: judged where nothing else of
    # the notebook ran; the by-hand rule as an allow-list; fail closed; no link followed)
    Kind("tensor-method-at-top-level", "source",
         [replace_source("gradients", "def gradients(x, t, W, b):\n"
                         "    return x.bp_gradients(t, W, b)"),
          insert("gradients", TENSOR_METHOD)],
         lose={*G, *T}, says=("has no attribute 'bp_gradients'", "was left out")),
    Kind("exec-rebinds-graded-name", "source",
         [replace_source("gradients", "def gradients(x, t, W, b):\n    raise NotImplementedError()"),
          insert("gradients", AUTOGRAD_GRADIENTS + '\nexec("gradients = _cheat")')],
         lose={*G, *T}, says=("gradients is not done yet",)),
    Kind("globals-rebinds-graded-name", "source",
         [replace_source("gradients", "def gradients(x, t, W, b):\n    raise NotImplementedError()"),
          insert("gradients", AUTOGRAD_GRADIENTS + '\nglobals()["gradients"] = _cheat')],
         lose={*G, *T}, says=("gradients is not done yet",)),
    Kind("replaces-the-checks", "release", [insert("sigmoid", forger(RIGHT_PS1, REPLACE_CHECKS))],
         lose=ALL, says=("sigmoid is not done yet", "checks replaced")),
    Kind("post-run-cell-hook", "release", [insert("sigmoid", forger(RIGHT_PS1, HOOK))],
         lose=ALL, says=("sigmoid is not done yet", "hook registered")),
    Kind("attrgetter-assembled-names", "source",
         [replace_source("gradients", "def gradients(x, t, W, b):" + ASSEMBLED)],
         lose=set(G), says=("import operator",)),
    Kind("prints-environment", "source", [append(PRINT_ENVIRONMENT)],
         says=("environment printed",), never=('"scale": 1.5', "'scale': 1.5")),
    Kind("symlinked-notebook", "source", lose=ALL, link="symbolic:source/{a}/{a}.ipynb",
         says=("is a symbolic link, which is never followed",)),
    Kind("hard-linked-notebook", "source", lose=ALL, link="hard:source/{a}/{a}.ipynb",
         says=("is a hard link to a file elsewhere",)),
    # the by-hand rule, one kind per construct it refuses ...
    Kind("dunder-attribute", "source",
         [edit("gradients", "delta = O * (1 - O) * (O - t)",
               "delta = O.__mul__(1 - O) * (O - t)")], lose=set(G), says=(".__mul__",)),
    Kind("computed-attribute-name", "source",
         [edit("gradients", "delta = O * (1 - O) * (O - t)",
               'delta = getattr(O, "mu" + "l")(1 - O) * (O - t)')],
         lose=set(G), says=("getattr with a computed name",)),
    Kind("getattr-as-a-value", "source",
         [edit("gradients", "delta = O * (1 - O) * (O - t)",
               'delta = list(map(getattr, [O], ["mul"]))[0](1 - O) * (O - t)')],
         lose=set(G), says=("getattr passed as a value",)),
    Kind("eval-in-graded-code", "source",
         [edit("gradients", "delta = O * (1 - O) * (O - t)",
               'delta = eval("O * (1 - O) * (O - t)")')], lose=set(G), says=("eval",)),
    Kind("imports-os-in-graded-code", "source",
         [edit("gradients", "    O = forward(x, W, b)\n",
               "    import os\n\n    O = forward(x, W, b) + 0 * len(os.sep)\n")],
         lose=set(G), says=("import os",)),
    # ... and honest code in plain style that keeps full marks
    Kind("own-helper-and-constant", "source",
         [replace_source("gradients", HONEST_HELPERS)]),
    Kind("needs-a-left-out-statement", "source",
         [edit("train", "        losses.append(0.5 * ((O - t) ** 2).sum().item())",
               "        losses.append(HALF * ((O - t) ** 2).sum().item())"),
          insert("train", "HALF = torch.tensor(0.5).item()  # computed: left out when graded")],
         lose=set(T), says=("`HALF = torch.tensor(0.5).item()", "was left out")),
]

PS4, PS5 = "ps4_mlp_backprop", "ps5_himmelblau"
ZOO_MODULES = ("zoo_ps2", "zoo_ps3", "zoo_ps4", "zoo_ps5")  # each: A, KINDS


def __getattr__(name):
    """ZOOS ({assignment: kinds}) and KINDS ([(assignment, kind)]), gathered from this module
    (ps1) and the zoo_<assignment> modules when first asked for."""
    import importlib

    if name not in ("ZOOS", "KINDS"):
        raise AttributeError(name)
    zoos = {PS1: PS1_ZOO}
    for module in ZOO_MODULES:
        m = importlib.import_module(module)
        zoos[m.A] = m.KINDS
    globals().update(ZOOS=zoos, KINDS=[(a, k) for a, kinds in zoos.items() for k in kinds])
    return globals()[name]


def expected_scores(kind, max_scores):
    """{grade_id: expected score} from the kind's `lose` set and the cells' max scores."""
    lose = set(max_scores) if kind.lose == ALL else set(kind.lose)
    unknown = lose - set(max_scores)
    assert not unknown, f"{kind.name}: no grade cells {unknown}"
    return {g: 0.0 if g in lose else m for g, m in max_scores.items()}


def read(path):
    return nbformat.read(path, as_version=4)
