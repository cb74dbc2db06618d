"""Planted mistakes: does the visible check name each realistic mistake, exactly, in the
student's own run and in the graded verdict?

Each entry plants one mistake in the solution of an assignment (a text edit of one of its
solution cells), defines the notebook's functions the way a kernel does (each cell compiled
as an IPython cell, so a crash shows the student's own line), runs the part's visible check
in-process (``judge.answer`` on each case, as ``judge.run`` does) and asserts that the ids
the verdict names (``judge.diagnose``) are exactly the planted one. The graded verdict is
``grader.verdict.judge_cell`` on the same test cell of the submitted notebook (the grader-
only referee's judges where it has them), from the same recorded answers; the class report
(``grader.report.class_mistakes``) reads the ids it stores.
"""
import contextlib
import hashlib
import io
import linecache
import sys
from pathlib import Path

import nbformat
import pytest

from grader import report, verdict

ROOT = Path(__file__).resolve().parent.parent


class Plant:
    def __init__(self, a, part, fn, old, new, ids, name):
        self.a, self.part, self.fn, self.old, self.new = a, part, fn, old, new
        self.ids, self.name = list(ids), name


P1, P2, P3, P4, P5 = ("ps1_perceptron", "ps2_multi_output_perceptron", "ps3_chain_rule",
                      "ps4_mlp_backprop", "ps5_himmelblau")
