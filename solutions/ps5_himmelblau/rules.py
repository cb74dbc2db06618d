"""The by-hand rule and the definitions a graded function is judged with, read from source.

Two questions about a submitted notebook, answered from its code alone (nothing of it runs
here):

* ``definitions(nb)``: what the judging kernel runs. A graded function is called in a fresh
  kernel that ran only the course's locked cells and the student's *definitions*: function
  and class definitions, imports of allowed modules, and names bound to plain values
  (``EPS = 1e-8``, ``SIZES = (2, 3, 1)``, ``dtype = torch.float64``). Every other top-level
  statement (a call, a patch such as ``torch.Tensor.f = ...``, ``exec``, ``globals()[...]``,
  an IPython hook, a decorator, a default value or class attribute that would run code) is
  left out, so nothing the rest of the notebook does can reach a verdict. Left-out
  statements keep their line (blank), so line numbers stay the student's.
The module is also shipped with every assignment (``rules.py`` next to the notebook):
``judge.run`` applies the same rule in a student's own kernel, to the cells it has run
(``history_notebook``), so a student hears about a broken rule before being graded. It needs
nothing but the standard library.

* ``forbidden(...)``: the by-hand rule, an allow-list over a graded function and every
  function of the notebook it reaches: free names must be the function's own, the
  notebook's definitions, the course's setup names, allowed modules or builtins on a short
  list; imports only from allowed modules; no dunder attribute, no attribute name that is
  not written literally (``getattr(x, name)``), no autograd in a part done by hand, no
  course helper module, nothing that builds or runs code or looks at frames.
"""
import ast
import builtins
import re
import types

# modules a student's code may import (at the top level and in graded code)
ALLOWED_MODULES = frozenset({"torch", "math", "numpy", "matplotlib", "random", "itertools",
                             "functools", "collections", "typing", "statistics", "copy",
                             "warnings", "time", "numbers"})
# builtins that are allowed only when called with an attribute name written as a literal
ATTRIBUTE_CALLS = frozenset({"getattr", "setattr", "hasattr"})
# builtins graded code may name (everything else, such as open, exec, eval, getattr with a
# computed name, globals, vars, __import__, get_ipython, In, Out, is not on the list)
BUILTINS = frozenset({
    "abs", "all", "any", "bool", "callable", "chr", "complex", "dict", "divmod", "enumerate",
    "filter", "float", "format", "frozenset", "getattr", "hasattr", "hash", "id", "int",
    "isinstance", "issubclass", "iter", "len", "list", "map", "max", "min", "next", "object",
    "ord", "pow", "print", "property", "range", "repr", "reversed", "round", "set", "setattr",
    "slice", "sorted", "staticmethod", "classmethod", "str", "sum", "super", "tuple", "type",
    "zip", "NotImplemented", "Ellipsis", "None", "True", "False", "ArithmeticError",
    "AssertionError", "AttributeError", "Exception", "IndexError", "KeyError", "LookupError",
    "NotImplementedError", "OverflowError", "RuntimeError", "StopIteration", "TypeError",
    "ValueError", "ZeroDivisionError"})
# attributes that reach the interpreter, its frames or the environment, whatever module
ESCAPES = frozenset({"modules", "environ", "f_locals", "f_globals", "f_back", "f_code",
                     "gi_frame", "cr_frame", "tb_frame", "_getframe", "currentframe", "system",
                     "popen", "builtins", "os", "sys", "subprocess", "importlib", "inspect",
                     "ctypes", "gc"})
# names that build or run code, or look at frames (also reported by name when used)
RUNTIME = frozenset({"exec", "eval", "compile", "__import__", "importlib", "globals", "vars",
                     "locals", "inspect", "gc", "ctypes", "sys", "os", "builtins", "operator",
                     "get_ipython", "In", "Out", "open", "breakpoint", "delattr", "dir"})
