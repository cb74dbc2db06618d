"""Grader-only data of problem set 3 (never shipped to students): the hidden cases (other
shapes, seeds, upstream gradients, leaf grads that start non-zero, random expression
graphs), and judges that add central differences as a second, independent oracle."""
import math
import random

import check  # the course's copy: the grader imports this module after it

OPS = check.OPS


# --- random expression graphs ------------------------------------------------------------

def _pick(rng, n):
    """A node number, often one of the newest (so that the graph grows deep)."""
    return rng.randrange(max(0, n - 4), n) if rng.random() < 0.5 else rng.randrange(n)


def _safe(instr, values):
    """The value of instr if it is far from division by ~0, overflow and complex powers."""
    name = instr[0]
    args = check.operands(instr, values)
    a, c = args[0], (args[1] if len(args) > 1 else None)
    if (name == "div" and abs(c) < 0.3) or (name == "rdiv" and abs(a) < 0.3):
        return None
    if name == "pow" and ((c != int(c) and a < 0.3) or (c < 0 and abs(a) < 0.3)):
        return None
    if name in ("exp", "sigmoid") and abs(a) > 4:
        return None
    value, local = check.local(name, list(args))
    if not math.isfinite(value) or abs(value) > 6 or max(abs(d) for d in local) > 4:
        return None
    return value


def random_program(seed, ops, n_leaves=4, n_ops=30):
    """A seeded random expression graph: leaf values and instructions [op, i, j or c].

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
            instr = [name, i, i if rng.random() < 0.15 else _pick(rng, len(values))]
        elif OPS[name].kind == "number":
            numbers = ((2, 3, -1, 0.5, 1.5, -0.5) if name == "pow"
                       else (-2.5, -1.5, -0.5, 0.5, 1.5, 2.0, 3.0))
            instr = [name, i, rng.choice(numbers)]
        else:
            instr = [name, i]
        value = _safe(instr, values)
        if value is not None:
            program["instrs"].append(instr)
            for k in check.node_operands(instr):
                uses[k] += 1
            values.append(value)
            uses.append(0)
    dangling = [k for k in range(len(values)) if uses[k] == 0]
    total = dangling[0]
    for k in dangling[1:]:
        program["instrs"].append(["add", total, k])
        values.append(values[total] + values[k])
        total = len(values) - 1
    return program


# --- the hidden cases --------------------------------------------------------------------

def _points(seeds, shapes, scale, tail):
    return [{"seed": s, "shape": list(shape), "scale": scale, "tail": tail,
             "where": f"shape {shape}, seed {s}"} for s, shape in zip(seeds, shapes)]


def _ops_cases(seed, trials):
    """Each operation of part B3 on random values, upstream gradients and preset grads."""
    rng = random.Random(seed)
    cases = []
    for _ in range(trials):
        a, b = (rng.choice((-1, 1)) * rng.uniform(0.4, 3.0) for _ in range(2))
        c = rng.choice((-2.5, -0.5, 0.75, 3.0))
        upstream, preset = rng.uniform(-2, 2), [rng.uniform(-1, 1), rng.uniform(-1, 1)]
        for name in check.ARITHMETIC:
            kind = OPS[name].kind
            op, values = ([name, 0, 1], [a, b]) if kind == "binary" else (
                ([name, 0, c], [a]) if kind == "number" else ([name, 0], [a]))
            cases.append({"op": op, "values": values, "upstream": upstream,
                          "preset": preset[:len(values)]})
        for name in ("mul", "sub", "div", "add"):  # one node used twice in one operation
            cases.append({"op": [name, 0, 0], "values": [a], "upstream": upstream})
    return cases


def _functions_cases(seed, trials):
    rng = random.Random(seed)
    cases = []
    for _ in range(trials):
        a = rng.choice((-1, 1)) * rng.uniform(0.3, 3.0)
        upstream, preset = rng.uniform(-2, 2), [rng.uniform(-1, 1)]
        for n, base in [(2, a), (3, a), (-1, a), (-2, a), (1.5, a), (0.5, abs(a))]:
            if n == int(n) or base > 0:  # no fractional power of a negative number
                cases.append({"op": ["pow", 0, n], "values": [base], "upstream": upstream,
                              "preset": preset})
        for name in ("exp", "sigmoid", "tanh"):
            cases.append({"op": [name, 0], "values": [a], "upstream": upstream,
                          "preset": preset})
    return cases


_YOURS_B3 = ["add", *check.ARITHMETIC]
_MIXED = [*check.FUNCTIONS, *check.FUNCTIONS, "add", "mul", "sub", "div", "mul_c"]
_EVERYTHING = ["add", *check.ARITHMETIC, *check.FUNCTIONS]

HIDDEN = {
    "dsigmoid_dw": _points(range(100, 104), [(1,), (7,), (3, 4), (50,)], 2.0, [3.0, 12.0]),
    "dswish_dx": _points(range(200, 204), [(1,), (5,), (2, 3), (64,)], 3.0, [-30.0]),
    "arithmetic": _ops_cases(3, 4) + [
        {"graph": random_program(s, _YOURS_B3, 3 + s % 2, 20 + s % 6 * 4), "yours": _YOURS_B3,
         "where": f"random graph of your operations, seed {s}"} for s in range(300, 306)],
    "functions": _functions_cases(4, 5) + [
        {"graph": random_program(s, _MIXED, 3 + s % 2, 20 + s % 6 * 4),
         "yours": list(check.FUNCTIONS), "where": f"random graph, seed {s}"}
        for s in range(400, 406)],
    "backward": [
        *[{"program": random_program(s, _EVERYTHING, 3 + s % 3, 20 + s % 8 * 3),
           "where": f"random graph, seed {s}"} for s in range(500, 508)],
        {"separate": [{"program": random_program(600, _EVERYTHING, n_ops=25),
                       "where": "first of two graphs, seed 600"},
                      {"program": random_program(601, _EVERYTHING),
                       "where": "second of two graphs, seed 601"}]},
        {"program": {"leaves": [1.7], "instrs": [["mul", 0, 0]]}, "where": "x * x",
         "names": ["x"]},
        {"program": {"leaves": [-0.9], "instrs": [["mul", 0, 0], ["mul", 1, 0], ["add", 2, 1]]},
         "where": "x*x*x + x*x", "names": ["x"]},
        {"program": {"leaves": [0.7], "instrs": [["mul", k, 0] if k % 2 else ["tanh", k]
                                                 for k in range(60)]},
         "where": "a chain of 60 operations", "names": ["x"]},
        {"lone": 2.0}],
}
HIDDEN["two_layer_grads"] = HIDDEN["dsigmoid_dw"]
HIDDEN["dsquare_sin_dx"] = HIDDEN["dswish_dx"]


# --- central differences: a second oracle for part A2 --------------------------------------

def _with_differences(name):
    u, v, _ = check.TWO_PATHS[name]
    first = getattr(check, name).part.judge

    def judge_(case, args, out):
        message = first(case, args, out)
        if message is None:
            (x,) = args
            h = 1e-6
            numeric = (u(x + h) * v(x + h) - u(x - h) * v(x - h)) / (2 * h)
            scale = (out.abs() + numeric.abs()).max().clamp_min(1e-300)
            if ((out - numeric).abs().max() / scale) > 1e-6:
                return f"{name} ({case['where']}) disagrees with central differences."
        return message

    return judge_


JUDGES = {name: _with_differences(name) for name in ("dswish_dx", "dsquare_sin_dx")}
