"""The judge: verdicts on the answers a notebook recorded, made outside the student's process.

While grading, a test cell such as ``check.delta_k(delta_k)`` only records the student's
answers (``judge.RECORD`` display outputs: plain data). After the notebook has run, the
grader replaces those records with a verdict, computed here with the assignment's own
``check.py`` (autograd's answers, the catalogue of mistakes) and its grader-only
``referee.py`` (the hidden cases, and judges that would give an answer away if shipped).
A wrong part gets an error output, so nbgrader scores the cell 0.

Whether a part that must be done by hand used autograd, or delegated to the course's
helper modules, is read from the notebook's source here too (``forbidden``), so nothing the
student's code patches can change a verdict.
"""
import ast
import hashlib
import importlib
import json
import sys
from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from nbformat.v4 import new_output
from traitlets import Bool

# code built at run time, and introspection (reaching into the frames and functions of the
# checks that call a graded function): names and attributes a graded function must not use
RUNTIME = {"exec", "eval", "compile", "__import__", "importlib", "globals", "vars", "inspect",
           "gc", "ctypes", "_getframe", "f_locals", "f_globals", "f_back", "f_code",
           "__globals__", "__closure__", "__code__", "__dict__", "__builtins__", "currentframe",
           "modules"}  # sys.modules: the course's modules, reached without naming them
_LOADED = {}


def load(folder):
    """The assignment's (check, referee, judge) modules, imported from the course's own
    copy in `folder` (referee is None where the assignment has none); cached by content."""
    folder = Path(folder)
    files = sorted(folder.glob("*.py"))
    key = hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in files)).hexdigest()
    if key not in _LOADED:
        names, saved = [p.stem for p in files], sys.path[:]
        for n in names:
            sys.modules.pop(n, None)
        sys.path.insert(0, str(folder))
        try:
            check = importlib.import_module("check")
            referee = importlib.import_module("referee") if (folder / "referee.py").is_file() \
                else None
            judge = sys.modules["judge"]
        finally:
            sys.path[:] = saved
            for n in names:
                sys.modules.pop(n, None)
        _LOADED[key] = (check, referee, judge)
    return _LOADED[key]


def helper_modules(shipped):
    """The module names a student's function must not call: the course's shipped helpers
    (and the grader-only referee, and the helpers of earlier versions of the course)."""
    return {Path(n).stem for n in shipped if str(n).endswith(".py")} | {
        "referee", "gradecheck", "enginecheck"}


def hidden_cases(folder):
    """{part: [cases]} of the hidden tests (empty without a referee)."""
    referee = load(folder)[1]
    return getattr(referee, "HIDDEN", {})


def test_calls(source):
    """The checks a test cell runs: [(part, function name, hidden)] for each
    `check.<part>(<function>[, hidden=True])` statement."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    calls = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "check"
                and node.args and isinstance(node.args[0], ast.Name)):
            hidden = any(k.arg == "hidden" and isinstance(k.value, ast.Constant)
                         and k.value.value is True for k in node.keywords)
            calls.append((node.func.attr, node.args[0].id, hidden))
    return calls


def _student_code(nb):
    """Top-level names bound by the student's cells: {name: [ast nodes]}."""
    defs = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("grade") or meta.get("locked"):
            continue
        lines = [ln for ln in cell.source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defs.setdefault(node.name, []).append(node)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    name = (alias.asname or alias.name).split(".")[0]
                    defs.setdefault(name, []).append(node)
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name):
                            defs.setdefault(name.id, []).append(node)
    return defs


