"""The checks of problem set 3 (the chain rule), against torch.autograd in float64.

Part A, derivatives by hand: ``check_dsigmoid_dw``, ``check_two_layer_grads`` and
``check_two_paths`` call a student's function through ``gradecheck.by_hand`` (no autograd
allowed), compare it with autograd, and name the typical mistake: a missing factor of the
chain, a missing path.

Part B, the ``Value`` engine. Every operation is written once with Python operators (``OPS``),
so the same line builds a graph of Values (the student's engine) and a graph of torch scalars
(the referee, differentiated by autograd).

* ``check_op(Value, instr, values)``: one operation of the engine on fresh leaves: the value of
  the result, then the leaves' grads after the tests' own backward sweep (``ref_backward``).
* ``check_graph(Value, program, yours, where)``: a random expression graph
  (``random_program``) in which the operations ``yours`` are the engine's and the others are
  reference nodes, whose ``_backward`` the tests wrote.
* ``check_backward(Value, program, where)``: reference nodes only, the engine's
  ``backward()``. Each reference node logs when its ``_backward()`` runs, so a wrong order
  is named (a node called twice, the output last, a node before one that uses it, ...).
* ``no_torch(Value, part)``: the engine computes with plain floats, not torch.

Each test cell reloads this module, and this module reloads gradecheck, so nothing a notebook
defines or patches changes how the tests judge.
"""
import ast
import importlib
import inspect
import math
import random
import textwrap
from collections import Counter, namedtuple

import gradecheck
import torch

gradecheck = importlib.reload(gradecheck)  # fresh comparisons, whatever the notebook did

f64 = torch.float64


# ---------------------------------------------------------------------------
# Part A: derivatives by hand, and their typical wrong versions.

def sigmoid_dw_mistakes(x, w, b):
    """Wrong versions of d sigmoid(w x + b) / dw = sigma'(z) x."""
    z = w * x + b
    s = torch.sigmoid(z)
    return [("the inner factor dz/dw = x is missing", s * (1 - s)),
            ("that is sigma(z) * x: sigma itself, not sigma'(z) = sigma(z)(1 - sigma(z))", s * x),
            ("sigma' was applied to z itself: z(1 - z) instead of sigma(z)(1 - sigma(z))",
             z * (1 - z) * x),
            ("dz/dw is x, not w", s * (1 - s) * w)]


def two_layer_mistakes(x, w1, b1, w2):
    """Wrong versions of (dy2/dw1, dy2/db1, dy2/dw2) = (w2 x, w2, y1), one list each."""
    return [[("the factor dy2/dy1 = w2 is missing", x), ("the factor dy1/dw1 = x is missing", w2),
             ("that is dy2/dw2 = y1", x * w1 + b1)],
            [("the factor dy2/dy1 = w2 is missing: dy2/db1 = w2 * 1", torch.ones_like(x)),
             ("dy1/db1 = 1, not x", w2 * x)],
            [("dy2/dw2 = y1 = x*w1 + b1, the input of w2: b1 is missing", x * w1),
             ("dy2/dw2 = y1, the value w2 multiplies, not w1", w1),
             ("that is dy2/dw1 = w2 * x", w2 * x)]]


def swish_mistakes(x):
    """Wrong versions of d(x sigma(x))/dx = sigma(x) + x sigma'(x): one path only, or a product."""
    s = torch.sigmoid(x)
    return [(("only the path through the left factor x: add x * sigma'(x) for the path "
              "through sigma(x)"), s),
            (("only the path through sigma(x): add sigma(x) for the path through the left "
              "factor x"), x * s * (1 - s)),
            ("the derivatives of the factors were multiplied (1 * sigma'(x)); paths add instead",
             s * (1 - s))]


def square_sin_mistakes(x):
    """Wrong versions of d(x**2 sin x)/dx = 2x sin x + x**2 cos x."""
    return [("only the path through x**2: add x**2 * cos(x) for the path through sin(x)",
             2 * x * torch.sin(x)),
            ("only the path through sin(x): add 2x * sin(x) for the path through x**2",
             x**2 * torch.cos(x)),
            ("the two factors' derivatives were multiplied (2x * cos x); the paths add instead",
             2 * x * torch.cos(x)),
            ("sin'(x) = +cos(x)", 2 * x * torch.sin(x) - x**2 * torch.cos(x))]


