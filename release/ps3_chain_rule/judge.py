"""Run a part's checks on a student's function, and judge its answers.

Each assignment's ``check.py`` describes its parts, one ``Part`` each: the cases, how to
build a case's inputs, and how to judge an answer (autograd's answer and the typical
mistakes). A test cell is one line, ``check.forward(forward)``, which calls
``run(part, forward)``: it calls the student's function on every case, with autograd
switched off when the part must be done by hand, and judges the answers here and now: a
wrong one raises ``Failed`` with one sentence, a right set prints one line.

When the course grades a notebook (``make grade``), its sandbox sets ``BACKPROP_GRADING=1``
and the test cells do nothing: the grader calls each graded function in a second, fresh
kernel that ran only the course's setup and the notebook's definitions (``record``), and
judges the recorded answers outside it with the same ``Part`` (``judge_answers``). No right
answer and no hidden case ever exists where the notebook's own code runs. A hidden test
run anywhere else (plain ``nbgrader autograde``) fails: hidden tests run only with the
course's grader.
"""
import json
import os
import warnings
from pathlib import Path

import rules  # the by-hand rule, as the grader applies it
import torch
from IPython.display import publish_display_data

RECORD = "application/vnd.backprop.answers+json"
GRADING = os.environ.get("BACKPROP_GRADING") == "1"
# the grader's switch for running a source notebook whose hidden tests cannot run there
SKIP_HIDDEN = os.environ.get("BACKPROP_HIDDEN_TESTS") == "skip"
OFF_GRADER = "hidden tests run only with the course's grader: make grade"
FAILED = set()  # parts whose check failed in this kernel ("fix that first")
# what a part done by hand must not use (the grader reads the notebook for these too)
AUTOGRAD_ATTRS = {"backward", "autograd", "retain_grad", "grad_fn", "grad", "func",
                  "functorch", "requires_grad_", "requires_grad", "jacobian", "vjp",
                  "enable_grad", "set_grad_enabled"}
AUTOGRAD_NAMES = {"autograd", "functorch"}
AUTOGRAD_WORDS = AUTOGRAD_ATTRS | AUTOGRAD_NAMES

# taken at import, before any student code runs, so patching torch later changes nothing
_TENSOR, _TOLIST, _DETACH = torch.Tensor, torch.Tensor.tolist, torch.Tensor.detach
_PUBLISH, _DUMPS, _FLOAT_HEX = publish_display_data, json.dumps, float.hex
_NO_GRAD, _CATCH = torch.no_grad, warnings.catch_warnings


class Failed(AssertionError):
    """A check's verdict: one sentence about the student's answer. IPython shows only the
    sentence (no traceback into these checks, whose lines would only distract)."""

    def _render_traceback_(self):
        return [f"\x1b[0;31mFailed\x1b[0m: {self}"]


class AutogradUsed(Exception):
    """Raised when a part that must be done by hand calls autograd."""


class Part:
    """One graded function: `cases` (plain dicts), `inputs(case)` -> the arguments,
    `judge(case, args, answer)` -> None or a sentence, `call(fn, args)` -> the answer
    (default fn(*args)), `uses`: the parts whose functions this one calls, `by_hand`:
    no autograd allowed, `must_use`: attributes its own code must use (say "step"),
    `done`: the line printed when every case is right.

    When the graded thing is a class, `methods` names the methods of this part: only their
    code (and what they call) is read for forbidden names. `words` replaces the forbidden
    names (default AUTOGRAD_WORDS), `what` names them in the verdict, and `why` says why."""

    def __init__(self, name, cases, inputs, judge, call=None, uses=(), by_hand=True,
                 done=None, where=None, must_use=(), methods=None, words=None, what="autograd",
                 why="this part must compute the gradient by hand"):
        self.name, self.cases, self.inputs, self.judge = name, cases, inputs, judge
        self.must_use = tuple(must_use)
        self.call = call or (lambda fn, args: fn(*args))
        self.uses, self.by_hand = tuple(uses), by_hand
        self.done = done or f"{name} matches autograd."
        self.where = where or (lambda case: ", ".join(f"{k}={v}" for k, v in case.items()))
        self.methods = tuple(methods) if methods is not None else None
        self.words = frozenset(words) if words is not None else None
        self.what, self.why = what, why


def _flat(values):
    if isinstance(values, list):
        return [v for item in values for v in _flat(item)]
    return [values]


