"""The checks of problem set 3: one per thing you write, each a one-line test cell.

Part A: ``check.dsigmoid_dw(dsigmoid_dw)`` and the others call your function on the cases
below and compare its answers with autograd's, naming the typical mistake it matches
(``mistakes.py``).

Part B: ``check.arithmetic(Value)``, ``check.functions(Value)`` and ``check.backward(Value)``
take your class. Every operation is written once with Python operators (``OPS``), so the
same line builds a graph of your Values and, in torch, the graph that autograd
differentiates. These checks never run a backward pass themselves:

* arithmetic and functions: each operation makes its node(s); each new node's
  ``_backward()`` is called on its own (its grad set, the others' grads known), and what
  it added to each node is noted. Autograd then chains those local steps, and the leaves'
  gradients are compared with autograd's on the same expression in torch.
* backward: graphs of nodes made by the checks (``Value(data, children, op)`` with a
  ``_backward`` that adds autograd's local derivatives and notes when it ran), then your
  ``backward()``; the leaves' grads are compared with autograd's, and the order of the
  ``_backward()`` calls is checked.

When your work is graded, the same cases and more run, and the grader judges your answers
outside your notebook (see ``judge.py``).
"""
import math
from collections import namedtuple

import compare
import judge
import mistakes
import torch
from compare import close, verdict

f64 = torch.float64

# taken at import, before any student code runs: patching torch later changes none of these
_GRAD, _ITEM, _NEW, _ENABLE_GRAD = torch.autograd.grad, torch.Tensor.item, torch.tensor, \
    torch.enable_grad
_T = {n: getattr(torch, n) for n in ("add", "sub", "mul", "div", "neg", "pow", "exp",
                                      "sigmoid", "tanh")}


def _c(c):
    return _NEW(float(c), dtype=f64)


# ---------------------------------------------------------------------------------------
# Part A: derivatives by hand.

def _draws(case, n):
    """The case's n tensors: the values given, or n seeded random tensors of one shape
    (times `scale`), whose last entries are set to `tail` (far in a sigmoid's tail)."""
    if "values" in case:
        return [_NEW([float(v)], dtype=f64) for v in case["values"][:n]]
    g = torch.Generator().manual_seed(case["seed"])
    out = [case.get("scale", 1.0) * torch.randn(*case["shape"], generator=g, dtype=f64)
           for _ in range(n)]
    if out[0].numel() > 1:
        for t, v in zip(out, case.get("tail", ())):
            t.view(-1)[-1] = v
    return out


def _where(case):
    if "values" in case:
        return case.get("where", f"values {case['values']}")
    return case.get("where", f"shape {tuple(case['shape'])}, seed {case['seed']}")


def derivative(f, args, wrt=0):
    """Autograd's elementwise derivative of f(*args) with respect to args[wrt]."""
    with _ENABLE_GRAD():
        leaves = [a.detach().clone().requires_grad_(i == wrt) for i, a in enumerate(args)]
        (grad,) = _GRAD(f(*leaves).sum(), leaves[wrt])
    return grad


def _judge_dsigmoid_dw(case, args, out):
    x, w, b = args
    z = w * x + b
    expected = derivative(lambda x, w, b: torch.sigmoid(w * x + b), args, wrt=1)
    sp = derivative(torch.sigmoid, [z])
    return verdict("dsigmoid_dw", out, expected, mistakes.mistakes_dsigmoid_dw(x, w, z, sp),
                   _where(case))


def _y2(x, w1, b1, w2, b2):
    return (x * w1 + b1) * w2 + b2


def _judge_two_layer_grads(case, args, out):
    if not (isinstance(out, (tuple, list)) and len(out) == 3):
        return ("two_layer_grads must return a tuple of three tensors (dy2/dw1, dy2/db1, "
                f"dy2/dw2), got {type(out).__name__} ({_where(case)}).")
    expected = [derivative(_y2, args, wrt=k) for k in (1, 2, 3)]
    x, w1, _, w2, _ = args
    for name, mine, right, wrong in zip(("dy2/dw1", "dy2/db1", "dy2/dw2"), out, expected,
                                        mistakes.mistakes_two_layer(x, w1, w2, expected)):
        message = verdict(name, mine, right, wrong, _where(case))
        if message:
            return message
    return None


