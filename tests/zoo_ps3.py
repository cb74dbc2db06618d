"""The zoo of ps3_chain_rule: its kinds of submission (see zoo.py for what a kind is).

Every named mistake of the checks' catalogue (mistakes.py: part A's wrong derivatives, the
wrong local derivatives of each operation of the Value engine, = instead of +=, the order
problems of backward(), state kept between calls, ...) is made by some kind below. To keep
the zoo small, most kinds make one mistake in each part at once (the check of a part names
only its first wrong case, so one part holds one mistake per kind).
"""
from zoo import (
    ALL,
    PATCH_TORCH,
    PRINT_CALLERS,
    PRINT_HISTORY,
    Kind,
    append,
    edit,
    insert,
)

A = "ps3_chain_rule"
A1, A2 = ("test_one_path", "test_one_path_hidden"), ("test_two_paths", "test_two_paths_hidden")
B3 = ("test_arithmetic", "test_arithmetic_hidden")
B4 = ("test_functions", "test_functions_hidden")
B5 = ("test_backward", "test_backward_hidden")


def value(old, new):
    return edit("value", old, new)


# --- part A: one line of the solution each ---------------------------------------------
SIG = "    return s * (1 - s) * x"
TWO = "    return w2 * x, w2 * torch.ones_like(x), y1"
SWISH = "    return s + x * s * (1 - s)"
SQSIN = "    return 2 * x * torch.sin(x) + x**2 * torch.cos(x)"


A1_MISTAKES = [  # (edit, phrase of the message)
    (edit("one_path", SIG, "    return s * (1 - s)"), "the inner factor dz/dw = x is missing"),
    (edit("one_path", SIG, "    return s * x"), "that is sigma(z) * x: sigma itself"),
    (edit("one_path", SIG, "    z = w * x + b\n    return z * (1 - z) * x"),
     "sigma' was applied to z itself"),
    (edit("one_path", SIG, "    return s * (1 - s) * w"), "dz/dw is x, not w"),
    (edit("one_path", TWO, "    return x, w2 * torch.ones_like(x), y1"),
     "the factor dy2/dy1 = w2 is missing"),
    (edit("one_path", TWO, "    return w2, w2 * torch.ones_like(x), y1"),
     "the factor dy1/dw1 = x is missing"),
    (edit("one_path", TWO, "    return y1, w2 * torch.ones_like(x), y1"),
     "that is dy2/dw2 (the input y1 of w2), not dy2/dw1"),
    (edit("one_path", TWO, "    return w2 * x, torch.ones_like(x), y1"),
     "dy2/db1 = w2 * 1: the factor dy2/dy1 = w2 is missing"),
    (edit("one_path", TWO, "    return w2 * x, w2 * x, y1"), "that is dy2/dw1: dy1/db1 = 1, not x"),
    (edit("one_path", TWO, "    return w2 * x, w2 * torch.ones_like(x), x * w1"),
     "dy2/dw2 = y1 = x*w1 + b1, the input of w2: b1 is missing"),
    (edit("one_path", TWO, "    return w2 * x, w2 * torch.ones_like(x), w1"),
     "dy2/dw2 = y1, the value w2 multiplies, not w1"),
    (edit("one_path", TWO, "    return w2 * x, w2 * torch.ones_like(x), w2 * x"),
     "that is dy2/dw1, not dy2/dw2"),
]
A2_MISTAKES = [
    (edit("two_paths", SWISH, "    return s"), "only the path through the left factor x"),
    (edit("two_paths", SWISH, "    return x * s * (1 - s)"), "only the path through sigma(x)"),
    (edit("two_paths", SWISH, "    return s * (1 - s)"),
     "the derivatives of the factors were multiplied (1 * sigma'(x))"),
    (edit("two_paths", SQSIN, "    return 2 * x * torch.sin(x)"), "only the path through x**2"),
    (edit("two_paths", SQSIN, "    return x**2 * torch.cos(x)"), "only the path through sin(x)"),
    (edit("two_paths", SQSIN, "    return 2 * x * torch.cos(x)"),
     "the two factors' derivatives were multiplied"),
    (edit("two_paths", SQSIN, "    return 2 * x * torch.sin(x) - x**2 * torch.cos(x)"),
     "sin'(x) = +cos(x)"),
]

