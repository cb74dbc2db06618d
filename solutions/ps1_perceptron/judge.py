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

What a verdict names (``diagnose``) is data as well as a sentence: the stable ids of the
mistakes it names (``compare.Why``, ``mistakes.py``), of what it observed (``compare.observe``:
a constant factor, the rows or columns that differ), or of what happened ("crash": the
sentence shows the student's own line that raised, "changed-input": an argument the function
changed in place, compared before and after each call). A catalogue mistake is named only
when it explains every case where a catalogue was tried; when several do, all are named.
The grader stores the ids in the test cell's metadata, and the class report counts them.
"""
import json
import linecache
import os
import re
import traceback
import warnings
from pathlib import Path

import compare
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
    names (default AUTOGRAD_WORDS), `what` names them in the verdict, and `why` says why.
    `names` names the arguments `inputs` gives, where `call` does not pass them to the
    function in that order (default: the function's own parameter names)."""

    def __init__(self, name, cases, inputs, judge, call=None, uses=(), by_hand=True,
                 done=None, where=None, must_use=(), methods=None, words=None, what="autograd",
                 why="this part must compute the gradient by hand", names=None):
        self.name, self.cases, self.inputs, self.judge = name, cases, inputs, judge
        self.must_use = tuple(must_use)
        self.call = call or (lambda fn, args: fn(*args))
        self.uses, self.by_hand = tuple(uses), by_hand
        self.done = done or f"{name} matches autograd."
        self.where = where or (lambda case: ", ".join(f"{k}={v}" for k, v in case.items()))
        self.methods = tuple(methods) if methods is not None else None
        self.words = frozenset(words) if words is not None else None
        self.what, self.why = what, why
        self.names = tuple(names) if names is not None else None


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


# a frame of the student's own code: an IPython cell (its file in IPython 7-, ipykernel 6+)
STUDENT_FILE = re.compile(r"^<ipython-input-\d+-[0-9a-f]+>$|ipykernel_\d+[/\\]\d+\.py$")


def _snapshot(x, depth=0):
    """The tensors of an argument (nested in lists and tuples), copied: compared after the
    call to see what the student's function changed in place."""
    if isinstance(x, _TENSOR):
        return _DETACH(x).clone()
    if isinstance(x, (list, tuple)) and depth < 3:
        return [_snapshot(v, depth + 1) for v in x]
    return None


def _changes(name, before, after, depth=0):
    """[(name, entries changed, largest change)] of the tensors in `after` that differ from
    their copies `before`."""
    if isinstance(before, _TENSOR):
        if not isinstance(after, _TENSOR) or after.shape != before.shape \
                or after.dtype != before.dtype:
            return [(name, None, None)]
        a, b = _DETACH(after), before
        differ = ~((a == b) | (a.isnan() & b.isnan()))
        if not bool(differ.any()):
            return []
        diff = (a.double() - b.double()).abs()[differ]
        return [(name, int(differ.sum()), float(diff.max()) if diff.numel() else None)]
    if isinstance(before, list) and isinstance(after, (list, tuple)) and len(after) == len(before):
        return [c for i, (u, v) in enumerate(zip(before, after))
                for c in _changes(f"{name}[{i}]", u, v, depth + 1)]
    return []