def _paths(u, v, x):
    """d/dx of u(x) v(x) by autograd: (the path through u alone, the path through v alone,
    the product of the two factors' derivatives)."""
    through_u = derivative(lambda t: u(t) * v(x), [x])
    through_v = derivative(lambda t: u(x) * v(t), [x])
    return through_u, through_v, derivative(u, [x]) * derivative(v, [x])


TWO_PATHS = {"dswish_dx": (lambda t: t, torch.sigmoid, mistakes.mistakes_swish),
             "dsquare_sin_dx": (lambda t: t**2, torch.sin, mistakes.mistakes_square_sin)}


def _judge_two_paths(name):
    u, v, wrong = TWO_PATHS[name]

    def judge_(case, args, out):
        (x,) = args
        expected = derivative(lambda t: u(t) * v(t), [x])
        return verdict(name, out, expected, wrong(x, *_paths(u, v, x)), _where(case))

    return judge_


def _part_a(name, n, judge_, done, cases):
    return judge.entry(judge.Part(
        name, cases, lambda case: tuple(_draws(case, n)), judge_, where=_where,
        done=done), f"Check {name} against autograd.")


dsigmoid_dw = _part_a("dsigmoid_dw", 3, _judge_dsigmoid_dw,
                      "Part A1: dsigmoid_dw matches autograd.",
                      [{"seed": 0, "shape": [6], "where": "6 random points"}])
two_layer_grads = _part_a(
    "two_layer_grads", 5, _judge_two_layer_grads, "Part A1: two_layer_grads matches autograd.",
    [{"values": [1.0, 2.0, 1.0, 2.0, 1.0],
      "where": "the slides' values x=1, w1=2, b1=1, w2=2, b2=1"},
     {"seed": 1, "shape": [5], "where": "5 random points"}])
dswish_dx = _part_a("dswish_dx", 1, _judge_two_paths("dswish_dx"),
                    "Part A2: dswish_dx matches autograd.",
                    [{"seed": 0, "shape": [8], "scale": 2.0, "where": "8 random points"}])
dsquare_sin_dx = _part_a("dsquare_sin_dx", 1, _judge_two_paths("dsquare_sin_dx"),
                         "Part A2: dsquare_sin_dx matches autograd.",
                         [{"seed": 0, "shape": [8], "scale": 2.0, "where": "8 random points"}])


# ---------------------------------------------------------------------------------------
# Part B: the operations of the engine.
#
# An instruction is [name, i] for one node, [name, i, j] for two nodes, [name, i, c] for a
# node and a plain number c; i and j index the nodes made so far (leaves first).
# kind: "binary" (two nodes), "number" (a node and a number), "unary" (one node).
# expr: the operation with Python operators (your Values); torch: the same in torch.

Op = namedtuple("Op", "kind label expr torch")

