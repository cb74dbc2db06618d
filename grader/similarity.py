"""Pairs of students whose graded functions are alike beyond chance: for the instructor to
read, never a verdict and never a penalty.

Each graded function (a `def` in a solution cell) is parsed and normalised: docstrings,
comments and formatting are gone (the AST has none), every local name (parameters, assigned
names, loop variables) becomes one placeholder, and the operands of + and * are put in a
fixed order. Its features are the normalised subtrees (statements and expressions) of at
least MIN_SIZE nodes, counted as a multiset, so the order of statements does not matter.

Alike *beyond chance* means alike in what nobody was given and few others wrote:
- a feature of the course's own solution or of the release notebook is expected, and never
  counts (every correct solution resembles the course's); a feature that is a small edit of
  an expected one (a flipped sign, a forgotten factor: its normalised text at least
  VARIANT similar to an expected feature's, by difflib's ratio of their tokens) counts little, the less the
  closer it is (two students who make the same slip in the course's code are no evidence);
- a feature shared by k of the class's N students weighs less the larger k is (a common
  mistake or idiom is no evidence), by log((N + 1) / k) / log((N + 1) / 2), at most 1; one
  shared by at least COMMON of the class (and 5 students) counts as expected.

Two students' `score` is the weighted Jaccard similarity of their unexpected features
(weights: subtree size times rarity), and `shared` the amount of unexpected code they share
(the sizes, in AST nodes, of their shared simple statements, times rarity). A pair is
reported when score >= THRESHOLD and shared >= MIN_SHARED: one shared line, however rare,
is not enough.
"""
import ast
import difflib
import functools
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

MIN_SIZE = 4
THRESHOLD = 0.5
MIN_SHARED = 30
VARIANT = 0.75
COMMON = 0.2
PLACEHOLDER = "_"
COMMUTATIVE = (ast.Add, ast.Mult)
MAGIC = re.compile(r"^\s*[%!].*$", re.MULTILINE)  # IPython magics and shell lines


@dataclass
class Function:
    name: str
    source: str  # as the student wrote it
    features: Counter = field(default_factory=Counter)  # (dump) -> count
    sizes: dict = field(default_factory=dict)  # dump -> (nodes, simple statement?)


@dataclass
class Pair:
    a: str
    b: str
    score: float
    shared: float
    functions: list  # [(name, source of a, source of b)], the functions they share most in


class _Normalise(ast.NodeTransformer):
    def __init__(self, local):
        self.local = local

    def visit_Name(self, node):
        if node.id in self.local:
            return ast.copy_location(ast.Name(PLACEHOLDER, ast.Load()), node)
        return ast.copy_location(ast.Name(node.id, ast.Load()), node)

    def visit_arg(self, node):
        return ast.copy_location(ast.arg(PLACEHOLDER), node)

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, COMMUTATIVE):
            left, right = sorted([node.left, node.right], key=ast.dump)
            node.left, node.right = left, right
        return node

    def visit_Expr(self, node):  # a docstring or a bare string says nothing about the code
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return None
        return self.generic_visit(node)

    def visit_FunctionDef(self, node):
        self.generic_visit(node)
        node.name, node.returns, node.decorator_list = PLACEHOLDER, None, []
        return node

    visit_AsyncFunctionDef = visit_FunctionDef


def _locals(func):
    names = {a.arg for a in ast.walk(func.args) if isinstance(a, ast.arg)}
    for node in ast.walk(func):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node is not func:
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names


def _simple(node):
    return isinstance(node, ast.stmt) and not any(
        isinstance(v, list) and v and isinstance(v[0], ast.stmt)
        for v in (getattr(node, f, None) for f in node._fields))


def function(node, text):
    """The Function of one `def` node (`text`: the cell's source)."""
    first = min([node.lineno] + [d.lineno for d in node.decorator_list])
    source = "\n".join(text.splitlines()[first - 1:node.end_lineno])  # with its comments
    tree = _Normalise(_locals(node)).visit(ast.parse(ast.unparse(node)).body[0])
    f = Function(node.name, source)
    for sub in ast.walk(tree):
        if sub is tree or not isinstance(sub, (ast.stmt, ast.expr)):
            continue
        nodes = sum(1 for _ in ast.walk(sub))
        if nodes < MIN_SIZE:
            continue
        key = f"{node.name}:{ast.dump(sub, annotate_fields=False)}"
        f.features[key] += 1
        f.sizes[key] = (nodes, _simple(sub))
    return f