# name of the student's function: (the function it differentiates, its typical wrong answers)
TWO_PATHS = {"dswish_dx": (lambda t: t * torch.sigmoid(t), swish_mistakes),
             "dsquare_sin_dx": (lambda t: t**2 * torch.sin(t), square_sin_mistakes)}


def check_dsigmoid_dw(fn, x, w, b, where):
    """fn(x, w, b) must be d sigmoid(w x + b) / dw, elementwise."""
    wg = w.clone().requires_grad_()
    (expected,) = torch.autograd.grad(torch.sigmoid(wg * x + b).sum(), wg)
    mine = gradecheck.by_hand("dsigmoid_dw", fn, x, w, b)
    gradecheck.check("dsigmoid_dw", mine, expected, sigmoid_dw_mistakes(x, w, b), where)


def check_two_layer_grads(fn, x, w1, b1, w2, b2, where):
    """fn(x, w1, b1, w2, b2) must be (dy2/dw1, dy2/db1, dy2/dw2) for y2 = (x w1 + b1) w2 + b2."""
    leaves = [t.clone().requires_grad_() for t in (w1, b1, w2)]
    y2 = (x * leaves[0] + leaves[1]) * leaves[2] + b2
    expected = torch.autograd.grad(y2.sum(), leaves)
    mine = gradecheck.by_hand("two_layer_grads", fn, x, w1, b1, w2, b2)
    if not (isinstance(mine, tuple) and len(mine) == 3):
        raise AssertionError("return a triple (dy2/dw1, dy2/db1, dy2/dw2)")
    for name, m, e, wrong in zip(["dy2/dw1", "dy2/db1", "dy2/dw2"], mine, expected,
                                 two_layer_mistakes(x, w1, b1, w2)):
        gradecheck.check(name, m, e, wrong, where)


def check_two_paths(name, fn, x, where, finite_differences=False):
    """fn(x) must be the derivative of TWO_PATHS[name], elementwise. With
    finite_differences, central differences are a second, independent oracle."""
    f, mistakes = TWO_PATHS[name]
    xg = x.clone().requires_grad_()
    (expected,) = torch.autograd.grad(f(xg).sum(), xg)
    mine = gradecheck.by_hand(name, fn, x)
    gradecheck.check(name, mine, expected, mistakes(x), where)
    if finite_differences:
        numeric = gradecheck.numeric_grad(lambda t: f(t).sum(), x)
        if not gradecheck.rel_error(mine, numeric) < 1e-6:
            raise AssertionError(f"{name} ({where}) disagrees with finite differences")


# ---------------------------------------------------------------------------
# Part B: the operations of the engine.
#
# An instruction is (name, i) for one node, (name, i, j) for two nodes, (name, i, c) for a
# node and a plain number c; i and j index the nodes made so far (leaves first).
# kind: "binary" (two nodes), "number" (a node and a number), "unary" (one node).
# expr: the operation with Python operators, for Values and torch scalars alike.
# local: its local derivatives, from the operands' float values.

Op = namedtuple("Op", "kind label expr local")


def _sigmoid(a):
    return 1 / (1 + math.exp(-a))


