"""The by-hand rule and the judging kernel's definitions, read from source alone (fast: no
kernel, no grading run). grader/rules.py decides what a graded function may use and what of
a notebook runs before it is called."""
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from grader import rules

SETUP = "import check\nimport torch\nfrom check import make_blobs\n\nf64 = torch.float64"


def notebook(*cells):
    """A notebook with the course's locked setup cell and the student's `cells`."""
    setup = new_code_cell(SETUP)
    setup.metadata["nbgrader"] = {"locked": True, "grade": False, "grade_id": "setup"}
    return new_notebook(cells=[setup, *map(new_code_cell, cells)])


def found(fn_source, *more, words=frozenset({"grad", "backward", "autograd"})):
    """What rules.forbidden reports for the function `f` of a notebook."""
    return rules.forbidden(notebook(fn_source, *more), "f", {"check", "judge"}, words)


PLAIN = '''
EPS = 1e-8
SIZES = (2, 3, 1)


def helper(O):
    return O * (1 - O)


def f(x, t):
    """plain code: its own names, the notebook's, the setup's and common builtins"""
    import math
    import torch.nn.functional as F

    out = []
    for i, row in enumerate(x):
        out.append(helper(row) * math.exp(0) + EPS * len(SIZES))
    total = sum(float(v) for v in t.flatten()) if isinstance(t, torch.Tensor) else 0
    s = getattr(x, "shape")
    return torch.stack(out).to(f64) + 0 * F.relu(x).sum() + 0 * total + 0 * s[0]
'''


def test_plain_code_keeps_the_rule():
    """Does a function in plain style (its own helper, constants, math, torch, builtins
    from the list) pass?"""
    assert found(PLAIN) == []


@pytest.mark.parametrize(("body", "reported"), [
    ("return x.__mul__(t)", ".__mul__"),
    ("return getattr(x, 'mu' + 'l')(t)", "getattr with a computed name"),
    ("return list(map(getattr, [x], ['mul']))[0](t)", "getattr passed as a value"),
    ("return getattr(x, '__class__')", "getattr(..., '__class__')"),
    ("import operator\n    return operator.attrgetter('gr' + 'ad')(x)", "import operator"),
    ("import os\n    return x", "import os"),
    ("return eval('x * t')", "eval"),
    ("return exec('y = 1')", "exec"),
    ("return globals()['g'](x)", "globals"),
    ("return open('/etc/passwd').read()", "open"),
    ("return get_ipython()", "get_ipython"),
    ("return check.forward(x)", "check"),
    ("return torch.autograd.grad(x, t)", ".autograd"),
    ("x.backward()\n    return x.grad", ".backward"),
    ("return torch.sys.modules", ".sys"),
    ("return __builtins__", "__builtins__"),
    ("return In[-1]", "In"),
    ("return _i3", "_i3"),
])
def test_each_construct_is_refused_by_name(body, reported):
    """Is each construct outside the allow-list reported, named?"""
    assert reported in found(f"def f(x, t):\n    {body}")


def test_an_undefined_name_is_a_bug_not_a_broken_rule():
    """Is a name that nothing binds left to fail when it runs (a NameError, judged as
    such), rather than called a broken rule?"""
    assert found("def f(x, t):\n    return out.data") == []


def test_a_class_may_alias_its_methods():
    """Does `__radd__ = __add__` in a class body keep the class in the judging kernel?"""
    cell = "class V:\n    def __add__(self, o):\n        return self\n    __radd__ = __add__"
    assert rules.definitions(cell)[1] == []


def test_a_builtin_call_on_literals_is_kept_unless_the_notebook_rebinds_it():
    """Is `visited = set()` (or a default `=[]`) a definition, and `set()` left out once the
    notebook binds its own `set`?"""
    cell = "topo, visited = [], set()\ndef f(x, seen=set()):\n    return x\nN = int('3')"
    assert rules.definitions(cell)[1] == []
    assert [line for line, *_ in rules.definitions(cell, shadowed=frozenset({"set"}))[1]] == [1, 2]
    assert rules.definitions("S = set(helper)")[1]  # a name as an argument: left out


def test_what_a_graded_function_reaches_is_judged_too():
    """Does a helper of the notebook that the graded function calls keep the rule too,
    while a function it does not call is not read?"""
    helper = "def helper(x):\n    return x.__class__"
    assert ".__class__" in found("def f(x, t):\n    return helper(x)", helper)
    assert found("def f(x, t):\n    return x", helper) == []


def test_definitions_keep_only_what_runs_no_code():
    """Does the judging kernel get the definitions and nothing else of a cell, with the
    line numbers kept and every statement left out named?"""
    cell = "\n".join([  # noqa: FLY002 (one line of code per line, numbered)
        "import torch",                                   # 1 kept
        "import os",                                      # 2 not an allowed module
        "EPS = 1e-8",                                     # 3 kept
        "DTYPE = torch.float64",                          # 4 kept (a dotted name)
        "W0 = torch.randn(3)",                            # 5 a call
        "torch.Tensor.mine = lambda self: self",          # 6 an attribute target
        'exec("f = g")',                                  # 7 a statement that runs code
        "def f(x, scale=2.0):",                           # 8 kept
        "    return x * scale",                           # 9
        "@staticmethod",                                  # 10 decorated
        "def g(x):",                                      # 11
        "    return x",                                   # 12
        "class V:",                                       # 13 kept
        "    __radd__ = None",                            # 14
        "    def __add__(self, other):",                  # 15
        "        return self",                            # 16
        "class Bad:",                                     # 17 a class body that runs code
        "    print('made')",                              # 18
        "def h(x=print('default')):",                     # 19 a default that runs code
        "    return x",                                   # 20
        "class Hooked:",                                  # 21 runs code when subclassed
        "    def __init_subclass__(cls):",                # 22
        "        pass",                                   # 23
        "%matplotlib inline",                             # 24 IPython magic
    ])
    code, left_out = rules.definitions(cell)
    lines = code.split("\n")
    assert len(lines) == 24
    kept = {i + 1 for i, ln in enumerate(lines) if ln.strip()}
    assert kept == {1, 3, 4, 8, 9, 13, 14, 15, 16}
    assert [line for line, *_ in left_out] == [2, 5, 6, 7, 10, 17, 19, 21]
    by_line = {line: (names, why) for line, names, why, _ in left_out}
    assert by_line[5] == (["W0"], "a value computed by running code")
    assert by_line[6][0] == ["mine"]
    assert by_line[10][1] == "a decorated function"


def test_definitions_may_import_the_course_helpers_when_asked():
    """Is `import references` kept when the course's modules are allowed (graded code that
    uses one is refused by the rule instead), and left out otherwise?"""
    assert rules.definitions("import references")[1]
    assert not rules.definitions("import references", frozenset({"references"}))[1]


def test_a_cell_that_does_not_parse_defines_nothing():
    assert rules.definitions("def f(:\n    pass") == ("", [])