OPS = {
    "add": Op("binary", "{a} + {b}", lambda a, b: a + b, lambda a, b: _T["add"](a, b)),
    "sub": Op("binary", "{a} - {b}", lambda a, b: a - b, lambda a, b: _T["sub"](a, b)),
    "mul": Op("binary", "{a} * {b}", lambda a, b: a * b, lambda a, b: _T["mul"](a, b)),
    "div": Op("binary", "{a} / {b}", lambda a, b: a / b, lambda a, b: _T["div"](a, b)),
    "neg": Op("unary", "-{a}", lambda a: -a, lambda a: _T["neg"](a)),
    "add_c": Op("number", "{a} + {c}", lambda a, c: a + c, lambda a, c: _T["add"](a, _c(c))),
    "radd": Op("number", "{c} + {a}", lambda a, c: c + a, lambda a, c: _T["add"](_c(c), a)),
    "sub_c": Op("number", "{a} - {c}", lambda a, c: a - c, lambda a, c: _T["sub"](a, _c(c))),
    "rsub": Op("number", "{c} - {a}", lambda a, c: c - a, lambda a, c: _T["sub"](_c(c), a)),
    "mul_c": Op("number", "{a} * {c}", lambda a, c: a * c, lambda a, c: _T["mul"](a, _c(c))),
    "rmul": Op("number", "{c} * {a}", lambda a, c: c * a, lambda a, c: _T["mul"](_c(c), a)),
    "div_c": Op("number", "{a} / {c}", lambda a, c: a / c, lambda a, c: _T["div"](a, _c(c))),
    "rdiv": Op("number", "{c} / {a}", lambda a, c: c / a, lambda a, c: _T["div"](_c(c), a)),
    "pow": Op("number", "{a} ** {c}", lambda a, c: a**c, lambda a, c: _T["pow"](a, c)),
    "exp": Op("unary", "{a}.exp()", lambda a: a.exp(), lambda a: _T["exp"](a)),
    "sigmoid": Op("unary", "{a}.sigmoid()", lambda a: a.sigmoid(),
                  lambda a: _T["sigmoid"](a)),
    "tanh": Op("unary", "{a}.tanh()", lambda a: a.tanh(), lambda a: _T["tanh"](a)),
}
ARITHMETIC = ("sub", "mul", "div", "neg", "add_c", "radd", "sub_c", "rsub", "mul_c", "rmul",
              "div_c", "rdiv")  # part B3 (with the given "add")
FUNCTIONS = ("pow", "exp", "sigmoid", "tanh")  # part B4
METHODS = {"arithmetic": ("__neg__", "__sub__", "__rsub__", "__mul__", "__rmul__",
                          "__truediv__", "__rtruediv__", "__radd__"),
           "functions": ("__pow__", "exp", "sigmoid", "tanh"),
           "backward": ("backward",)}
NO_TORCH = {"torch", "autograd", "functorch"}  # the engine computes with plain floats
PLAIN = "the engine computes with plain Python floats (math.exp, math.tanh)"


def node_operands(instr):
    """The node numbers an instruction reads (one or two)."""
    return list(instr[1:3]) if OPS[instr[0]].kind == "binary" else [instr[1]]


def operands(instr, nodes):
    """The operands of one instruction: nodes by number, plain numbers as they are."""
    name, i, *rest = instr
    kind = OPS[name].kind
    if kind == "binary":
        return (nodes[i], nodes[rest[0]])
    return (nodes[i], rest[0]) if kind == "number" else (nodes[i],)


def describe(instr, names):
    """The instruction as Python, e.g. "n5 * x1" or "2.5 - a"."""
    name, i, *rest = instr
    b = names[rest[0]] if OPS[name].kind == "binary" else None
    return OPS[name].label.format(a=names[i], b=b, c=rest[0] if rest else None)


def node_names(program, leaf_names=None):
    """x0, x1, ... for the leaves (or leaf_names), then n3, n4, ... for the other nodes."""
    n = len(program["leaves"])
    leaf_names = leaf_names or [f"x{i}" for i in range(n)]
    return list(leaf_names) + [f"n{k}" for k in range(n, n + len(program["instrs"]))]


def local(name, args):
    """Autograd's value and local derivatives of one operation on float operands (a plain
    number c stays a number): (value, [d/d operand for each node operand])."""
    n = 2 if OPS[name].kind == "binary" else 1
    with _ENABLE_GRAD():
        leaves = [_NEW(float(a), dtype=f64, requires_grad=True) for a in args[:n]]
        out = OPS[name].torch(*leaves, *args[n:])
        grads = _GRAD(out, leaves, allow_unused=True)
    return _ITEM(out), [0.0 if g is None else _ITEM(g) for g in grads]


def torch_program(program):
    """The graph in torch float64: (every node's value, autograd's leaf gradients)."""
    with _ENABLE_GRAD():
        leaves = [_NEW(float(v), dtype=f64, requires_grad=True) for v in program["leaves"]]
        nodes = list(leaves)
        for instr in program["instrs"]:
            nodes.append(OPS[instr[0]].torch(*operands(instr, nodes)))
        grads = _GRAD(nodes[-1], leaves, allow_unused=True)
    return [_ITEM(n) for n in nodes], [0.0 if g is None else _ITEM(g) for g in grads]