OPS = {
    "add": Op("binary", "{a} + {b}", lambda a, b: a + b, lambda a, b: (1.0, 1.0)),
    "sub": Op("binary", "{a} - {b}", lambda a, b: a - b, lambda a, b: (1.0, -1.0)),
    "mul": Op("binary", "{a} * {b}", lambda a, b: a * b, lambda a, b: (b, a)),
    "div": Op("binary", "{a} / {b}", lambda a, b: a / b, lambda a, b: (1 / b, -a / b**2)),
    "neg": Op("unary", "-{a}", lambda a: -a, lambda a: (-1.0,)),
    "add_c": Op("number", "{a} + {c}", lambda a, c: a + c, lambda a, c: (1.0,)),
    "radd": Op("number", "{c} + {a}", lambda a, c: c + a, lambda a, c: (1.0,)),
    "sub_c": Op("number", "{a} - {c}", lambda a, c: a - c, lambda a, c: (1.0,)),
    "rsub": Op("number", "{c} - {a}", lambda a, c: c - a, lambda a, c: (-1.0,)),
    "mul_c": Op("number", "{a} * {c}", lambda a, c: a * c, lambda a, c: (c,)),
    "rmul": Op("number", "{c} * {a}", lambda a, c: c * a, lambda a, c: (c,)),
    "div_c": Op("number", "{a} / {c}", lambda a, c: a / c, lambda a, c: (1 / c,)),
    "rdiv": Op("number", "{c} / {a}", lambda a, c: c / a, lambda a, c: (-c / a**2,)),
    "pow": Op("number", "{a} ** {c}", lambda a, c: a**c, lambda a, c: (c * a ** (c - 1),)),
    "exp": Op("unary", "{a}.exp()", lambda a: a.exp(), lambda a: (math.exp(a),)),
    "sigmoid": Op("unary", "{a}.sigmoid()", lambda a: a.sigmoid(),
                  lambda a: (_sigmoid(a) * (1 - _sigmoid(a)),)),
    "tanh": Op("unary", "{a}.tanh()", lambda a: a.tanh(), lambda a: (1 - math.tanh(a) ** 2,)),
}
ARITHMETIC = ("sub", "mul", "div", "neg", "add_c", "radd", "sub_c", "rsub", "mul_c", "rmul",
              "div_c", "rdiv")  # part B3 (with the given "add")
FUNCTIONS = ("pow", "exp", "sigmoid", "tanh")  # part B4
METHODS = {"B3": ["__neg__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__",
                  "__rtruediv__", "__radd__"],
           "B4": ["__pow__", "exp", "sigmoid", "tanh"],
           "B5": ["backward"]}


def operands(instr, nodes):
    """The operands of one instruction: nodes by index, plain numbers as they are."""
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


# ---------------------------------------------------------------------------
# Random expression graphs.

def _pick(rng, n):
    """A node index, often one of the newest (so that the graph grows deep)."""
    return rng.randrange(max(0, n - 4), n) if rng.random() < 0.5 else rng.randrange(n)


def _safe(instr, values):
    """The value of instr if it is far from division by ~0, overflow and complex powers."""
    name = instr[0]
    args = operands(instr, values)
    a = args[0]
    c = args[1] if len(args) > 1 else None
    if (name == "div" and abs(c) < 0.3) or (name == "rdiv" and abs(a) < 0.3):
        return None
    if name == "pow" and ((c != int(c) and a < 0.3) or (c < 0 and abs(a) < 0.3)):
        return None
    if name in ("exp", "sigmoid") and abs(a) > 4:
        return None
    tensors = [torch.tensor(v, dtype=f64) if k == 0 or OPS[name].kind == "binary" else v
               for k, v in enumerate(args)]
    value = float(OPS[name].expr(*tensors))
    local = OPS[name].local(*args)
    if not math.isfinite(value) or abs(value) > 6 or max(abs(d) for d in local) > 4:
        return None
    return value


def random_program(seed, ops, n_leaves=4, n_ops=30):
    """A seeded random expression graph: leaf values and instructions (op, i, j or c).

    Operands are drawn from all earlier nodes (so nodes are reused and their gradients must
    add up), sometimes the same node twice; the output adds up every node nothing else uses.
    """
    rng = random.Random(seed)
    values = [round(rng.choice((-1, 1)) * rng.uniform(0.3, 2.0), 4) for _ in range(n_leaves)]
    program = {"leaves": list(values), "instrs": []}
    uses = [0] * n_leaves
    while len(program["instrs"]) < n_ops:
        name = rng.choice(ops)
        unused = [i for i in range(n_leaves) if uses[i] == 0]
        i = unused[0] if unused and rng.random() < 0.5 else _pick(rng, len(values))
        if OPS[name].kind == "binary":
            instr = (name, i, i if rng.random() < 0.15 else _pick(rng, len(values)))
        elif OPS[name].kind == "number":
            numbers = ((2, 3, -1, 0.5, 1.5, -0.5) if name == "pow"
                       else (-2.5, -1.5, -0.5, 0.5, 1.5, 2.0, 3.0))
            instr = (name, i, rng.choice(numbers))
        else:
            instr = (name, i)
        value = _safe(instr, values)
        if value is not None:
            program["instrs"].append(instr)
            for k in (instr[1:3] if OPS[name].kind == "binary" else instr[1:2]):
                uses[k] += 1
            values.append(value)
            uses.append(0)
    dangling = [k for k in range(len(values)) if uses[k] == 0]
    total = dangling[0]
    for k in dangling[1:]:
        program["instrs"].append(("add", total, k))
        values.append(values[total] + values[k])
        total = len(values) - 1
    return program