# names the interpreter or IPython provides besides the builtins (In, Out, _i3, _3, ...)
KERNEL_NAMES = re.compile(r"In|Out|get_ipython|display|exit|quit|_+\d*|_i+\d*|_[io]h|_dh")
# methods that would run code when a class is defined or subclassed
CLASS_HOOKS = frozenset({"__init_subclass__", "__set_name__", "__class_getitem__",
                         "__prepare__", "__mro_entries__"})
DECORATORS = frozenset({"staticmethod", "classmethod", "property"})
# builtins a plain value may call, with plain arguments (`visited=set()`, `float("0.5")`)
SAFE_CALLS = frozenset({"set", "list", "dict", "tuple", "frozenset", "float", "int", "str",
                        "bool", "complex", "range"})


# --- the notebook's cells ------------------------------------------------------------------

def _grade(cell):
    return cell.metadata.get("nbgrader", {}).get("grade")


def _locked(cell):
    return cell.metadata.get("nbgrader", {}).get("locked")


def student_cells(nb):
    """The student's code cells (neither test cells nor the course's locked cells)."""
    return [c for c in nb.cells if c.cell_type == "code" and not _grade(c) and not _locked(c)]


def course_cells(nb):
    """The course's locked code cells that are not tests (the setup cells), in order."""
    return [c for c in nb.cells if c.cell_type == "code" and _locked(c) and not _grade(c)]


def _parse(source):
    """The module AST of a cell with IPython's `%` and `!` lines blanked, or None."""
    lines = ["" if ln.lstrip().startswith(("%", "!")) else ln for ln in source.splitlines()]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def _bindings(tree):
    """{name: [top-level nodes that bind it]} of one parsed cell."""
    defs = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defs.setdefault(node.name, []).append(node)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                defs.setdefault((alias.asname or alias.name).split(".")[0], []).append(node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for name in (n for t in targets for n in _names_bound(t)):
                defs.setdefault(name, []).append(node)
    return defs


def _names_bound(target):
    """The names an assignment target binds (`a`, `a, (b, *c)`; not `x.attr` or `x[i]`)."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for e in target.elts for n in _names_bound(e)]
    if isinstance(target, ast.Starred):
        return _names_bound(target.value)
    return []


def student_code(nb):
    """Top-level names bound by the student's cells: {name: [ast nodes]} (in a kernel's
    history, only the latest cell that binds a name counts: see `history_notebook`)."""
    defs, latest = {}, getattr(nb, "latest", False)
    for cell in student_cells(nb):
        tree = _parse(cell.source)
        for name, nodes in (_bindings(tree) if tree else {}).items():
            if latest:
                defs[name] = list(nodes)
            else:
                defs.setdefault(name, []).extend(nodes)
    return defs


def history_notebook(inputs):
    """A stand-in for a notebook made of a kernel's executed inputs (IPython's `In`), in
    order; a name counts as the latest input bound it. An input that imports the course's
    `check` is taken for the course's setup cell (locked), every other for a student's."""
    def setup(source):
        tree = _parse(source)
        return bool(tree) and any(isinstance(n, ast.Import) and any(
            a.name == "check" for a in n.names) for n in tree.body)

    cells = [types.SimpleNamespace(cell_type="code", source=s, metadata={
        "nbgrader": {"locked": True}} if setup(s) else {})
        for s in inputs if isinstance(s, str) and s.strip()]
    return types.SimpleNamespace(cells=cells, latest=True)


def course_names(nb):
    """The names the course's setup cells bind (torch, check, f64, make_blobs, ...)."""
    names = set()
    for cell in course_cells(nb):
        tree = _parse(cell.source)
        names |= set(_bindings(tree)) if tree else set()
    return names


# --- what the judging kernel runs -----------------------------------------------------------

def _module_ok(name, extra=frozenset()):
    return (name or "").split(".")[0] in ALLOWED_MODULES | extra