# ---------------------------------------------------------------------------------------
# Running your class (in your notebook): plain data out.

class _Made:
    """Notes every node of the class made while it is on, in order of making."""

    def __init__(self, engine):
        self.engine, self.nodes = engine, []

    def __enter__(self):
        engine, nodes = self.engine, self.nodes
        self.own = "__init__" in vars(engine)
        self.original = original = engine.__init__

        def __init__(node, *args, **kwargs):
            nodes.append(node)
            original(node, *args, **kwargs)

        engine.__init__ = __init__
        return nodes

    def __exit__(self, *exc):
        if self.own:
            self.engine.__init__ = self.original
        else:
            del self.engine.__init__


class _Missing(Exception):
    """A method of another part that is not written yet."""


def _call(label, make, part):
    """make(), with a NotImplementedError of a method outside `part` made plain."""
    try:
        return make()
    except NotImplementedError as err:
        tb, method = err.__traceback__, None
        while tb is not None:
            method, tb = tb.tb_frame.f_code.co_name, tb.tb_next
        if method in METHODS[part]:
            raise
        raise _Missing(f"{label} calls Value.{method}, which is not written yet") from None


def _probe(nodes, first, baseline, gamma):
    """Each node from nodes[first] on, alone: every node's grad set to its baseline, this
    node's to gamma, then its _backward(); the grads it changed, as [node, new grad]."""
    out = []
    for i in range(first, len(nodes)):
        for node, b in zip(nodes, baseline):
            node.grad = b
        nodes[i].grad = gamma
        nodes[i]._backward()
        out.append([[j, node.grad] for j, node in enumerate(nodes)
                    if j != i and node.grad is not baseline[j]])
    for node in nodes:
        node.grad = 0.0
    return out


def _children(node, index):
    try:
        return [index.get(id(p), -1) for p in list(node._prev)[:20]]
    except TypeError:
        return None


def _reference_node(engine, instr, args, k, log):
    """Value(data, children, op) made by the checks: its _backward() adds autograd's local
    derivatives times its grad to its children, and notes (k, its grad) in `log`."""
    parents = [a for a in args if isinstance(a, engine)]
    floats = [a.data if isinstance(a, engine) else a for a in args]
    if not all(isinstance(f, (int, float)) for f in floats):
        raise TypeError(f"n{k}: an operand's .data is a "
                        f"{next(type(f).__name__ for f in floats if not isinstance(f, (int, float)))}"
                        ", expected a float")
    value, grads = local(instr[0], floats)
    out = engine(value, tuple(parents), instr[0])

    def _backward():
        log.append((k, out.grad))
        for p, d in zip(parents, grads):
            p.grad += d * out.grad

    out._backward = _backward
    return out


def _build(engine, program, yours, part, log=None, leaf_names=None):
    """The program as a graph of `engine` nodes: the operations in `yours` with your
    operators, the others as the checks' nodes. Returns (every node, in order of making,
    the leaves first; {"outs": the place there of each program node}), or (None, a record
    saying what went wrong)."""
    names = node_names(program, leaf_names)
    leaves = [engine(v) for v in program["leaves"]]
    nodes = list(leaves)
    log = [] if log is None else log
    with _Made(engine) as made:
        for k, instr in enumerate(program["instrs"], start=len(leaves)):
            args = operands(instr, nodes)
            if instr[0] in yours:
                label = describe(instr, names)
                label = label if leaf_names else f"{names[k]} = {label}"
                out = _call(label, lambda: OPS[instr[0]].expr(*args), part)  # noqa: B023
                if not isinstance(out, engine):
                    return None, {"returned": type(out).__name__, "label": label}
            else:
                out = _reference_node(engine, instr, args, k, log)
            nodes.append(out)
    order, seen = list(leaves), {id(n) for n in leaves}
    for node in made:
        if id(node) not in seen:
            seen.add(id(node))
            order.append(node)
    index = {id(n): j for j, n in enumerate(order)}
    return order, {"outs": [index.get(id(n), -1) for n in nodes]}