# ---------------------------------------------------------------------------
# The referee (torch), and the same graph built with the engine.

def run_torch(program):
    """The graph in torch float64: (output value, leaf gradients by autograd)."""
    leaves = [torch.tensor(v, dtype=f64, requires_grad=True) for v in program["leaves"]]
    nodes = list(leaves)
    for instr in program["instrs"]:
        nodes.append(OPS[instr[0]].expr(*operands(instr, nodes)))
    grads = torch.autograd.grad(nodes[-1], leaves, allow_unused=True)
    return nodes[-1].item(), [0.0 if g is None else g.item() for g in grads]


def reference_node(engine, instr, args, k, log):
    """Value(data, children, op) with the tests' own _backward, which logs (k, out.grad)."""
    op = OPS[instr[0]]
    parents = [a for a in args if isinstance(a, engine)]
    floats = [a.data if isinstance(a, engine) else a for a in args]
    tensors = [torch.tensor(f, dtype=f64) if isinstance(a, engine) else f
               for a, f in zip(args, floats)]
    local = op.local(*floats)
    out = engine(float(op.expr(*tensors)), tuple(parents), instr[0])

    def _backward():
        if log is not None:
            log.append((k, out.grad))
        for p, d in zip(parents, local):
            p.grad += d * out.grad

    out._backward = _backward
    return out


def must_be_value(out, engine, label):
    if not isinstance(out, engine):
        raise TypeError(f"{label} returned {type(out).__name__}, expected a Value: "
                        "every operation returns a new Value node.")


def build(engine, program, yours=(), log=None, names=None):
    """The program as a graph of `engine` objects: the operations in `yours` use the engine's
    operators, the others are reference nodes. Returns (leaves, nodes); the output is
    nodes[-1]."""
    names = names or node_names(program)
    leaves = [engine(v) for v in program["leaves"]]
    nodes = list(leaves)
    for k, instr in enumerate(program["instrs"], start=len(leaves)):
        args = operands(instr, nodes)
        if instr[0] in yours:
            out = OPS[instr[0]].expr(*args)
            must_be_value(out, engine, f"{names[k]} = {describe(instr, names)}")
        else:
            out = reference_node(engine, instr, args, k, log)
        nodes.append(out)
    return leaves, nodes


def ref_backward(root, upstream=1.0):
    """The tests' backward sweep: reverse topological order, starting from root.grad."""
    order, seen = [], set()

    def visit(v):
        if id(v) not in seen:
            seen.add(id(v))
            for child in v._prev:
                visit(child)
            order.append(v)

    visit(root)
    root.grad = upstream
    for v in reversed(order):
        v._backward()


def check_leaves(what, names, mine, expected, mistakes=(), where="", hint=None):
    """gradecheck.check on the leaf gradients, then a list of the wrong leaves."""
    for n, m in zip(names, mine):
        if not isinstance(m, (int, float)):
            raise TypeError(f"{what} ({where}): {n}.grad is a {type(m).__name__}, expected "
                            "a float: in _backward, add floats (other.data, out.grad).")
    mine_t = torch.tensor([float(m) for m in mine], dtype=f64)
    expected_t = torch.tensor(expected, dtype=f64)
    if hint:  # a diagnosis of the order of the backward sweep
        mistakes = [(hint, mine_t), *mistakes]
    try:
        gradecheck.check(what, mine_t, expected_t, mistakes, where)
    except AssertionError as err:
        wrong = [f"  {n}.grad = {m:.6g}, expected {e:.6g}"
                 for n, m, e in zip(names, mine_t.tolist(), expected)
                 if not gradecheck.close(torch.tensor([m], dtype=f64),
                                         torch.tensor([e], dtype=f64))]
        extra = f"\n  ... and {len(wrong) - 6} more" if len(wrong) > 6 else ""
        lines = "\n".join(wrong[:6]) + extra
        raise AssertionError(f"{err}\nWrong leaves:\n{lines}") from None