# --- part B3: the arithmetic of Value ---------------------------------------------------
MUL = "            self.grad += other.data * out.grad\n            other.grad += self.data * out.grad"
DIV_A = "            self.grad += (1.0 / other.data) * out.grad"
DIV_B = "(-self.data / other.data**2)"
MUL_HEAD = "        other = other if isinstance(other, Value) else Value(other)\n" \
    "        out = Value(self.data * other.data, (self, other), '*')"
DIV_HEAD = "        other = other if isinstance(other, Value) else Value(other)\n" \
    "        out = Value(self.data / other.data, (self, other), '/')"


def own_node(old, data, local):
    """A reflected or number operation written as its own node, with its own _backward."""
    return value(old, f"        out = Value({data}, (self,), 'op')\n\n"
                      f"        def _backward():\n            self.grad += {local} * out.grad\n\n"
                      "        out._backward = _backward\n        return out")


def number_case(head, data, local):
    """A plain number handled apart (a mistake in that branch only)."""
    return value(head, "        if isinstance(other, (int, float)):\n"
                       f"            out = Value({data}, (self,), 'op')\n\n"
                       "            def _backward():\n"
                       f"                self.grad += {local} * out.grad\n\n"
                       "            out._backward = _backward\n            return out\n" + head)


B3_MISTAKES = [
    (value(MUL, "            self.grad += self.data * out.grad\n"
                "            other.grad += other.data * out.grad"),
     "each operand got its own value: d(a*b)/da is b, the OTHER operand"),
    (value("other.grad += -1.0 * out.grad", "other.grad += 1.0 * out.grad"),
     "d(a - b)/db = -1: the minus sign is missing"),
    (value(DIV_B, "(self.data / other.data**2)"), "d(a/b)/db = -a/b**2: the minus sign is missing"),
    (value(DIV_B, "(-1.0 / other.data**2)"), "d(a/b)/db = -a/b**2: the factor a is missing"),
    (value(DIV_B, "(-self.data / other.data)"), "d(a/b)/db = -a/b**2, not -a/b"),
    (value(DIV_A, "            self.grad += other.data * out.grad"), "d(a/b)/da = 1/b, not b"),
    (value("self.grad += -1.0 * out.grad", "self.grad += 1.0 * out.grad"), "d(-a)/da = -1, not 1"),
    (own_node("        return Value(other) - self", "other - self.data", "1.0"),
     "d(c - a)/da = -1, not 1"),
    (number_case(MUL_HEAD, "self.data * other", "self.data"),
     "d(a*c)/da = c, the number, not a"),
    (own_node("        return self * other", "other * self.data", "self.data"),
     "d(c*a)/da = c, the number, not a"),
    (number_case(DIV_HEAD, "self.data / other", "other"), "d(a/c)/da = 1/c, not c"),
    (own_node("        return Value(other) / self", "other / self.data", "other / self.data**2"),
     "d(c/a)/da = -c/a**2: the minus sign is missing"),
    (own_node("        return Value(other) / self", "other / self.data", "-1.0 / self.data**2"),
     "d(c/a)/da = -c/a**2: the factor c is missing"),
    (value(MUL, "            self.grad += other.data\n            other.grad += self.data"),
     "the local derivative was not multiplied by out.grad"),
    (value("            self.grad += 1.0 * out.grad\n            other.grad += -1.0 * out.grad",
           "            self.grad += -1.0 * out.grad\n            other.grad += 1.0 * out.grad"),
     "the sign is flipped"),
]

# --- part B4: the functions of Value ----------------------------------------------------
B4_MISTAKES = [
    (value("n * self.data ** (n - 1) * out.grad", "self.data ** (n - 1) * out.grad"),
     "d(a**n)/da = n * a**(n-1): the factor n is missing"),
    (value("n * self.data ** (n - 1) * out.grad", "n * self.data ** n * out.grad"),
     "d(a**n)/da = n * a**(n-1): the exponent was not lowered by 1"),
    (value("self.grad += out.data * out.grad", "self.grad += self.data * out.grad"),
     "d exp(a)/da = exp(a), not a"),
    (value("out.data * (1 - out.data) * out.grad", "self.data * (1 - self.data) * out.grad"),
     "sigma' = s(1 - s) with s = sigmoid(a) = out.data; a(1 - a) uses the input"),
    (value("out.data * (1 - out.data) * out.grad", "out.data * out.grad"),
     "that is sigmoid(a) itself, not its derivative s(1 - s)"),
    (value("(1 - out.data**2) * out.grad", "(1 - self.data**2) * out.grad"),
     "tanh' = 1 - t**2 with t = tanh(a) = out.data; 1 - a**2 uses the input"),
    (value("(1 - out.data**2) * out.grad", "(out.data**2 - 1) * out.grad"),
     "tanh' = 1 - t**2: the sign is flipped"),
    (value("(1 - out.data**2) * out.grad", "(1 - out.data) * out.grad"),
     "tanh' = 1 - t**2, not 1 - t"),
]