# the grads each node's _backward() is probed with: the leaves start at the case's preset
# (op cases) or at 0.5 (graphs), the other nodes at BASELINE, the probed node at GAMMA
BASELINE = {"op": 0.0, "graph": 0.5}
GAMMA_GRAPH = 1.3


def _settings(case):
    """(leaf grads before, the other nodes' grads before, the probed node's grad)."""
    if "graph" in case:
        return [0.5] * len(case["graph"]["leaves"]), BASELINE["graph"], GAMMA_GRAPH
    return (case.get("preset") or [0.0] * len(case["values"]), BASELINE["op"],
            case.get("upstream", 1.5))


def _op_program(case):
    return {"leaves": case["values"], "instrs": [case["op"]]}


def _run_ops(part):
    def run(engine, args):
        (case,) = args
        program, yours = ((case["graph"], case["yours"]) if "graph" in case
                          else (_op_program(case), [case["op"][0]]))
        letters = None if "graph" in case else "abcd"[:len(case["values"])]
        preset, baseline, gamma = _settings(case)
        try:
            order, info = _build(engine, program, yours, part, leaf_names=letters)
        except _Missing as err:
            return {"missing": str(err)}
        if order is None:
            return info
        n = len(program["leaves"])
        index = {id(node): j for j, node in enumerate(order)}
        return {"outs": info["outs"], "data": [node.data for node in order],
                "prev": [_children(node, index) for node in order[n:]],
                "probe": _probe(order, n, [*preset, *[baseline] * (len(order) - n)], gamma)}
    return run


# ---------------------------------------------------------------------------------------
# Judging the recorded answers of parts B3 and B4.

def _number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _before(case, n_leaves):
    preset, baseline, _ = _settings(case)
    return lambda j: preset[j] if j < n_leaves else baseline


def _chained(case, rec, n_leaves, out):
    """d(node out)/d(leaf) for every leaf, by autograd through the local steps that the
    probes of the nodes' _backward() recorded: node i = sum over j of (its step to j)."""
    before, gamma = _before(case, n_leaves), _settings(case)[2]
    with _ENABLE_GRAD():
        leaves = [torch.zeros((), dtype=f64, requires_grad=True) for _ in range(n_leaves)]
        t = list(leaves)
        for i, changes in enumerate(rec["probe"], start=n_leaves):
            total = torch.zeros((), dtype=f64)
            for j, after in changes:
                if j < i:
                    total = total + (after - before(j)) / gamma * t[j]
            t.append(total)
        if not t[out].requires_grad:
            return [0.0] * n_leaves
        grads = _GRAD(t[out], leaves, allow_unused=True)
    return [0.0 if g is None else _ITEM(g) for g in grads]


def _bad_grads(rec, names):
    """A sentence if a grad the _backward() functions wrote is not a float."""
    for changes in rec["probe"]:
        for j, after in changes:
            if not _number(after):
                who = names[j] if j < len(names) else "a node"
                what = after[1:-1] if isinstance(after, str) and after.startswith("<") \
                    else type(after).__name__
                return (f"{who}.grad became a {what}, expected a float: in "
                        "_backward, add floats (other.data, out.grad).")
    return None


def _wrong_leaves(names, mine, expected):
    wrong = [f"  {n}.grad = {m:.6g}, expected {e:.6g}" for n, m, e in zip(names, mine, expected)
             if not close(_NEW([m], dtype=f64), _NEW([e], dtype=f64))]
    extra = f"\n  ... and {len(wrong) - 6} more" if len(wrong) > 6 else ""
    return "\nWrong leaves:\n" + "\n".join(wrong[:6]) + extra


def _leaf_verdict(what, names, mine, expected, wrong=(), where=""):
    message = verdict(what, _NEW(mine, dtype=f64), _NEW(expected, dtype=f64), wrong, where)
    return message and message + _wrong_leaves(names, mine, expected)


def _prev_problem(case, rec, n_leaves, name_of, label_of):
    """A node that adds to another's grad must hold it in its _prev."""
    before = _before(case, n_leaves)
    for i, (changes, prev) in enumerate(zip(rec["probe"], rec["prev"]), start=n_leaves):
        for j, after in changes:
            if j < i and after != before(j) and (prev is None or j not in prev):
                return mistakes.prev_missing(label_of(i), name_of(j))
    return None