# ---------------------------------------------------------------------------
# One operation at a time (parts B3 and B4), and its typical mistakes.

WRONG_LOCAL = {
    "mul": [("each operand got its own value: d(a*b)/da is b, the OTHER operand",
             lambda a, b: (a, b))],
    "sub": [("d(a - b)/db = -1: the minus sign is missing", lambda a, b: (1.0, 1.0))],
    "div": [("d(a/b)/db = -a/b**2: the minus sign is missing", lambda a, b: (1 / b, a / b**2)),
            ("d(a/b)/db = -a/b**2: the factor a is missing", lambda a, b: (1 / b, -1 / b**2)),
            ("d(a/b)/db = -a/b**2, not -a/b", lambda a, b: (1 / b, -a / b)),
            ("d(a/b)/da = 1/b, not b", lambda a, b: (b, -a / b**2))],
    "neg": [("d(-a)/da = -1, not 1", lambda a: (1.0,))],
    "rsub": [("d(c - a)/da = -1, not 1", lambda a, c: (1.0,))],
    "mul_c": [("d(a*c)/da = c, the number, not a", lambda a, c: (a,))],
    "rmul": [("d(c*a)/da = c, the number, not a", lambda a, c: (a,))],
    "div_c": [("d(a/c)/da = 1/c, not c", lambda a, c: (c,))],
    "rdiv": [("d(c/a)/da = -c/a**2: the minus sign is missing", lambda a, c: (c / a**2,)),
             ("d(c/a)/da = -c/a**2: the factor c is missing", lambda a, c: (-1 / a**2,))],
    "pow": [("d(a**n)/da = n * a**(n-1): the factor n is missing", lambda a, n: (a ** (n - 1),)),
            ("d(a**n)/da = n * a**(n-1): the exponent was not lowered by 1",
             lambda a, n: (n * a**n,))],
    "exp": [("d exp(a)/da = exp(a), not a", lambda a: (a,))],
    "sigmoid": [("sigma' = s(1 - s) with s = sigmoid(a) = out.data; a(1 - a) uses the input",
                 lambda a: (a * (1 - a),)),
                ("that is sigmoid(a) itself, not its derivative s(1 - s)",
                 lambda a: (_sigmoid(a),))],
    "tanh": [("tanh' = 1 - t**2 with t = tanh(a) = out.data; 1 - a**2 uses the input",
              lambda a: (1 - a**2,)),
             ("tanh' = 1 - t**2: the sign is flipped", lambda a: (math.tanh(a) ** 2 - 1,)),
             ("tanh' = 1 - t**2, not 1 - t", lambda a: (1 - math.tanh(a),))],
}
OVERWRITE = ("the grad was assigned with = instead of added with +=: a leaf that already "
             "had gradient from another path lost it")
SAME_NODE = ("the grad was assigned with = instead of added with +=: in {label} the same node "
             "gets two contributions and the second overwrote the first")


def _op_mistakes(instr, values, upstream, preset, label):
    """(why, leaf gradients) for the typical wrong versions of one operation."""
    name, i, *rest = instr
    idx = [i, rest[0]] if OPS[name].kind == "binary" else [i]
    args = operands(instr, values)

    def grads(local, scale=upstream, start=preset, overwrite=False, order=(0, 1)):
        out = list(start)
        for pos in order[:len(idx)]:
            k, d = idx[pos], local[pos]
            out[k] = scale * d if overwrite else out[k] + scale * d
        return torch.tensor(out, dtype=f64)

    right = OPS[name].local(*args)
    found = [(why, grads(fn(*args))) for why, fn in WRONG_LOCAL.get(name, [])]
    if upstream != 1:
        why = (f"the local derivative was not multiplied by out.grad (the gradient that "
               f"reached the result, {upstream:g} here)")
        found.append((why, grads(right, scale=1.0)))
    found.append(("the sign is flipped", grads([-d for d in right])))
    if len(set(idx)) < len(idx):
        found += [(SAME_NODE.format(label=label), grads(right, overwrite=True, order=o))
                  for o in ((0, 1), (1, 0))]
    elif any(preset):
        found.append((OVERWRITE, grads(right, overwrite=True)))
    return found