DK4 = "    return O_k * (1 - O_k) * (O_k - t)\n"
DJ4 = "    return (delta_k @ W.T) * O_j * (1 - O_j)\n"
LG4 = "    return O_prev.T @ delta, delta.sum(0)\n"
BW4 = "            delta = delta_j(Os[l], delta, Ws[l])\n"
G1 = "    return x.T @ delta, delta.sum(0)\n"
PLANTED = [
    # --- ps1
    Plant(P1, "sigmoid_prime", "sigmoid_prime", "    s = sigmoid(z)\n    return s * (1 - s)\n",
          "    return z * (1 - z)\n", ["sigma-prime-of-z"], "sigma' applied to z"),
    Plant(P1, "sigmoid_prime", "sigmoid_prime", "    return s * (1 - s)\n", "    return s\n",
          ["sigma-not-derivative"], "sigma instead of sigma'"),
    Plant(P1, "forward", "forward", "return sigmoid(x @ W + b)", "return sigmoid(x @ W)", ["no-bias"],
          "bias missing"),
    Plant(P1, "forward", "forward", "return sigmoid(x @ W + b)", "return x @ W + b",
          ["no-sigmoid"], "sigmoid missing"),
    Plant(P1, "gradients", "gradients", "delta = O * (1 - O) * (O - t)",
          "delta = O * (1 - O) * (t - O)", ["sign"], "sign flipped"),
    Plant(P1, "gradients", "gradients", "O * (1 - O) * (O - t)", "(O - t)",
          ["no-sigma-prime"], "sigma' missing"),
    Plant(P1, "gradients", "gradients", G1, "    return x.T @ delta / len(x), delta.sum(0) / len(x)\n",
          ["mean-1/B", "mean-1/BK"], "mean over the batch (K = 1: also over all elements)"),
    Plant(P1, "gradients", "gradients", G1, "    return x.T @ delta, delta.sum(0, keepdim=True)\n",
          ["b-keepdim"], "grad_b keepdim=True"),
    Plant(P1, "gradients", "gradients", G1, "    return x.T @ delta, delta\n",
          ["batch-kept"], "grad_b not summed"),
    Plant(P1, "gradients", "gradients", G1, "    return delta.T @ x, delta.sum(0)\n",
          ["transposed"], "grad_W transposed"),
    Plant(P1, "gradients", "gradients", "O * (1 - O) * (O - t)", "2 * O * (1 - O) * (O - t)",
          ["half-dropped"], "the 1/2 dropped"),
    Plant(P1, "train", "train",
          "        losses.append(0.5 * ((O - t) ** 2).sum().item())\n",
          "        losses.append(0.5 * ((O - t) ** 2).mean().item())\n",
          ["loss-mean"], "loss recorded as a mean"),
    Plant(P1, "train", "train", "        b = b - lr * grad_b\n",
          "        b = b - lr * grad_b\n        losses[-1] = 0.5 * ((forward(x, W, b) - t) ** 2)"
          ".sum().item()\n", ["loss-after-update"], "loss recorded after the update"),
    Plant(P1, "train", "train", "W = W - lr * grad_W", "W = W + lr * grad_W",
          ["update-sign"], "update of the wrong sign"),
    # --- ps2
    Plant(P2, "delta_k", "delta_k", "O * (1 - O) * (O - t)", "(O - t)", ["no-sigma-prime"],
          "dE/dO for delta"),
    Plant(P2, "delta_k", "delta_k", "O * (1 - O) * (O - t)",
          "torch.sigmoid(O) * (1 - torch.sigmoid(O)) * (O - t)", ["sigma-prime-of-O"],
          "sigma'(O)"),
    Plant(P2, "delta_k", "delta_k", "O * (1 - O) * (O - t)", "O * (1 - O) * (O - t) / O.shape[1]",
          ["mean-1/K"], "mean over the outputs (1/K)"),
    Plant(P2, "delta_k", "delta_k", "O * (1 - O) * (O - t)", "O * (1 - O) * (O - t) / O.numel()",
          ["mean-1/BK"], "mean over all elements"),
    Plant(P2, "delta_k", "delta_k", "O * (1 - O) * (O - t)", "(O * (1 - O) * (O - t)).sum(0)",
          ["batch-summed"], "batch summed away"),
    Plant(P2, "grad_W", "grad_W", "return x.T @ delta", "return delta.T @ x", ["transposed"],
          "grad_W transposed"),
    Plant(P2, "grad_W", "grad_W", "return x.T @ delta", "return x.T @ delta / len(x)",
          ["mean-1/B"], "grad_W mean"),
    Plant(P2, "grad_b", "grad_b", "return delta.sum(0)", "return delta.sum(1)",
          ["b-summed-outputs"], "grad_b over the outputs"),
    Plant(P2, "grad_b", "grad_b", "return delta.sum(0)", "return delta.sum(0, keepdim=True)",
          ["b-keepdim"], "grad_b keepdim"),
    Plant(P2, "grad_W_mean", "grad_W_mean", "(2 / O.numel())", "(1 / O.numel())",
          ["mse-no-2"], "the 2 of the mean's gradient missing"),
    # --- ps3
    Plant(P3, "dsigmoid_dw", "dsigmoid_dw", "return s * (1 - s) * x", "return s * (1 - s)",
          ["no-inner-factor"], "inner factor dz/dw missing"),
    Plant(P3, "dswish_dx", "dswish_dx", "return s + x * s * (1 - s)", "return x * s * (1 - s)",
          ["swish-one-path"], "swish: one path only"),
    Plant(P3, "two_layer_grads", "two_layer_grads", "return w2 * x, ", "return x, ",
          ["no-w2-factor"], "dy2/dw1 without w2"),
    Plant(P3, "arithmetic", "Value",
          "            self.grad += other.data * out.grad\n            other.grad += self.data * out.grad\n",
          "            self.grad += self.data * out.grad\n            other.grad += other.data * out.grad\n",
          ["mul-own-value"], "d(a*b)/da = a"),
    Plant(P3, "backward", "Value", "        for v in reversed(topo):\n            v._backward()\n",
          "", ["order-never-called"], "backward never calls _backward"),
    Plant(P3, "backward", "Value", "reversed(topo)", "topo", ["order-leaves-up"],
          "the nodes from the leaves up"),
    Plant(P3, "backward", "Value", "        self.grad = 1.0  # dL/dL = 1\n", "",
          ["order-root-grad"], "the output's grad not set to 1"),
    Plant(P3, "backward", "Value", "                    build_topo(child)",
          "                    topo.append(child)", ["order-missing-node"],
          "the order holds only the output's children"),
    Plant(P3, "backward", "Value",
          ("        topo, visited = [], set()\n", "    def backward(self):"),
          ("", "    def backward(self, topo=[], visited=set()):"), ["state-kept"],
          "the topological list as a default argument"),
    # --- ps4
    Plant(P4, "delta_k", "delta_k", DK4,
          "    s = torch.sigmoid(O_k)\n    return s * (1 - s) * (O_k - t)\n",
          ["sigma-prime-of-O"], "sigma' of the activation in delta_k"),
    Plant(P4, "delta_k", "delta_k", DK4, "    return O_k - t\n", ["no-sigma-prime"],
          "sigma' missing in delta_k"),
    Plant(P4, "delta_k", "delta_k", DK4, "    return 2 * O_k * (1 - O_k) * (O_k - t)\n",
          ["half-dropped"], "the 1/2 dropped"),
    Plant(P4, "delta_k", "delta_k", DK4, "    return O_k * (1 - O_k) * (O_k - t) / t.shape[1]\n",
          ["mean-1/K"], "averaged over the outputs only"),
    Plant(P4, "delta_k", "delta_k", DK4, "    t -= O_k\n    return -O_k * (1 - O_k) * t\n",
          ["changed-input"], "delta_k changes t in place"),
    Plant(P4, "delta_j", "delta_j", DJ4,
          "    s = torch.sigmoid(O_j)\n    return (delta_k @ W.T) * s * (1 - s)\n",
          ["sigma-prime-of-O"], "sigma' of the activation in delta_j"),
    Plant(P4, "delta_j", "delta_j", "delta_k @ W.T", "delta_k @ W", ["W-not-WT"],
          "W for W.T"),
    Plant(P4, "delta_j", "delta_j", DJ4, "    return delta_k @ W.T\n", ["no-sigma-prime"],
          "sigma' missing in delta_j"),
    Plant(P4, "layer_grads", "layer_grads", LG4, "    return delta.T @ O_prev, delta.sum(0)\n",
          ["transposed"], "layer_grads transposed"),
    Plant(P4, "layer_grads", "layer_grads", LG4, "    return O_prev.T @ delta, delta\n",
          ["batch-kept"], "bias not summed"),
    Plant(P4, "layer_grads", "layer_grads", LG4,
          "    return O_prev.T @ delta, delta.sum(0, keepdim=True)\n", ["b-keepdim"],
          "bias keepdim"),
    Plant(P4, "layer_grads", "layer_grads", LG4,
          "    return O_prev.sum(0).outer(delta.sum(0)), delta.sum(0)\n", ["outer-of-sums"],
          "outer product of the sums"),
    Plant(P4, "backward", "backward", BW4,
          "            s = torch.sigmoid(Os[l])\n            delta = (delta @ Ws[l].T) * s * (1 - s)\n",
          ["hidden-sigma-prime-of-O"], "sigma' of the activation inline"),
    Plant(P4, "backward", "backward", BW4, "            delta = delta_j(Os[l], delta, Ws[l - 1])\n",
          ["crash"], "Ws[l-1] for Ws[l]"),
    Plant(P4, "backward", "backward", BW4, "            delta = delta_j(Os[l + 1], delta, Ws[l])\n",
          ["O-above"], "the wrong O passed to delta_j"),
    Plant(P4, "backward", "backward", "layer_grads(Os[l], delta)",
          "layer_grads(torch.logit(Os[l]) if l else Os[0], delta)", ["z-for-O-prev"],
          "pre-activation z for O_prev"),
    Plant(P4, "backward", "backward", BW4, "            pass\n", ["top-delta-reused"],
          "the top delta at every layer"),
    Plant(P4, "backward", "backward", "delta = delta_k(Os[L], t)", "delta = Os[L] - t",
          ["top-no-sigma-prime"], "sigma' missing at the top, inline"),
    Plant(P4, "backward", "backward", "layer_grads(Os[l], delta)", "layer_grads(Os[l + 1], delta)",
          ["O-own-output"], "the layer's own output for its input"),
    Plant(P4, "backward", "backward", "    return grads_W, grads_b\n",
          "    return grads_W[::-1], grads_b[::-1]\n", ["reversed-lists"], "lists reversed"),
    Plant(P4, "backward", "backward", BW4, BW4 + "        Ws[l] -= 0.05 * grads_W[l]\n",
          ["changed-input"], "backward updates Ws in place"),
    Plant(P4, "numerical_gradient", "numerical_gradient",
          ("    x = x.clone()\n", "flat[i] = old + h", "flat[i] = old - h", "flat[i] = old\n"),
          ("", "flat[i] += h", "flat[i] -= 2 * h", "flat[i] += h\n"),
          ["changed-input"], "x restored by arithmetic (+= h, -= 2h, += h)"),
    Plant(P4, "numerical_gradient", "numerical_gradient",
          ("    x = x.clone()\n", "        flat[i] = old\n"), ("", ""),
          ["changed-input"], "x perturbed without a copy, never put back"),
    Plant(P4, "numerical_gradient", "numerical_gradient", "(up - down) / (2 * h)",
          "(up - down) / h", ["missing-2"], "the 2 of 2h missing"),
    Plant(P4, "relative_error", "relative_error", "(a - b).abs().max().item() / scale",
          "((a - b).abs() / (a.abs() + b.abs()).clamp_min(1e-300)).max().item()",
          ["relative-entrywise"], "ratio entry by entry"),
    Plant(P4, "train", "train", "        losses.append(loss(forward(x, Ws, bs)[-1], t))\n",
          "        losses.append(loss(forward(x, Ws, bs)[-1], t) / len(x))\n", ["loss-mean"],
          "loss recorded as a mean"),
    Plant(P4, "train", "train", "    losses = []\n", "    losses = []\n    x -= x.mean(0)\n",
          ["changed-input"], "train centres x in place"),
    Plant(P4, "train", "train", "Ws = [W - lr * g", "Ws = [W + lr * g", ["update-sign"],
          "update of the wrong sign"),
    Plant(P4, "cross_entropy", "cross_entropy", "return -(t * torch.log(O_k)",
          "return (t * torch.log(O_k)", ["ce-no-minus"], "the minus of cross-entropy"),
    Plant(P4, "delta_k_ce", "delta_k_ce", "    return O_k - t\n",
          "    return O_k * (1 - O_k) * (O_k - t)\n", ["ce-sigma-prime-kept"],
          "sigma' kept under cross-entropy"),
    # --- ps5
    Plant(P5, "himmelblau", "himmelblau", "(x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2",
          "(x**2 + y - 11 + x + y**2 - 7) ** 2", ["f-sum-squared"], "sum of brackets squared"),
    Plant(P5, "himmelblau_grad", "himmelblau_grad", "return 4 * x * a + 2 * c, 2 * a + 4 * y * c",
          "return 2 * a + 4 * y * c, 4 * x * a + 2 * c", ["partials-swapped"],
          "partials swapped"),
    Plant(P5, "himmelblau_grad", "himmelblau_grad", "return 4 * x * a + 2 * c, 2 * a + 4 * y * c",
          "return 2 * x * a + c, a + 2 * y * c", ["grad-no-2"], "factor 2 missing"),
    Plant(P5, "descend", "descend", "p = p - lr", "p = p + lr", ["ascent"], "gradient ascent"),
    Plant(P5, "descend_optim", "descend_optim", "        optimizer.zero_grad()\n", "",
          ["accumulated"], "zero_grad missing"),
]