def _common(rec, where):
    if "missing" in rec:
        return f"{rec['missing']} ({where}): write that part first."
    if "returned" in rec:
        return (f"{rec['label']} returned {rec['returned']}, expected a Value: every operation "
                f"returns a new Value node ({where}).")
    return None


def _judge_op(case, args, rec):
    instr, values = case["op"], case["values"]
    letters = "abcd"[:len(values)]
    label = describe(instr, letters)
    preset, _, upstream = _settings(case)
    setting = ", ".join(f"{n} = {v:g}" for n, v in zip(letters, values))
    if any(preset):
        setting += " (leaf grads start at " + ", ".join(f"{p:g}" for p in preset) + ")"
    where = f"{setting}, out.grad = {upstream:g}"
    problem = _common(rec, where)
    if problem:
        return problem
    n, out = len(values), rec["outs"][-1]
    if out < n:
        return (f"{label} ({where}) returned a Value that existed before: every operation "
                "returns a new Value node.")
    value, grads = torch_program(_op_program(case))
    data = rec["data"][out]
    if not (_number(data) and math.isclose(data, value[-1], rel_tol=1e-9, abs_tol=1e-12)):
        return (f"{label} ({where}): out.data = {data!r}, expected {value[-1]!r}."
                + mistakes.reversed_operation(label, instr))
    bad = _bad_grads(rec, letters)
    if bad:
        return f"{label} ({where}): {bad}"
    chained = _chained(case, rec, n, out)
    mine = [p + upstream * g for p, g in zip(preset, chained)]
    expected = [p + upstream * g for p, g in zip(preset, grads)]
    idx = node_operands(instr)
    floats = [values[k] for k in idx] + ([instr[2]] if OPS[instr[0]].kind == "number" else [])
    right = local(instr[0], floats)[1]
    wrong = mistakes.mistakes_op(instr[0], idx, floats, right, upstream, preset, label)
    return (_leaf_verdict(f"grads of {label}", letters, mine, expected, wrong, where)
            or _prev_problem(case, rec, n, lambda j: letters[j] if j < n else "a node it made",
                             lambda i: f"{label} ({where})"))


def _judge_graph(case, args, rec):
    program = case["graph"]
    where = f"{case['where']}: {len(program['instrs'])} operations"
    problem = _common(rec, where)
    if problem:
        return problem
    names = node_names(program)
    n = len(program["leaves"])
    values, grads = torch_program(program)
    for k, instr in enumerate(program["instrs"], start=n):
        data = rec["data"][rec["outs"][k]] if rec["outs"][k] >= 0 else None
        if not (_number(data) and math.isclose(data, values[k], rel_tol=1e-9, abs_tol=1e-9)):
            return (f"random graph ({where}): {names[k]} = {describe(instr, names)} is "
                    f"{data!r}, expected {values[k]!r}: the value of that operation is wrong.")
    bad = _bad_grads(rec, names[:n])
    if bad:
        return f"random graph ({where}): {bad}"
    mine = _chained(case, rec, n, rec["outs"][-1])
    message = _leaf_verdict("leaf grads of a random graph", names[:n], mine, grads,
                            where=where)
    if message:
        step = _first_wrong_step(case, rec, names, values)
        return message + (f"\nThe first wrong step: {step}" if step else "")
    at = {rec["outs"][k]: k for k in range(len(names))}
    return _prev_problem(
        case, rec, n, lambda j: names[at[j]] if j in at else "a node it made",
        lambda i: f"random graph ({where}), " + (
            f"{names[at[i]]} = {describe(program['instrs'][at[i] - n], names)}"
            if i in at else "a node"))