def check_op(engine, instr, values, upstream=1.5, preset=None, where=""):
    """One operation of the engine on fresh leaves, checked against torch: the value of the
    result, then every leaf's grad after the tests' backward sweep starts at `upstream`
    (the leaves' grads start at `preset`, as if other paths had already added to them)."""
    names = "abcd"[:len(values)]
    label = describe(instr, names)
    preset = list(preset or [0.0] * len(values))
    leaves = [engine(v) for v in values]
    for leaf, p in zip(leaves, preset):
        leaf.grad = p
    setting = ", ".join(f"{n} = {v:g}" for n, v in zip(names, values))
    if any(preset):
        setting += " (leaf grads start at " + ", ".join(f"{p:g}" for p in preset) + ")"
    where = f"{setting}, out.grad = {upstream:g}" + (f"; {where}" if where else "")
    out = OPS[instr[0]].expr(*operands(instr, leaves))
    must_be_value(out, engine, label)
    value, grads = run_torch({"leaves": values, "instrs": [instr]})
    if not math.isclose(out.data, value, rel_tol=1e-9, abs_tol=1e-12):
        hint = ""
        if instr[0] in ("rsub", "rdiv"):
            method, sym = ("__rsub__", "-") if instr[0] == "rsub" else ("__rtruediv__", "/")
            hint = (f"\nMost likely: {label} calls a.{method}({instr[2]}), which must compute "
                    f"other {sym} self, not self {sym} other.")
        raise AssertionError(f"{label} ({where}): out.data = {out.data!r}, expected {value!r}."
                             + hint)
    ref_backward(out, upstream)
    expected = [p + upstream * g for p, g in zip(preset, grads)]
    mistakes = _op_mistakes(instr, values, upstream, preset, label)
    check_leaves(f"grads of {label}", names, [leaf.grad for leaf in leaves], expected, mistakes,
                 where)


def check_each_op(engine, ops, a, b, c, upstream, preset):
    """check_op for every operation in `ops`: on the nodes a and b, on a and the number c,
    or on a alone, depending on its kind; the leaf grads start at `preset`."""
    for name in ops:
        if OPS[name].kind == "binary":
            check_op(engine, (name, 0, 1), [a, b], upstream, preset)
        elif OPS[name].kind == "number":
            check_op(engine, (name, 0, c), [a], upstream, preset[:1])
        else:
            check_op(engine, (name, 0), [a], upstream, preset[:1])


def check_graph(engine, program, yours, where):
    """A random graph: the engine's operations `yours` (the rest reference nodes), the tests'
    backward sweep, every leaf gradient against torch."""
    names = node_names(program)
    leaves, nodes = build(engine, program, yours=yours, names=names)
    value, grads = run_torch(program)
    used = sorted({instr[0] for instr in program["instrs"] if instr[0] in yours})
    where = f"{where}: {len(program['instrs'])} operations, yours: {', '.join(used)}"
    if not math.isclose(nodes[-1].data, value, rel_tol=1e-9, abs_tol=1e-12):
        raise AssertionError(f"random graph ({where}): output {nodes[-1].data!r}, expected "
                             f"{value!r}: the forward value of an operation is wrong.")
    ref_backward(nodes[-1])
    check_leaves("leaf grads of a random graph", names, [leaf.grad for leaf in leaves], grads,
                 where=where)


# ---------------------------------------------------------------------------
# The engine's backward() (part B5) on graphs of reference nodes.