def _notebook(a):
    return nbformat.read(ROOT / "source" / a / f"{a}.ipynb", as_version=4)


def _defining(cell):
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and (meta.get("solution") or meta.get("locked")) \
        and not meta.get("grade")


def _cells(a):
    """The sources of the notebook's setup cells and solution cells (no test cell)."""
    return [c.source for c in _notebook(a).cells if _defining(c)]


def _define(a, sources, check):
    """The notebook's namespace after running `sources`, each compiled as an IPython cell."""
    ns = {"__name__": "__main__"}
    saved = sys.modules.get("check")
    sys.modules["check"] = check
    try:
        for n, src in enumerate(sources, 1):
            name = f"<ipython-input-{n}-{hashlib.sha256(src.encode()).hexdigest()[:12]}>"
            linecache.cache[name] = (len(src), None, src.splitlines(True), name)
            # the setup cell looks for check.py next to the notebook: run where it lies
            with contextlib.redirect_stdout(io.StringIO()), \
                    contextlib.chdir(ROOT / "source" / a):
                exec(compile(src, name, "exec"), ns)  # noqa: S102 (the course's own solution)
    finally:
        if saved is None:
            sys.modules.pop("check", None)
        else:
            sys.modules["check"] = saved
    return ns


def _planted(plant):
    sources = _cells(plant.a)
    at = [i for i, s in enumerate(sources)
          if f"def {plant.fn}(" in s or f"class {plant.fn}" in s]
    assert at, f"{plant.a}: no cell defines {plant.fn}"
    src = sources[at[0]]
    olds, news = ((plant.old, plant.new) if isinstance(plant.old, tuple)
                  else ((plant.old,), (plant.new,)))
    for old, new in zip(olds, news):
        assert old in src, f"{plant.name}: {old!r} is not in {plant.fn}"
        src = src.replace(old, new, 1)
    sources[at[0]] = src
    return sources