def _plain(node, shadowed=frozenset()):
    """Is `node` a value whose evaluation runs no code of anyone's: a literal, a container of
    plain values, arithmetic on them, a name, a dotted name without dunders, or a call of a
    builtin in `SAFE_CALLS` (that the notebook does not rebind: `shadowed`) on literals?"""
    def plain(n):
        return _plain(n, shadowed)

    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(plain(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is not None and plain(k) for k in node.keys) and all(
            plain(v) for v in node.values)
    if isinstance(node, ast.UnaryOp):
        return plain(node.operand)
    if isinstance(node, ast.BinOp):
        return plain(node.left) and plain(node.right)
    if isinstance(node, ast.Name):
        return not node.id.startswith("__")
    if isinstance(node, ast.Attribute):
        return not node.attr.startswith("__") and plain(node.value)
    if isinstance(node, ast.Call):
        literal = [a for a in node.args + [k.value for k in node.keywords]]
        return (isinstance(node.func, ast.Name) and node.func.id in SAFE_CALLS
                and node.func.id not in shadowed
                and all(not isinstance(n, ast.Name) or n.id in SAFE_CALLS
                        for a in literal for n in ast.walk(a))
                and all(plain(a) for a in literal))
    return False


def _signature_ok(fn, shadowed=frozenset()):
    args = fn.args
    values = args.defaults + [d for d in args.kw_defaults if d is not None]
    notes = [a.annotation for a in args.posonlyargs + args.args + args.kwonlyargs
             + [args.vararg, args.kwarg] if a is not None and a.annotation is not None]
    if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and fn.returns is not None:
        notes.append(fn.returns)
    return all(_plain(v, shadowed) for v in values + notes)


def _method_ok(node, class_names, shadowed=frozenset()):
    """A statement of a class body that runs no code when the class is made."""
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return True
    if isinstance(node, ast.Pass):
        return True
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        decorators_ok = all(
            (isinstance(d, ast.Name) and d.id in DECORATORS)
            or (isinstance(d, ast.Attribute) and d.attr in ("setter", "getter", "deleter")
                and isinstance(d.value, ast.Name) and d.value.id in class_names)
            for d in node.decorator_list)
        return decorators_ok and node.name not in CLASS_HOOKS and _signature_ok(node, shadowed)
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        value = node.value
        return (all(isinstance(t, ast.Name) for t in targets) and value is not None
                and (_plain(value, shadowed) or isinstance(value, ast.Lambda)
                     or isinstance(value, ast.Name) and value.id in class_names)
                and not any(t.id in CLASS_HOOKS for t in targets))
    return False


def _kept(node, modules=frozenset(), shadowed=frozenset()):
    """None if the top-level statement `node` is a definition the judging kernel runs, else
    why it is left out (a few words). `modules`: more modules it may import (the course's
    helpers: importing one runs nothing of the student's; graded code that uses one is
    refused by `forbidden`). `shadowed`: the names the notebook binds (see `_plain`)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        if node.decorator_list:
            return "a decorated function"
        return None if _signature_ok(node, shadowed) else \
            "a default value or annotation that runs code"
    if isinstance(node, ast.ClassDef):
        names = {n.name for n in node.body if isinstance(n, (ast.FunctionDef,
                                                             ast.AsyncFunctionDef))}
        names |= {t.id for n in node.body if isinstance(n, ast.Assign) for t in n.targets
                  if isinstance(t, ast.Name)}
        if node.decorator_list or node.keywords:
            return "a decorated class or a class with keywords"
        if not all(_plain(b, shadowed) for b in node.bases):
            return "a class whose base is computed"
        if not all(_method_ok(n, names, shadowed) for n in node.body):
            return "a class body that runs code"
        return None
    if isinstance(node, ast.Import):
        return None if all(_module_ok(a.name, modules) for a in node.names) else \
            "an import of a module graded code may not use"
    if isinstance(node, ast.ImportFrom):
        return None if node.level == 0 and _module_ok(node.module, modules) else \
            "an import of a module graded code may not use"
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        value = node.value
        if value is None or not all(_names_bound(t) and not any(
                isinstance(n, (ast.Attribute, ast.Subscript)) for n in ast.walk(t))
                for t in targets):
            return "an assignment to something other than names"
        if _plain(value, shadowed) or isinstance(value, ast.Lambda) and \
                _signature_ok(value, shadowed):
            return None
        return "a value computed by running code"
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return None  # a string on its own line
    return "a statement that runs code"




def definitions(source, modules=frozenset(), shadowed=frozenset()):
    """(code, left_out) for one student cell: the cell with every statement that is not a
    definition blanked (line numbers kept), and [(line number, names it binds, why, text)]
    of the statements left out. A cell that does not parse gives ("", []). `modules`: see
    `_kept`; `shadowed`: the names the notebook binds (a call of `set` runs nothing of the
    student's only where the student did not bind `set`)."""
    tree = _parse(source)
    if tree is None:
        return "", []
    lines = source.splitlines()
    lines = ["" if ln.lstrip().startswith(("%", "!")) else ln for ln in lines]
    left_out = []
    for node in tree.body:
        why = _kept(node, modules, shadowed)
        if why is None:
            continue
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        text = lines[first - 1].strip()
        names = set(_bindings(ast.Module([node], []))) | {
            t.attr for t in getattr(node, "targets", [getattr(node, "target", None)])
            if isinstance(t, ast.Attribute)}
        left_out.append((first, sorted(names), why, text))
        for i in range(first - 1, node.end_lineno):
            lines[i] = ""
    return "\n".join(lines), left_out


# --- the by-hand rule -----------------------------------------------------------------------

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
        if isinstance(node, ast.ClassDef):
            # a class body's names are not visible in its methods: only its own statements
            inner = here | {t.id for n in node.body if isinstance(n, ast.Assign)
                            for t in n.targets if isinstance(t, ast.Name)} | {
                n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
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


def closure(nb, fn_name, graded=frozenset(), methods=None, defs=None):
    """(node, names local where it stands) for every node of the function `fn_name` and of
    every function of the notebook it uses; other `graded` functions are judged on their
    own, so not followed. For a class, `methods` limits it to those methods (and what
    they call)."""
    defs, seen, todo = defs if defs is not None else student_code(nb), set(), [fn_name]
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


def _literal_name(call):
    """For getattr/setattr/hasattr(obj, name, ...): the name if written literally, else None."""
    if len(call.args) > 1 and isinstance(call.args[1], ast.Constant) \
            and isinstance(call.args[1].value, str):
        return call.args[1].value
    return None


def forbidden(nb, fn_name, helpers, words=frozenset(), graded=frozenset(), methods=None,
              names=None):
    """What the function `fn_name`, and every function of the notebook it uses (see
    `closure`), must not use. Returns a sorted list of what was found (empty: nothing):

    * the autograd `words` as attributes, imports or strings (as plain names only those in
      `names`, by default all of them: a graded function may be called backward);
    * the course's helper modules `helpers`, and imports of modules not allowed;
    * builtins not on the list (`BUILTINS`) and the kernel's own names (`KERNEL_NAMES`),
      unless the function or the notebook binds them: exec, open, globals, In, ...;
    * dunder attributes (`x.__class__`), attributes that reach the interpreter (`ESCAPES`),
      and getattr/setattr/hasattr with a name that is not written as a literal.
    """
    names = words if names is None else names
    defs = student_code(nb)
    known = set(defs) | course_names(nb) | BUILTINS
    found, nodes = set(), list(closure(nb, fn_name, graded, methods, defs))
    called = {id(n.func) for n, _ in nodes if isinstance(n, ast.Call)
              and isinstance(n.func, ast.Name) and n.func.id in ATTRIBUTE_CALLS}
    for node, local in nodes:
        if isinstance(node, ast.Name) and node.id in ATTRIBUTE_CALLS and \
                node.id not in local and id(node) not in called:
            found.add(f"{node.id} passed as a value")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names]
            for m in modules:
                parts = m.split(".")
                if parts[0] in helpers or not _module_ok(m) or any(p in words for p in parts) \
                        or any(p in ESCAPES for p in parts):
                    found.add(f"import {m}")
            if isinstance(node, ast.ImportFrom):
                found.update(a.name for a in node.names if a.name in words)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                node.func.id in ATTRIBUTE_CALLS and \
                node.func.id not in local:
            attr = _literal_name(node)
            if attr is None:
                found.add(f"{node.func.id} with a computed name")
            elif attr.startswith("__") or attr in words or attr in ESCAPES:
                found.add(f"{node.func.id}(..., {attr!r})")
        elif isinstance(node, ast.Attribute) and (
                node.attr in words or node.attr in ESCAPES or node.attr in RUNTIME
                or (node.attr.startswith("__") and node.attr != "__init__")):
            found.add("." + node.attr)
        elif isinstance(node, ast.Name) and node.id not in local and (
                node.id in names or node.id in helpers or node.id in RUNTIME
                or node.id.startswith("__") or node.id not in known and (
                    hasattr(builtins, node.id) or KERNEL_NAMES.fullmatch(node.id))):
            found.add(node.id)  # (a name that is simply undefined fails when it runs)
        elif isinstance(node, ast.Constant) and node.value in words:
            found.add(repr(node.value))
    return sorted(found)


def left_out_needed(nb, fn_name, modules=frozenset(), graded=frozenset(), methods=None):
    """The names the function `fn_name` (and the notebook's functions it reaches) uses that
    only a statement left out of the judging kernel binds (`definitions`): undefined there."""
    defs, kept, patched = student_code(nb), set(course_names(nb)), set()
    for cell in student_cells(nb):
        code, _ = definitions(cell.source, modules, frozenset(defs))
        tree = _parse(code)
        kept |= set(_bindings(tree)) if tree else set()
        tree = _parse(cell.source)  # attributes set at the top level: torch.Tensor.f = ...
        patched |= {t.attr for n in (tree.body if tree else []) if isinstance(n, ast.Assign)
                    for t in n.targets if isinstance(t, ast.Attribute)}
    needed = set()
    for node, local in closure(nb, fn_name, graded, methods, defs):
        if isinstance(node, ast.Name) and node.id not in local and node.id in defs \
                and node.id not in kept:
            needed.add(node.id)
        elif isinstance(node, ast.Attribute) and node.attr in patched:
            needed.add("." + node.attr)
    return sorted(needed)


def uses_autograd(used, words, by_hand):
    """Whether what `forbidden` found (`used`) is autograd (`words`) in a part done by hand."""
    bare = {w for u in used for w in u.removeprefix("import ").strip(".'\"").split(".")}
    return bool(by_hand and bare & set(words))


def message(fn_name, used, words, by_hand, what="autograd",
            why="this part must compute the gradient by hand"):
    """The sentence for a graded function that breaks the rule (`used`: what `forbidden`
    found)."""
    if uses_autograd(used, words, by_hand):
        return (f"{fn_name} uses {what} ({', '.join(used)}): {why}, so it scores 0. Remove "
                f"the {what} calls.")
    return (f"{fn_name} uses what graded code may not use ({', '.join(used)}): names that "
            "are not its own, the notebook's, the setup's or a common builtin; the course's "
            "checks; imports other than torch, math and numpy; dunder attributes; computed "
            "attribute names; introspection or code built at run time. This part must be "
            "your own plain code, so it scores 0. Remove those.")


def left_out_message(fn_name, names):
    """The sentence for a graded function that needs what does not run when graded."""
    return (f"{fn_name} uses {', '.join(names)}, set by a statement that does not run when "
            "your work is graded (only definitions run: def, class, import, NAME = a plain "
            "value), so it would fail there: compute it inside the function, or make it a "
            "plain value.")


def attributes(nb, fn_name, graded=frozenset()):
    """The attribute names the function `fn_name` (and the notebook's functions it calls,
    graded ones aside) uses, read from the notebook's source."""
    return {node.attr for node, _ in closure(nb, fn_name, graded)
            if isinstance(node, ast.Attribute)}