def order_problem(program, log):
    """What is wrong with the order in which backward() called the nodes' _backward()."""
    n = len(program["leaves"])
    ops = {n + m: instr[0] for m, instr in enumerate(program["instrs"])}
    root = n + len(program["instrs"]) - 1
    calls = [k for k, _ in log]
    if not calls:
        return ("backward() never called the nodes' _backward(): after ordering the nodes, "
                "call node._backward() on each, from the output down")
    counts = Counter(calls)
    twice = next((k for k in calls if counts[k] > 1), None)
    if twice is not None:
        return (f"node n{twice} ({ops[twice]}) had its _backward() called {counts[twice]} "
                "times, so its gradient was passed on more than once: every node must "
                "appear exactly once in the order (keep a set of visited nodes)")
    if root in counts:
        first = next(g for k, g in log if k == root)
        if first != 1.0:
            return (f"the output's grad was {first!r} when its _backward() ran: backward() "
                    "must start with self.grad = 1.0 (dL/dL = 1)")
    missing = [k for k in ops if k not in counts]
    if missing:
        return (f"node n{missing[0]} ({ops[missing[0]]}) was never reached: the order must "
                "hold every node the output depends on (follow _prev from the output, "
                "recursively)")
    pos = {k: p for p, k in enumerate(calls)}
    if len(calls) > 1 and pos[root] == len(calls) - 1:
        return ("the output's _backward() ran last: the nodes were visited from the leaves up. "
                "Call _backward() in REVERSED topological order, from the output down")
    for m, instr in enumerate(program["instrs"], start=n):
        for k in (instr[1:3] if OPS[instr[0]].kind == "binary" else instr[1:2]):
            if k in ops and pos[k] < pos[m]:
                return (f"node n{k} ({ops[k]}) passed its gradient on before node n{m} "
                        f"({ops[m]}), which uses it, had added its share: visit the nodes in "
                        "reverse topological order (each node after every node that uses it)")
    return None


def check_backward(engine, program, where, leaf_names=None):
    """Reference nodes only, the engine's backward(): leaf gradients against torch, and the
    order of the _backward() calls. Returns (leaves, log of the calls)."""
    log = []
    names = node_names(program, leaf_names)
    leaves, nodes = build(engine, program, log=log, names=names)
    _, grads = run_torch(program)
    nodes[-1].backward()
    problem = order_problem(program, log)
    check_leaves("leaf grads after output.backward()", names, [leaf.grad for leaf in leaves],
                 grads, where=where, hint=problem)
    if problem:
        raise AssertionError(f"backward() ({where}): the gradients are right here, "
                             f"but {problem}.")
    return leaves, log


def check_random_backward(engine, seed, ops, n_leaves, n_ops):
    """check_backward on random_program(seed, ops, n_leaves, n_ops)."""
    program = random_program(seed, ops, n_leaves=n_leaves, n_ops=n_ops)
    check_backward(engine, program, f"random graph, seed {seed}, "
                   f"{len(program['instrs'])} operations")


def check_separate_graphs(engine, first, second):
    """backward() on one graph, then on another, separate one: the second call must not
    touch the first graph. `first` and `second` are (program, where) pairs."""
    leaves, log = check_backward(engine, *first)
    before, calls = [leaf.grad for leaf in leaves], len(log)
    check_backward(engine, *second)
    if [leaf.grad for leaf in leaves] != before or len(log) != calls:
        raise AssertionError(
            "backward() on a second, separate graph ran the first graph's _backward() again and "
            f"changed its leaf grads from {[f'{v:.6g}' for v in before]} to "
            f"{[f'{leaf.grad:.6g}' for leaf in leaves]}: backward() keeps state between calls. "
            "Create the topological list and the visited set inside backward() (not as a "
            "default argument such as topo=[], nor outside the method).")


def check_lone_leaf(engine):
    """A graph of one node: its backward() only sets grad = 1.0."""
    leaf = engine(2.0)
    leaf.backward()
    if leaf.grad != 1.0:
        raise AssertionError(f"Value(2.0).backward() gave grad {leaf.grad}, expected 1.0 "
                             "(dL/dL = 1)")


# ---------------------------------------------------------------------------
# The engine computes with plain Python floats.

def uses_torch(engine, methods):
    """The methods of the engine whose code names torch (or autograd)."""
    found = []
    for m in methods:
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(getattr(engine, m))))
        except (OSError, TypeError, SyntaxError, AttributeError):
            continue
        if any(isinstance(node, ast.Name) and node.id in ("torch", "autograd")
               for node in ast.walk(tree)):
            found.append(m)
    return found


def no_torch(engine, part):
    """Fail if a method of `part` ("B3", "B4" or "B5") uses torch."""
    found = uses_torch(engine, METHODS[part])
    if found:
        verb = "uses" if len(found) == 1 else "use"
        raise AssertionError(f"Value.{', Value.'.join(found)} {verb} torch: the engine computes "
                             "with plain floats (math.exp, math.tanh), so this part scores 0.")