# --- part B5: backward() ------------------------------------------------------------------
LOOP = "        for v in reversed(topo):\n            v._backward()"
VISIT = "            if v not in visited:\n                visited.add(v)\n" \
    "                for child in v._prev:\n                    build_topo(child)\n" \
    "                topo.append(v)"
B5_MISTAKES = [
    (value(LOOP, "        self.grad = 1.0"), "backward() never called the nodes' _backward()"),
    (value(VISIT, "            visited.add(v)\n            for child in v._prev:\n"
                  "                build_topo(child)\n            topo.append(v)"),
     "had its _backward() called 2 times"),
    (value("        self.grad = 1.0  # dL/dL = 1\n", ""), "must start with self.grad = 1.0"),
    (value("                    build_topo(child)", "                    topo.append(child)"),
     "was never reached"),
    (value("reversed(topo)", "topo"), "the output's _backward() ran last"),
    (value("        build_topo(self)\n        self.grad = 1.0  # dL/dL = 1\n" + LOOP,
           "        self.grad = 1.0  # dL/dL = 1\n        queue, seen = [self], {self}\n"
           "        while queue:  # breadth first: by distance from the output, not an order\n"
           "            v = queue.pop(0)\n            v._backward()\n"
           "            for child in v._prev:\n                if child not in seen:\n"
           "                    seen.add(child)\n                    queue.append(child)"),
     "passed its gradient on before node"),
]


def steps(*edits):
    def step(nb):
        for e in edits:
            e(nb)
    return step


STATE = "backward() keeps state between calls"
B5_MISTAKES += [  # the list and the set made once: a default argument, a global
    (steps(value("        topo, visited = [], set()\n", ""),
           value("    def backward(self):", "    def backward(self, topo=[], visited=set()):")),
     STATE),
    (steps(value("        topo, visited = [], set()\n", "        global topo, visited\n"),
           value("class Value:", "topo, visited = [], set()\n\n\nclass Value:")), STATE),
]


def combo(name, *parts, lose=(), extra_says=()):
    steps = [step for step, _ in parts]
    says = tuple(phrase for _, phrase in parts) + tuple(extra_says)
    return Kind(f"ps3-{name}", "source", steps, lose=set(lose), says=says)


KINDS = [
    Kind("ps3-correct", "source"),
    Kind("ps3-untouched", "release", lose=ALL, says=("not done yet",)),
]
# one mistake of each part per kind, while any part has mistakes left
_POOLS = ((A1_MISTAKES, A1), (A2_MISTAKES, A2), (B3_MISTAKES, B3), (B4_MISTAKES, B4),
          (B5_MISTAKES, B5))
for k in range(max(len(pool) for pool, _ in _POOLS)):
    parts, lose = [], set()
    for pool, cells in _POOLS:
        if k < len(pool):
            parts.append(pool[k])
            lose |= set(cells)
    KINDS.append(combo(f"mistakes-{k + 1}", *parts, lose=lose))