def _first_wrong_step(case, rec, names, values):
    """The first of your operations (each its own node) whose _backward() is wrong, named."""
    program, yours = case["graph"], case["yours"]
    n = len(program["leaves"])
    _, beta, gamma = _settings(case)
    outs = rec["outs"]
    for k, instr in enumerate(program["instrs"], start=n):
        node, ops = outs[k], [outs[m] for m in node_operands(instr)]
        made = range(outs[k - 1] + 1, node)  # the other nodes this operation made
        if instr[0] not in yours or node < n or min(ops) < 0 or outs[k - 1] < 0 or any(
                rec["probe"][m - n] for m in made):
            continue  # one node per operation only (with plain-number constants)
        changes = dict(rec["probe"][node - n])
        slots = sorted(set(ops))
        after = _NEW([changes.get(j, 0.5 if j < n else beta) for j in slots], dtype=f64)
        idx = [slots.index(o) for o in ops]
        floats = [values[m] for m in node_operands(instr)] + (
            [instr[2]] if OPS[instr[0]].kind == "number" else [])
        right = local(instr[0], floats)[1]
        start = [0.5 if j < n else beta for j in slots]
        expected = list(start)
        for pos, d in zip(idx, right):
            expected[pos] += gamma * d
        if not close(after, _NEW(expected, dtype=f64)):
            label = f"{names[k]} = {describe(instr, names)}"
            wrong = mistakes.mistakes_op(instr[0], idx, floats, right, gamma, start, label)
            guess = next((why for why, w in wrong if close(after, w)), None)
            return label + (f". Most likely: {guess}." if guess else
                            ": its _backward() adds a wrong local derivative.")
    return None


def _judge_ops(case, args, rec):
    return (_judge_graph if "graph" in case else _judge_op)(case, args, rec)


def _where_op(case):
    if "graph" in case:
        return case["where"]
    return describe(case["op"], "abcd")


def _part_b(name, cases, done, doc):
    if name == "backward":
        run, judge_, where = _run_backward, _judge_backward, _where_backward
    else:
        run, judge_, where = _run_ops(name), _judge_ops, _where_op
    return judge.entry(judge.Part(
        name, cases, lambda case: (case,), judge_, call=run, where=where, done=done,
        methods=METHODS[name], words=NO_TORCH, what="torch", why=PLAIN), doc)


# ---------------------------------------------------------------------------------------
# Part B5: your backward() on graphs of the checks' nodes.

def _graph_backward(engine, program):
    """The checks' nodes for `program`, then your output.backward(): (leaves, log)."""
    log = []
    order, info = _build(engine, program, (), "backward", log)
    n = len(program["leaves"])
    nodes = [order[j] for j in info["outs"]]
    nodes[-1].backward()
    return order[:n], log


def _grads(leaves):
    return [leaf.grad for leaf in leaves]


def _run_backward(engine, args):
    (case,) = args
    if "lone" in case:
        leaf = engine(case["lone"])
        leaf.backward()
        return {"lone": leaf.grad}
    if "separate" in case:
        first, second = case["separate"]
        leaves1, log1 = _graph_backward(engine, first["program"])
        before, calls = _grads(leaves1), len(log1)
        leaves2, log2 = _graph_backward(engine, second["program"])
        return {"first": {"grads": before, "log": log1[:calls]},
                "second": {"grads": _grads(leaves2), "log": log2},
                "after": _grads(leaves1), "calls": len(log1)}
    leaves, log = _graph_backward(engine, case["program"])
    return {"grads": _grads(leaves), "log": log}


def _judge_one_graph(program, where, leaf_names, rec):
    names = node_names(program, leaf_names)
    n = len(program["leaves"])
    _, expected = torch_program(program)
    if not all(_number(g) for g in rec["grads"]):
        bad = next(g for g in rec["grads"] if not _number(g))
        return (f"backward() ({where}): a leaf's grad is a {type(bad).__name__}, expected "
                "a float.")
    ops = {k: instr[0] for k, instr in enumerate(program["instrs"], start=n)}
    uses = {k: node_operands(instr) for k, instr in enumerate(program["instrs"], start=n)}
    log = [tuple(entry) for entry in rec["log"]]
    problem = mistakes.order_problem(ops, uses, log)
    mine = [float(g) for g in rec["grads"]]
    hint = [(problem, _NEW(mine, dtype=f64))] if problem else []
    message = _leaf_verdict("leaf grads after output.backward()", names, mine, expected, hint,
                            where)
    if message:
        return message
    if problem:
        return (f"backward() ({where}): the gradients are right here, but the order in which "
                f"the nodes' _backward() ran is not.{compare.hint([problem])}")
    return None