def _bound(fn):
    """The names a function (or lambda) binds in its own scope: its parameters and the
    names it assigns, imports or defines (not those of the scopes nested in it), minus
    those it declares global or nonlocal."""
    args = fn.args
    names = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    names |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    declared, todo = set(), list(fn.body) if isinstance(fn.body, list) else [fn.body]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            todo.extend(node.decorator_list)
            continue
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp,
                             ast.GeneratorExp)):
            continue
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            declared.update(node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        todo.extend(ast.iter_child_nodes(node))
    return names - declared


def _scopes(top, local=frozenset()):
    """(node, names local where it stands) for every node of `top`: a name bound in a
    function is that function's own, whatever the notebook binds under the same name."""
    todo = [(top, frozenset(local))]
    while todo:
        node, here = todo.pop()
        yield node, here
        inner = here
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            inner = here | _bound(node)
            outer = node.args.defaults + [d for d in node.args.kw_defaults if d] + getattr(
                node, "decorator_list", [])
            todo.extend((n, here) for n in outer)
            body = node.body if isinstance(node.body, list) else [node.body]
            todo.extend((n, inner) for n in body)
            continue
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            inner = here | {n.id for g in node.generators for n in ast.walk(g.target)
                            if isinstance(n, ast.Name)}
        todo.extend((n, inner) for n in ast.iter_child_nodes(node))


def _part_of_class(cls, methods):
    """The statements of class `cls` that belong to a part: its methods named in `methods`
    (and the class-level names bound to them), and the methods these call by attribute."""
    defs = {n.name: n for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    chosen, todo = [], list(methods)
    seen = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for node in cls.body:
            targets = [] if not isinstance(node, (ast.Assign, ast.AnnAssign)) else (
                node.targets if isinstance(node, ast.Assign) else [node.target])
            if node is defs.get(name) or any(isinstance(t, ast.Name) and t.id == name
                                             for t in targets):
                chosen.append(node)
                todo.extend(n.attr for n in ast.walk(node)
                            if isinstance(n, ast.Attribute) and n.attr in defs)
    return chosen


def _closure(nb, fn_name, graded=frozenset(), methods=None):
    """(node, names local where it stands) for every node of the function `fn_name` and of
    every function of the notebook it uses; other `graded` functions are judged on their
    own, so not followed. For a class, `methods` limits it to those methods (and what
    they call)."""
    defs, seen, todo = _student_code(nb), set(), [fn_name]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for top in defs.get(name, []):
            tops = [top]
            if isinstance(top, ast.ClassDef) and name == fn_name and methods is not None:
                tops = _part_of_class(top, methods)
            for node, local in (pair for t in tops for pair in _scopes(t)):
                if isinstance(node, ast.Name) and node.id not in local and node.id in defs \
                        and node.id not in graded \
                        and not (node.id == fn_name and methods is not None):
                    todo.append(node.id)
                yield node, local


def forbidden(nb, fn_name, helpers, words=frozenset(), graded=frozenset(), methods=None,
              names=None):
    """What the function `fn_name`, and every function of the notebook it uses (see
    `_closure`), must not use: the autograd `words` (as attributes, imports or strings; as
    plain names only those in `names`, by default all of them: a graded function may be
    called backward), the course's helper modules `helpers`, code built at run time.
    Returns a sorted list of the names found (empty: nothing forbidden)."""
    names = words if names is None else names
    found = set()
    for node, local in _closure(nb, fn_name, graded, methods):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names]
            for m in modules:
                if m.split(".")[0] in helpers | RUNTIME or any(p in words for p in m.split(".")):
                    found.add(f"import {m}")
            if isinstance(node, ast.ImportFrom):
                found.update(a.name for a in node.names if a.name in words)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                node.func.id in ("getattr", "setattr") and len(node.args) > 1 and \
                not isinstance(node.args[1], ast.Constant):
            found.add(f"{node.func.id} with a computed name")
        elif isinstance(node, ast.Attribute) and (node.attr in words or node.attr in RUNTIME):
            found.add("." + node.attr)
        elif isinstance(node, ast.Name) and node.id not in local and (
                node.id in names or node.id in helpers or node.id in RUNTIME):
            found.add(node.id)
        elif isinstance(node, ast.Constant) and node.value in words:
            found.add(repr(node.value))
    return sorted(found)


def attributes(nb, fn_name, graded=frozenset()):
    """The attribute names the function `fn_name` (and the notebook's functions it calls,
    graded ones aside) uses, read from the notebook's source."""
    return {node.attr for node, _ in _closure(nb, fn_name, graded)
            if isinstance(node, ast.Attribute)}


def _records(cell, record_type):
    keep, records = [], []
    for out in cell.get("outputs", []):
        data = out.get("data", {}) if out.get("output_type") == "display_data" else {}
        if record_type in data:
            records.append(data[record_type])
        else:
            keep.append(out)
    return keep, records


def judge_cell(cell, nb, modules, helpers, failed, graded=frozenset()):
    """Replace the records of one test cell by its verdicts; adds failed parts to `failed`."""
    check, referee, judge = modules
    keep, records = _records(cell, judge.RECORD)
    messages, lines = [], []
    for name, fn_name, hidden in test_calls(cell.source):
        entry = getattr(check, name, None)
        part = getattr(entry, "part", None)
        if part is None:
            messages.append(f"the test calls check.{name}, which the course does not have.")
            continue
        if referee is not None and name in getattr(referee, "JUDGES", {}):
            part = judge.Part(**{**vars(part), "judge": referee.JUDGES[name]})
        cases = getattr(referee, "HIDDEN", {}).get(name, []) if hidden else part.cases
        words = getattr(part, "words", None)
        names = (judge.AUTOGRAD_NAMES if words is None else words) if part.by_hand else ()
        words = (judge.AUTOGRAD_WORDS if words is None else words) if part.by_hand else ()
        used = forbidden(nb, fn_name, helpers, words, graded - {fn_name},
                         getattr(part, "methods", None), names)
        answers, twice = {}, set()
        for rec in records:
            if isinstance(rec, dict) and rec.get("part") == name and \
                    rec.get("hidden") == hidden and isinstance(rec.get("case"), int):
                if rec["case"] in answers and answers[rec["case"]] != rec:
                    twice.add(rec["case"])
                answers[rec["case"]] = rec
        if used:
            bare = {w for u in used for w in u.removeprefix("import ").strip(".'\"").split(".")}
            if part.by_hand and bare & set(words):
                what = getattr(part, "what", "autograd")
                why = getattr(part, "why", "this part must compute the gradient by hand")
                message = (f"{fn_name} uses {what} ({', '.join(used)}): {why}, so it scores "
                           f"0. Remove the {what} calls.")
            else:
                message = (f"{fn_name} uses the course's checks, introspection or code built "
                           f"at run time ({', '.join(used)}): this part must be your own code, "
                           "so it scores 0. Remove those calls.")
        elif set(part.must_use) - attributes(nb, fn_name, graded - {fn_name}):
            message = (f"{fn_name} must use {', '.join('.' + m + '()' for m in part.must_use)} "
                       "itself (read from the notebook), so it scores 0.")
        elif twice:
            message = (f"{name}: the answers to the same case were recorded twice, "
                       "differently; run the notebook as it was released.")
        else:
            message = judge.judge_answers(part, cases, answers, fn_name, failed)
        if message:
            failed.add(name)
            messages.append(message)
        else:
            lines.append(judge.done_line(part, hidden))
    if messages:
        text = "\n".join(messages)
        keep.append(new_output("error", ename="Failed", evalue=text,
                               traceback=[f"Failed: {m}" for m in messages]))
    elif lines:
        keep.append(new_output("stream", name="stdout", text="\n".join(lines) + "\n"))
    cell.outputs = keep


def preprocessor(folder, helpers):
    """An nbgrader/nbconvert preprocessor that judges every test cell of a notebook with
    the assignment in `folder`; `helpers` are the names of the modules shipped with it."""
    class Verdicts(Preprocessor):
        enabled = Bool(True)

        def preprocess(self, nb, resources):
            modules, failed = load(folder), set()
            tests = [c for c in nb.cells if c.cell_type == "code"
                     and c.metadata.get("nbgrader", {}).get("grade") and test_calls(c.source)]
            graded = {fn for c in tests for _, fn, _ in test_calls(c.source)}
            for cell in tests:
                judge_cell(cell, nb, modules, set(helpers), failed, graded)
            return nb, resources

    return Verdicts


def environment(folder):
    """What the sandbox sets for the kernel: grading mode, and the hidden cases."""
    return {"BACKPROP_GRADING": "1",
            "BACKPROP_HIDDEN_CASES": json.dumps(hidden_cases(folder))}