FIRST = {"himmelblau_grad": ("himmelblau",)}  # checked with the student's own himmelblau


def _run_first(check, part, ns):
    """Run the checks of the parts `part` uses, theirs first, as a notebook does (ps5
    checks a part with the functions that passed those)."""
    for used in FIRST.get(part.name, ()) + part.uses:
        _run_first(check, getattr(check, used).part, ns)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(AssertionError):
            getattr(check, used)(ns[used])


def _answers(a, part_name, ns):
    """The part, the student's function and its recorded answers on the visible cases, as
    the notebook's test cell (judge.run) or the judging kernel (judge.record) record them."""
    check, _, judge = verdict.load(ROOT / "source" / a)
    part = getattr(check, part_name).part
    judge.FAILED.clear()
    _run_first(check, part, ns)
    fn = ns[part_name if part_name in ns else "Value"]
    answers = {}
    for i, case in enumerate(part.cases):
        answers[i] = judge.answer(part, fn, case)
        if "error" in answers[i]:
            break
    return part, fn, answers


def diagnose(a, part_name, ns):
    """(message, ids) of the visible check of `part_name` in the student's own run."""
    judge = verdict.load(ROOT / "source" / a)[2]
    part, fn, answers = _answers(a, part_name, ns)
    return judge.diagnose(part, part.cases, answers, getattr(fn, "__name__", part_name))