# where a part's check needs the case it names to fail first, or some cells pass
KINDS += [
    # = instead of += in _backward: the same node twice (a * a), and a leaf whose grad
    # already holds another path's share (hidden tests only: visible leaves start at 0)
    Kind("ps3-assigns-instead-of-adding", "source",
         [value(MUL, "            self.grad = other.data * out.grad\n"
                     "            other.grad = self.data * out.grad")],
         lose=set(B3), says=("the second overwrote the first",
                             "a leaf that already had gradient from another path lost it")),
    Kind("ps3-neg-assigns", "source",
         [value("self.grad += -1.0 * out.grad", "self.grad = -1.0 * out.grad")],
         lose={"test_arithmetic_hidden"}, says=("a leaf that already had gradient",)),
    Kind("ps3-rsub-reversed", "source",
         [value("        return Value(other) - self", "        return self - Value(other)")],
         lose=set(B3), says=("calls a.__rsub__(2.5), which must compute other - self",)),
    Kind("ps3-rdiv-reversed", "source",
         [value("        return Value(other) / self", "        return self / Value(other)")],
         lose=set(B3), says=("calls a.__rtruediv__(2.5), which must compute other / self",)),
    Kind("ps3-prev-missing", "source",
         [value("Value(self.data * other.data, (self, other), '*')",
                "Value(self.data * other.data, (self,), '*')")],
         lose=set(B3), says=("is not in its _prev, so backward() would never reach it",)),
    Kind("ps3-neg-returns-float", "source",
         [value("        out = Value(-self.data, (self,), 'neg')", "        return -self.data")],
         lose=set(B3), says=("returned float, expected a Value",)),
    Kind("ps3-grad-is-a-value", "source",
         [value(MUL, "            self.grad += other * out.grad\n"
                     "            other.grad += self * out.grad")],
         lose=set(B3), says=("a.grad became a Value, expected a float",)),
    # micrograd's a / b = a * b**-1 before part B4 is written: B3 says which method to write
    Kind("ps3-div-needs-pow", "source",
         [value(DIV_HEAD, "        return self * other**-1\n" + DIV_HEAD),
          value("        out = Value(self.data**n, (self,), f'**{n}')",
                "        raise NotImplementedError()")],
         lose={*B3, *B4}, says=("calls Value.__pow__, which is not written yet",
                                "Value is not done yet")),
    # micrograd's compositions are fine: a - b = a + (-b), a / b = a * b**-1
    Kind("ps3-micrograd-compositions", "source",
         [value(DIV_HEAD, "        return self * other**-1\n" + DIV_HEAD),
          value("        other = other if isinstance(other, Value) else Value(other)\n"
                "        out = Value(self.data - other.data, (self, other), '-')",
                "        return self + (-other)\n"
                "        other = other if isinstance(other, Value) else Value(other)\n"
                "        out = Value(self.data - other.data, (self, other), '-')"),
          value("        out = Value(1 / (1 + math.exp(-self.data)), (self,), 'sigmoid')",
                "        return 1 / (1 + (-self).exp())\n"
                "        out = Value(1 / (1 + math.exp(-self.data)), (self,), 'sigmoid')")]),
    # torch in backward() scores 0 for B5 only: the check reads each part's own methods
    Kind("ps3-backward-uses-torch", "source",
         [value("        self.grad = 1.0  # dL/dL = 1",
                "        self.grad = torch.ones(()).item()  # dL/dL = 1")],
         lose=set(B5), says=("Value uses torch",)),
    Kind("ps3-delegates-to-helpers", "source",
         [edit("two_paths", SWISH,
               "    return check.derivative(lambda t: t * torch.sigmoid(t), [x])"),
          value("            self.grad += out.data * out.grad",
                "            self.grad += check.local('exp', [self.data])[1][0] * out.grad")],
         lose={*A2, *B4}, says=("the course's checks",)),
    Kind("ps3-frame-peeking", "source",
         [edit("one_path", "    s = torch.sigmoid(w * x + b)\n" + SIG, (
             "    import sys\n\n    frame = sys._getframe(1)\n    while frame is not None:\n"
             "        for v in list(frame.f_locals.values()):\n"
             "            if isinstance(v, torch.Tensor) and v.shape == x.shape and not any(\n"
             "                    v is u for u in (x, w, b)):\n"
             "                return v\n"
             "        frame = frame.f_back\n    return torch.zeros_like(x)"))],
         lose=set(A1), says=("introspection",)),
    Kind("ps3-patches-torch", "source",
         [A2_MISTAKES[0][0], insert("two_paths", PATCH_TORCH + (
             "torch.Tensor.__sub__ = lambda self, other: torch.zeros_like(self)\n"))],
         lose=set(A2), says=(A2_MISTAKES[0][1],)),
    # the callers' source from a function of part A and a method of the engine, then the
    # kernel's input history, hidden test cells included: nothing of them reaches feedback
    Kind("ps3-prints-history", "source",
         [edit("one_path", "    s = torch.sigmoid(w * x + b)\n",
               PRINT_CALLERS + "    s = torch.sigmoid(w * x + b)\n"),
          value("        topo, visited = [], set()\n",
                PRINT_CALLERS.replace("    ", "        ") + "        topo, visited = [], set()\n"),
          insert("one_path", "_calls = []"), append(PRINT_HISTORY)],
         lose={*A1, *B5}, says=("introspection",), never=("hidden=True",)),
]