def _judge_backward(case, args, rec):
    if "lone" in case:
        if rec.get("lone") != 1.0:
            return (f"Value({case['lone']}).backward() gave grad {rec.get('lone')!r}, "
                    "expected 1.0 (dL/dL = 1)")
        return None
    if "separate" in case:
        first, second = case["separate"]
        message = (_judge_one_graph(first["program"], first["where"], None, rec["first"])
                   or _judge_one_graph(second["program"], second["where"], None,
                                       rec["second"]))
        if message:
            return message
        if rec["after"] != rec["first"]["grads"] or rec["calls"] != len(rec["first"]["log"]):
            shown = ", ".join(f"{v:.6g}" if _number(v) else repr(v) for v in rec["after"])
            was = ", ".join(f"{v:.6g}" for v in rec["first"]["grads"])
            return ("backward() on a second, separate graph ran the first graph's "
                    f"_backward() again and changed its leaf grads from [{was}] to [{shown}]."
                    f"{compare.hint([mistakes.STATE_KEPT])}")
        return None
    return _judge_one_graph(case["program"], case["where"], case.get("names"), rec)


def _where_backward(case):
    if "lone" in case:
        return "a lone leaf"
    if "separate" in case:
        return "two separate graphs"
    return case["where"]


# ---------------------------------------------------------------------------------------
# The parts of B.

_B3 = [{"op": op, "values": values} for op, values in [
    (["mul", 0, 1], [2.0, -3.0]), (["sub", 0, 1], [2.0, -3.0]), (["div", 0, 1], [2.0, -1.6]),
    (["neg", 0], [2.0]), (["add_c", 0, 2.5], [2.0]), (["radd", 0, 2.5], [2.0]),
    (["sub_c", 0, 2.5], [2.0]), (["rsub", 0, 2.5], [2.0]), (["mul_c", 0, 2.5], [2.0]),
    (["rmul", 0, 2.5], [2.0]), (["div_c", 0, 2.5], [2.0]), (["rdiv", 0, 2.5], [-1.6]),
    (["mul", 0, 0], [-1.3])]]
_B4 = [{"op": op, "values": values} for op, values in [
    (["pow", 0, 2], [1.5]), (["pow", 0, 3], [-1.2]), (["pow", 0, -1], [0.8]),
    (["pow", 0, 0.5], [2.25]), (["exp", 0], [0.7]), (["sigmoid", 0], [-0.4]),
    (["tanh", 0], [0.9])]]
_GRAPH = {"leaves": [0.8, -1.3, 0.6],
          "instrs": [["mul", 0, 1], ["add", 3, 0], ["tanh", 4], ["mul", 5, 5], ["add", 6, 3],
                     ["mul", 7, 2]]}
_CHAIN = {"leaves": [0.5], "instrs": [["sigmoid", 0], ["mul_c", 1, 3.0], ["exp", 2], ["neg", 3]]}
_B5 = [{"program": _GRAPH, "where": "the graph above", "names": ["a", "b", "c"]},
       {"program": _CHAIN, "where": "the chain -exp(3 * sigmoid(a))", "names": ["a"]},
       {"separate": [{"program": _GRAPH, "where": "the graph above, first of two"},
                     {"program": _CHAIN, "where": "the chain, second of two"}]}]

arithmetic = _part_b("arithmetic", _B3,
                     "Part B3: + - * / (with plain numbers on either side) and negation match "
                     "torch.", "Check the arithmetic of your Value class against torch.")
functions = _part_b("functions", _B4, "Part B4: **, exp, sigmoid and tanh match torch.",
                    "Check **, exp, sigmoid and tanh of your Value class against torch.")
backward = _part_b("backward", _B5,
                   "Part B5: backward() gives autograd's gradients, in a valid order.",
                   "Check Value.backward() on graphs of the checks' nodes against autograd.")