def graded(a, part_name, ns, sources, keep=None):
    """(message, ids) of the graded verdict on the same test cell: grader.verdict.judge_cell
    on the submitted notebook (`sources` in its solution cells), from the recorded answers."""
    _, fn, answers = _answers(a, part_name, ns)
    nb = _notebook(a)
    cells = [c for c in nb.cells if _defining(c)]
    for c, src in zip(cells, sources):
        c.source = src
    fn_name = getattr(fn, "__name__", part_name)
    test = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")
                and (part_name, fn_name, False) in verdict.test_calls(c.source))
    test.source = f"check.{part_name}({fn_name})"  # this part's check alone
    shipped = [p.name for p in (ROOT / "source" / a).iterdir()]
    found = {(part_name, False): {"answers": answers, "stopped": None}}
    graded_fns = {fn for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")
                  for _, fn, _ in verdict.test_calls(c.source)}
    verdict.judge_cell(test, nb, verdict.load(ROOT / "source" / a),
                       verdict.helper_modules(shipped), set(), found, graded=graded_fns)
    if keep is not None:
        keep.append(test)
    errors = [o for o in test.outputs if o.get("output_type") == "error"]
    ids = test.metadata["backprop"]["mistakes"].get(part_name)
    return (errors[0]["evalue"] if errors else None), (ids or [])
@pytest.fixture(autouse=True)
def _fresh_checks():
    """Leave the course's cached check modules as they were: no part failed, none checked
    with a function of these tests (ps5 remembers the functions that passed)."""
    yield
    for a in (P1, P2, P3, P4, P5):
        check, _, judge = verdict.load(ROOT / "source" / a)
        judge.FAILED.clear()
        getattr(check, "CHECKED", {}).clear()