def _arg_names(fn, args, names=None):
    """The names of `args`: `names` (the part's), else fn's own parameter names."""
    import inspect
    if names:
        return [names[i] if i < len(names) else f"argument {i + 1}" for i in range(len(args))]
    try:
        params = [p.name for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    return [params[i] if i < len(params) else f"argument {i + 1}" for i in range(len(args))]


def _student_line(err):
    """"line N of your f: `code`" for the last frame of the student's own code (an IPython
    cell) in err's traceback, and the student's line that called it; "" when none is (the
    course's frames are never shown)."""
    frames = [f for f in traceback.extract_tb(err.__traceback__)
              if STUDENT_FILE.search(f.filename or "")]
    said = []
    for f in frames[-2:]:  # where it raised, and the student's line that called that
        code = (f.line or linecache.getline(f.filename, f.lineno)).strip()
        said.append(f"line {f.lineno} of your {f.name}" + (f": `{code[:120]}`" if code else ""))
    return ", called from ".join(reversed(said))


def answer(part, fn, case):
    """Call the student's function on one case: {"answer": data} or {"error": ...}, and
    "changed": [[argument, entries, largest change]] when it changed an input in place."""
    args = part.inputs(case)
    before = [_snapshot(a) for a in args]
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
        record = {"answer": to_data(out)}
        names = _arg_names(fn, args, getattr(part, "names", None))
        changed = [[n, k, d] for name, b, a in zip(names, before, args)
                   for n, k, d in _changes(name, b, a)]
        if changed:
            record["changed"] = changed
        return record
    except Exception as err:  # noqa: BLE001 (the student's error is part of the answer)
        name = type(err).__name__
        if refuse and isinstance(err, RuntimeError) and (
                "does not require grad" in str(err) or "grad_fn" in str(err)):
            name = "AutogradUsed"
        record = {"error": name, "message": str(err)[:500]}
        line = _student_line(err)
        if line:
            record["line"] = line
        return record
    finally:
        torch.autograd.grad, torch.autograd.backward, _TENSOR.backward = saved


def _changed_sentence(fn_name, where, changed):
    """What the student's function changed in place, as observed (never the answer)."""
    said = []
    for name, n, d in changed:
        if n is None:
            said.append(f"{name} (its shape or dtype)")
        else:
            said.append(f"{name} ({n} entr{'y' if n == 1 else 'ies'}, by up to {d:.2g})"
                        if d is not None else name)
    return (f"{fn_name} changed {', '.join(said)} in place ({where}): it must only read its "
            "inputs. Work on a copy (clone the tensor first) or write x = x - m rather than "
            "x -= m; "
            "putting entries back by arithmetic (+= h, then -= h) is not exact in floats.")


def _case_verdict(part, case, record, fn_name, first):
    """(message, ids, hints, against) of one recorded case; message None when it is right;
    `against`: the ids of the catalogue's mistakes that were tried on it and do not give
    its answer (a case judged otherwise, a crash or a rule, says nothing against any)."""
    where = part.where(case)
    del compare.NAMED[:]
    if record.get("error") == "NotImplementedError":
        message = (f"{fn_name} cannot run yet: it calls {first[0]}, which is not done or "
                   f"fails its own test: fix {first[0]} first." if first else
                   f"{fn_name} is not done yet: write it where it says YOUR CODE HERE "
                   "(and delete the raise NotImplementedError()).")
        return message, ["not-done"], [], set()
    if record.get("error") == "AutogradUsed":
        return (f"{fn_name} called autograd: this part must compute the gradient by "
                "hand, so it scores 0. Remove the autograd calls."), ["autograd-used"], [], set()
    if "error" in record:
        at = f" at {record['line']}" if record.get("line") else ""
        return (f"{fn_name} raised {record['error']} ({where}){at}: {record['message']}",
                ["crash"], [], set())
    message = part.judge(case, part.inputs(case), from_data(record["answer"]))
    hints = [h for h in compare.NAMED if message and h["hint"] and h["hint"] in message]
    against = {i for h in compare.NAMED for i in h["against"]}
    ids = [i for h in hints for i in (h["ids"] or [h["seen"][0]]) if i]
    changed = record.get("changed")
    if changed:  # the first thing to fix: what the function changed may explain the rest
        said = _changed_sentence(fn_name, where, changed)
        message = f"{said} (Its answer is wrong too: {message})" if message else said
        return message, ["changed-input"], [], set()
    return message, ids, hints, against


def _keep_common(message, hints, common):
    """`message` with its hints cut down to the mistakes in `common` (those that explain
    every failing case); a hint left with none says what was observed instead."""
    for h in hints:
        keep = [t for t, i in zip(h["texts"], h["ids"]) if i in common]
        if len(keep) == len(h["texts"]):
            continue
        if len(keep) == 1:
            new = f" Most likely: {keep[0]}."
        elif keep:
            new = " Most likely one of these (they give the same answer here): " + \
                "; or ".join(keep) + "."
        else:
            new = f" {h['seen'][1]}" if h["seen"][1] else ""
        message = message.replace(h["hint"], new, 1)
    return message


def diagnose(part, cases, answers, fn_name=None, failed=()):
    """(verdict, ids) of a part: the verdict None if every case is right, else one sentence
    (about the first failing case); `ids` the stable ids of what it names (mistakes.py,
    compare.observe, or "crash", "changed-input", "not-done", ...). A catalogue mistake is
    named only when it gives the answer on every case where it was tried. `answers` maps a case's number to its
    record (answer or error)."""
    fn_name = fn_name or part.name
    first = [u for u in part.uses if u in failed]
    found, against = [], set()  # (message, ids, hints) of each failing case
    for i, case in enumerate(cases):
        record = answers.get(i)
        if record is None and not answers:
            found.append(((f"{part.name}: no answer was recorded. Did a cell change the course's "
                          "checks (check, judge, compare)? Restart the kernel and run all cells."),
                          ["no-answer"], []))
        elif record is None:
            if not found:
                found.append(((f"{part.name}: the check stopped before its case {i + 1} "
                              f"({part.where(case)}) was answered; see the error above."),
                              ["stopped"], []))
        else:
            message, ids, hints, tried = _case_verdict(part, case, record, fn_name, first)
            against |= tried
            if message:
                found.append((message, ids, hints))
                if ids and ids[0] in ("not-done", "autograd-used"):
                    break
        if found and found[0][1] and found[0][1][0] in ("not-done", "autograd-used",
                                                        "no-answer", "stopped"):
            break
    del compare.NAMED[:]
    if not found:
        return None, []
    message, ids, hints = found[0]
    named = {i for h in hints for i in h["ids"]}
    if named:  # a mistake that gives another answer on some case does not explain them all
        common = named - against
        message = _keep_common(message, hints, common)
        ids = [i for i in ids if i not in named or i in common]
        ids += [h["seen"][0] for h in hints if h["seen"][0]
                and not any(i in common for i in h["ids"]) and h["seen"][0] not in ids]
    if first and not (ids and ids[0] in ("not-done", "autograd-used")):
        message = (f"{fn_name} calls {', '.join(first)}, which fails its own test: "
                   f"fix {first[0]} first. ({message})")
        ids = ["fix-first"]  # the mistake is counted under the part that has it
    return message, list(dict.fromkeys(ids))


def judge_answers(part, cases, answers, fn_name=None, failed=()):
    """The verdict on a part: None if every case is right, else one sentence (see
    `diagnose`, which also gives the ids of what it names)."""
    return diagnose(part, cases, answers, fn_name, failed)[0]


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
    function `fn` named `fn_name` (None: not defined) on each case of `part` (the hidden
    ones: `cases`, as JSON), recorded as plain data in one display output of type RECORD
    with `token`, the grader's mark for this run. Nothing is judged here."""
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


def rule_words(part):
    """(words, names): what the part must not use, as attributes, imports or strings, and as
    plain names (none for a part not done by hand). The grader asks the same."""
    if not part.by_hand:
        return frozenset(), frozenset()
    if part.words is not None:
        return part.words, part.words
    return AUTOGRAD_WORDS, AUTOGRAD_NAMES


def _rule(fn, fn_name, part):
    """The by-hand rule as the grader applies it (rules.py, shipped), on the cells this kernel
    has run; None if it holds. Outside IPython, only fn's own source is read for autograd."""
    words, names = rule_words(part)
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