def to_data(x, depth=0):
    """An answer as plain JSON data: tensors keep dtype, shape and exact values."""
    if depth > 6:
        return {"object": "nesting too deep"}
    if isinstance(x, _TENSOR):
        if x.numel() > 1_000_000:
            return {"object": f"tensor of shape {tuple(x.shape)} (too large to record)"}
        values = _flat(_TOLIST(_DETACH(x)))
        if x.dtype.is_floating_point:
            values = [_FLOAT_HEX(float(v)) for v in values]
        return {"tensor": values, "dtype": str(x.dtype).removeprefix("torch."),
                "shape": list(x.shape)}
    if isinstance(x, bool) or x is None or isinstance(x, (int, str)):
        return x
    if isinstance(x, float):
        return {"float": _FLOAT_HEX(x)}
    if isinstance(x, (list, tuple)):
        return {type(x).__name__: [to_data(v, depth + 1) for v in x[:10_000]]}
    if isinstance(x, dict):
        return {"dict": [[to_data(k, depth + 1), to_data(v, depth + 1)] for k, v in x.items()]}
    return {"object": type(x).__name__}


def from_data(d):
    """The inverse of to_data (objects other than tensors, numbers, lists and dicts come
    back as a string naming their type)."""
    if not isinstance(d, dict):
        return d
    if "tensor" in d:
        dtype = getattr(torch, d["dtype"], None)
        if not isinstance(dtype, torch.dtype):
            return f"<{d['dtype']}>"
        values = [float.fromhex(v) if isinstance(v, str) else v for v in d["tensor"]]
        return torch.tensor(values, dtype=dtype).reshape(d["shape"])
    if "float" in d:
        return float.fromhex(d["float"])
    if "list" in d or "tuple" in d:
        items = [from_data(v) for v in d.get("list", d.get("tuple"))]
        return items if "list" in d else tuple(items)
    if "dict" in d:
        return {from_data(k): from_data(v) for k, v in d["dict"]}
    return f"<{d.get('object')}>"


def _refuse(*args, **kwargs):
    raise AutogradUsed("autograd was called")


def answer(part, fn, case):
    """Call the student's function on one case: {"answer": data} or {"error": ...}."""
    args = part.inputs(case)
    saved = [getattr(torch.autograd, n) for n in ("grad", "backward")] + [_TENSOR.backward]
    refuse = part.by_hand and not part.uses  # graded functions it calls are judged alone
    if refuse:
        torch.autograd.grad = torch.autograd.backward = _TENSOR.backward = _refuse
    try:
        with _CATCH(record=True):
            if refuse:
                with _NO_GRAD():
                    out = part.call(fn, args)
            else:
                out = part.call(fn, args)
        return {"answer": to_data(out)}
    except Exception as err:  # noqa: BLE001 (the student's error is part of the answer)
        name = type(err).__name__
        if refuse and isinstance(err, RuntimeError) and (
                "does not require grad" in str(err) or "grad_fn" in str(err)):
            name = "AutogradUsed"
        return {"error": name, "message": str(err)[:500]}
    finally:
        torch.autograd.grad, torch.autograd.backward, _TENSOR.backward = saved


def judge_answers(part, cases, answers, fn_name=None, failed=()):
    """The verdict on a part: None if every case is right, else one sentence.
    `answers` maps a case's number to its record (answer or error)."""
    fn_name = fn_name or part.name
    for i, case in enumerate(cases):
        where = part.where(case)
        record = answers.get(i)
        first = [u for u in part.uses if u in failed]
        if record is None and not answers:
            message = (f"{part.name}: no answer was recorded. Did a cell change the course's "
                       "checks (check, judge, compare)? Restart the kernel and run all cells.")
        elif record is None:
            message = (f"{part.name}: the check stopped before its case {i + 1} ({where}) "
                       "was answered; see the error above.")
        elif record.get("error") == "NotImplementedError":
            message = (f"{fn_name} cannot run yet: it calls {first[0]}, which is not done or "
                       f"fails its own test: fix {first[0]} first." if first else
                       f"{fn_name} is not done yet: write it where it says YOUR CODE HERE "
                       "(and delete the raise NotImplementedError()).")
            return message
        elif record.get("error") == "AutogradUsed":
            return (f"{fn_name} called autograd: this part must compute the gradient by "
                    "hand, so it scores 0. Remove the autograd calls.")
        elif "error" in record:
            message = f"{fn_name} raised {record['error']} ({where}): {record['message']}"
        else:
            message = part.judge(case, part.inputs(case), from_data(record["answer"]))
        if message:
            if first:
                message = (f"{fn_name} calls {', '.join(first)}, which fails its own test: "
                           f"fix {first[0]} first. ({message})")
            return message
    return None