@pytest.mark.parametrize("plant", PLANTED, ids=[f"{p.a[:3]}-{p.name}" for p in PLANTED])
def test_the_planted_mistake_is_named(plant):
    """Is exactly the planted mistake named, in the student's run and in the graded one?"""
    check = verdict.load(ROOT / "source" / plant.a)[0]
    sources = _planted(plant)
    ns = _define(plant.a, sources, check)
    for run, (message, ids) in [("the student's run", diagnose(plant.a, plant.part, ns)),
                                ("the graded run", graded(plant.a, plant.part, ns, sources))]:
        assert message, f"{plant.name}: the check passes in {run}"
        assert ids == plant.ids, f"{plant.name}: {run} names {ids}, not {plant.ids}: {message}"


@pytest.mark.parametrize("a", [P1, P2, P3, P4, P5])
def test_the_solution_passes(a):
    """Does every part pass on the solution itself (the planted ones are its only change)?"""
    check = verdict.load(ROOT / "source" / a)[0]
    ns = _define(a, _cells(a), check)
    for part in sorted({p.part for p in PLANTED if p.a == a}):
        assert diagnose(a, part, ns) == (None, []), part
        assert graded(a, part, ns, _cells(a)) == (None, []), part


def test_enough_mistakes_are_planted():
    assert len(PLANTED) >= 40
    assert {p.a for p in PLANTED} == {P1, P2, P3, P4, P5}


def test_the_class_report_lists_every_student(tmp_path):
    """Graded as a class (one planted mistake per student in ps4, one correct student),
    does the report list every failing student under the part that failed, with its id,
    and count each once?"""
    plants = [p for p in PLANTED if p.a == P4]
    check = verdict.load(ROOT / "source" / P4)[0]
    notebooks = {}
    for n, plant in enumerate(plants + [None]):
        sources = _planted(plant) if plant else _cells(P4)
        ns = _define(P4, sources, check)
        cells = []
        for part in ([plant.part] if plant else ["delta_k", "backward"]):
            graded(P4, part, ns, sources, keep=cells)
        path = tmp_path / f"student{n}.ipynb"
        nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
        notebooks[plant.name if plant else "correct"] = [path]
    counts, who = report.class_mistakes(notebooks)
    expected = {(p.part, i): sorted(q.name for q in plants if q.part == p.part and i in q.ids)
                for p in plants for i in p.ids}
    assert {k: sorted(v) for k, v in who.items()} == expected
    assert all(counts[k] == len(v) for k, v in who.items())
    assert "correct" not in {s for v in who.values() for s in v}


def test_a_part_failing_with_no_id_is_not_named(tmp_path):
    """Is a failing part whose verdict named nothing listed as "not named"?"""
    cell = nbformat.v4.new_code_cell("check.train(train)", outputs=[nbformat.v4.new_output(
        "error", ename="Failed", evalue="train: ...", traceback=[])])
    cell.metadata = {"nbgrader": {"grade": True}, "backprop": {"mistakes": {"train": []}}}
    path = tmp_path / "a.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), path)
    counts, who = report.class_mistakes({"s1": [path]})
    assert who == {("train", report.NOT_NAMED): ["s1"]} and counts[("train", "not named")] == 1


def test_a_crash_shows_the_students_own_lines():
    """Does a crash show the student's line that raised and the line that called it, and
    none of the course's?"""
    plant = next(p for p in PLANTED if p.name == "Ws[l-1] for Ws[l]")
    check, _, judge = verdict.load(ROOT / "source" / plant.a)
    message, ids = diagnose(plant.a, plant.part, _define(plant.a, _planted(plant), check))
    assert ids == ["crash"]
    assert "of your delta_j: `return (delta_k @ W.T) * O_j * (1 - O_j)`" in message, message
    assert "called from line" in message and \
        "of your backward: `delta = delta_j(Os[l], delta, Ws[l - 1])`" in message, message
    assert not any(f in message for f in ("check.py", "judge.py", "torch")), message
    # a cell's file in IPython before 8 and in ipykernel 6+; the course's files never match
    for name, student in [("<ipython-input-3-5f1e2a9c8b7d>", True),
                          ("/tmp/ipykernel_4242/1234567.py", True),
                          (str(ROOT / "notebooks" / "judge.py"), False), ("<string>", False)]:
        assert bool(judge.STUDENT_FILE.search(name)) == student, name