def functions(nb):
    """{name: Function} of the `def`s in the solution cells of a notebook (NotebookNode)."""
    found = {}
    for cell in nb.cells:
        if cell.get("cell_type") != "code" or \
                not cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            continue
        text = MAGIC.sub("", cell.source)
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found[node.name] = function(node, text)
    return found


def _rarity(k, n):
    return min(1.0, math.log((n + 1) / k) / math.log((n + 1) / 2)) if k > 1 else 1.0


TOKEN = re.compile(r"[^\W\d]\w*|\d+|[^\w\s,()\[\]]")


def _tokens(key):
    return TOKEN.findall(key.split(":", 1)[1])


@functools.lru_cache(maxsize=100_000)
def _novelty(key, given):
    """1 for a feature unlike every expected one (`given`, a frozenset), down to 0 for a near
    copy of one (the similarity of their normalised texts' tokens, by difflib's ratio).
    Cached: the grading service asks again for the same features at every round."""
    mine, best = _tokens(key), 0.0
    for other in given:
        m = difflib.SequenceMatcher(None, mine, _tokens(other), autojunk=False)
        if m.real_quick_ratio() > best and m.quick_ratio() > best:
            best = max(best, m.ratio())
    return min(1.0, max(0.0, (1 - best) / (1 - VARIANT)))


def similar_pairs(notebooks, expected=()):
    """[Pair], most alike first, of the students of `notebooks` ({student: NotebookNode});
    `expected`: notebooks whose code everyone was given or may rightly write (the course's
    solution, the release)."""
    given = defaultdict(set)  # function name -> expected features
    for nb in expected:
        for f in functions(nb).values():
            given[f.name] |= set(f.features)
    code = {s: functions(nb) for s, nb in notebooks.items()}
    mine = {}  # student -> Counter of unexpected features
    sizes = {}
    for s, funcs in code.items():
        mine[s] = Counter()
        for f in funcs.values():
            for key, count in f.features.items():
                if key not in given[f.name]:
                    mine[s][key] = count
                    sizes[key] = f.sizes[key]
    n = len(mine)
    holders = defaultdict(list)
    for s, feats in mine.items():
        for key in feats:
            holders[key].append(s)
    for key in [k for k, who in holders.items() if len(who) >= max(5, COMMON * n)]:
        for s in holders.pop(key):  # common knowledge in this class
            del mine[s][key]
    given = {name: frozenset(keys) for name, keys in given.items()}
    weight = {key: sizes[key][0] * _rarity(len(who), n)
                  * _novelty(key, given.get(key.split(":", 1)[0], frozenset()))
              for key, who in holders.items()}
    total = {s: sum(weight[k] * c for k, c in feats.items()) for s, feats in mine.items()}
    common, shared = defaultdict(float), defaultdict(float)
    for key, who in holders.items():
        if len(who) < 2:
            continue
        for i, a in enumerate(sorted(who)):
            for b in sorted(who)[i + 1:]:
                both = min(mine[a][key], mine[b][key])
                common[(a, b)] += weight[key] * both
                if sizes[key][1]:
                    shared[(a, b)] += weight[key] * both
    pairs = []
    for (a, b), inter in common.items():
        union = total[a] + total[b] - inter
        score = inter / union if union else 0.0
        if score >= THRESHOLD and shared[(a, b)] >= MIN_SHARED:
            pairs.append(Pair(a, b, round(score, 3), round(shared[(a, b)], 1),
                              _side_by_side(code[a], code[b], mine[a], mine[b])))
    return sorted(pairs, key=lambda p: (-p.score, p.a, p.b))


def _side_by_side(fa, fb, ua, ub):
    """The functions two students share unexpected code in, most shared first."""
    rows = []
    for name in sorted(set(fa) & set(fb)):
        both = sum(min(ua[k], ub[k]) for k in fa[name].features if k in ua and k in ub)
        if both:
            rows.append((both, name, fa[name].source, fb[name].source))
    return [(name, sa, sb) for _, name, sa, sb in sorted(rows, key=lambda r: (-r[0], r[1]))]