def done_line(part, hidden):
    """The line a passing check prints: part.done, marked for the hidden cases."""
    return part.done.replace(":", " (hidden tests):", 1) if hidden else part.done


def run(part, fn, hidden=False, grading=GRADING):
    """The body of a one-line test cell (see the module's docstring). The mode is bound when
    this module is imported, before any student code runs."""
    __tracebackhide__ = True  # IPython shows the student's line, not the checks' lines
    if grading:
        return  # the grader calls the function in its judging kernel
    if hidden:
        if SKIP_HIDDEN:
            print(f"The hidden tests of {part.name} are skipped here ({OFF_GRADER}).")
            return
        raise Failed(OFF_GRADER)
    answers = {}
    for i, case in enumerate(part.cases):
        answers[i] = answer(part, fn, case)
        if "error" in answers[i]:
            break
    fn_name = getattr(fn, "__name__", part.name)
    message = _rule(fn, fn_name, part) or judge_answers(part, part.cases, answers, fn_name,
                                                        FAILED)
    if message:
        FAILED.add(part.name)
        raise Failed(message)
    FAILED.discard(part.name)
    print(done_line(part, hidden))


def record(part, fn_name, fn, hidden, cases, token):
    """The judging kernel's call, made by the grader (never by a notebook): the student's
    function `fn` named `fn_name` (None: not defined) on each case of `part` (the hidden ones: `cases`, as
    JSON), recorded as plain data in one display output of type RECORD with `token`, the
    grader's mark for this run. Nothing is judged here."""
    answers = {}
    if fn is None:
        answers["0"] = {"error": "NameError", "message": f"name {fn_name!r} is not defined"}
    else:
        for i, case in enumerate(json.loads(cases) if hidden else part.cases):
            answers[str(i)] = answer(part, fn, case)
            if "error" in answers[str(i)]:
                break
    _PUBLISH({RECORD: {"token": token, "part": part.name, "hidden": bool(hidden),
                       "answers": answers}}, metadata={})


def _rule(fn, fn_name, part):
    """The by-hand rule as the grader applies it (rules.py, shipped), on the cells this kernel
    has run; None if it holds. Outside IPython, only fn's own source is read for autograd."""
    words = part.words if part.words is not None else AUTOGRAD_WORDS
    names = part.words if part.words is not None else AUTOGRAD_NAMES
    if not part.by_hand:
        words = names = frozenset()
    try:
        from IPython import get_ipython

        inputs = get_ipython().user_ns["In"]
    except (ImportError, AttributeError, KeyError, TypeError):
        used = _autograd_in_source(fn, part) if part.by_hand else []
        return (f"{part.name} uses {part.what} ({', '.join(used)}): {part.why}, so it "
                f"scores 0. Remove the {part.what} calls." if used else None)
    nb = rules.history_notebook(inputs)
    helpers = {p.stem for p in Path(__file__).parent.glob("*.py")} | {"referee"}
    graded = set(part.uses)
    used = rules.forbidden(nb, fn_name, helpers, words, graded, part.methods, names)
    if used:
        return rules.message(fn_name, used, words, part.by_hand, part.what, part.why)
    needed = rules.left_out_needed(nb, fn_name, frozenset(helpers), graded, part.methods)
    return rules.left_out_message(fn_name, needed) if needed else None


def _autograd_in_source(fn, part=None):
    """Forbidden features named in fn's own source, or in the part's methods of a class
    (the grader checks the whole notebook)."""
    import ast
    import inspect
    import textwrap

    methods = getattr(part, "methods", None)
    words = getattr(part, "words", None)
    attrs, names = (words, words) if words is not None else (AUTOGRAD_ATTRS, AUTOGRAD_NAMES)
    code = [getattr(fn, m, None) for m in methods] if methods and isinstance(fn, type) else [fn]
    found = set()
    for f in code:
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(f)))
        except (OSError, TypeError, SyntaxError):
            continue
        found |= {"." + n.attr for n in ast.walk(tree)
                  if isinstance(n, ast.Attribute) and n.attr in attrs}
        found |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in names}
    return sorted(found)


def entry(part, doc):
    """The function a test cell calls: check.<part>(fn) or check.<part>(fn, hidden=True)."""
    def check(fn, hidden=False):
        __tracebackhide__ = True
        run(part, fn, hidden)

    check.__name__, check.__doc__, check.part = part.name, doc, part
    return check
