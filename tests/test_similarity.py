"""The similarity report (grader/similarity.py): a copy with renamed variables, reordered
statements, new comments and formatting is found; the course's own solution and
independently written correct ones are not; the zoo's kinds give no pair; the class report
shows each pair's functions side by side, HTML-escaped."""
import copy
import csv
import re
import warnings
from html import unescape

import nbformat
import pytest
import zoo
from classroom import student_work
from conftest import grading, notebook
from sqlalchemy.exc import SAWarning

from grader import report, similarity

A = "ps1_perceptron"

# two correct solutions written independently of the course's (and of each other)
ALICE = {
    "sigmoid": '''def sigmoid(z):
    e = torch.exp(-z)
    return 1.0 / (e + 1.0)


def sigmoid_prime(z):
    e = torch.exp(-z)
    return e / (1 + e) ** 2
''',
    "forward": '''def forward(x, W, b):
    return sigmoid(torch.matmul(x, W) + b)
''',
    "gradients": '''def gradients(x, t, W, b):
    z = torch.matmul(x, W) + b
    error = sigmoid(z) - t
    local = error * sigmoid_prime(z)
    grad_W = torch.matmul(x.t(), local)
    grad_b = torch.sum(local, dim=0)
    return grad_W, grad_b
''',
    "train": '''def train(x, t, lr=0.05, steps=300):
    """Gradient descent from W = 0, b = 0; returns (W, b, losses)."""
    W = torch.zeros(x.shape[1], 1, dtype=x.dtype)
    b = torch.zeros(1, dtype=x.dtype)
    losses = []
    for _ in range(steps):
        out = forward(x, W, b)
        losses.append(float(torch.sum((out - t) ** 2) / 2))
        gW, gb = gradients(x, t, W, b)
        W, b = W - lr * gW, b - lr * gb
    return W, b, losses
''',
}

BOB = {
    "sigmoid": '''def sigmoid(z):
    # the logistic function, written with tanh for stability
    return 0.5 * (torch.tanh(0.5 * z) + 1)


def sigmoid_prime(z):
    value = sigmoid(z)
    slope = value - value ** 2
    return slope
''',
    "forward": '''def forward(x, W, b):
    pre = x.matmul(W)
    pre = pre + b.reshape(1, -1)
    activation = sigmoid(pre)
    return activation
''',
    "gradients": '''def gradients(x, t, W, b):
    prediction = forward(x, W, b)
    residual = prediction - t
    derivative = prediction * (1 - prediction)
    signal = residual * derivative
    dW = x.transpose(0, 1).matmul(signal)
    db = signal.sum(dim=0, keepdim=False)
    return dW, db
''',
    "train": '''def train(x, t, lr=0.05, steps=300):
    """Gradient descent from W = 0, b = 0; returns (W, b, losses)."""
    W = torch.zeros(x.shape[1], 1, dtype=x.dtype)
    b = torch.zeros(1, dtype=x.dtype)
    losses = []
    for _ in range(steps):
        prediction = forward(x, W, b)
        half_sse = 0.5 * (prediction - t).pow(2).sum()
        losses.append(half_sse.item())
        dW, db = gradients(x, t, W, b)
        W = W.sub(lr * dW)
        b = b.sub(lr * db)
    return W, b, losses
''',
}

# Bob's work copied: every name changed, independent statements reordered, comments added,
# formatting changed
COPY = {
    "sigmoid": '''def sigmoid(z):
    return 0.5*(torch.tanh(0.5*z)+1)   # logistic


def sigmoid_prime(z):
    s = sigmoid(z)
    d = s - s**2
    return d
''',
    "forward": '''def forward(x, W, b):
    h = x.matmul(W)
    h = h + b.reshape(1, -1)
    # squash it
    a = sigmoid(h)
    return a
''',
    "gradients": '''def gradients(x, t, W, b):
    y = forward(x, W, b)
    slope = y * (1 - y)        # sigma'
    diff = y - t
    s = diff * slope
    gb = s.sum(dim=0, keepdim=False)
    gW = x.transpose(0, 1).matmul(s)
    return (gW, gb)
''',
    "train": '''def train(x, t, lr=0.05, steps=300):
    """Gradient descent from W = 0, b = 0; returns (W, b, losses)."""
    W = torch.zeros(x.shape[1], 1, dtype=x.dtype)
    b = torch.zeros(1, dtype=x.dtype)
    losses = []
    for _ in range(steps):
        yhat = forward(x, W, b)
        L = 0.5*(yhat - t).pow(2).sum()
        losses.append(L.item())
        gradW, gradb = gradients(x, t, W, b)
        b = b.sub(lr*gradb)
        W = W.sub(lr*gradW)
    return W, b, losses
''',
}


def written(functions):
    """The release notebook of ps1 with these solution cells."""
    nb = copy.deepcopy(student_work(A))
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in functions:
            cell.source = functions[grade_id]
    return nb


def expected(a=A):
    return [nbformat.read(notebook(kind, a), as_version=4) for kind in ("source", "release")]


def test_the_copy_is_found_and_independent_solutions_are_not():
    class_ = {"official": student_work(A), "alice": written(ALICE), "bob": written(BOB),
              "carol": written(COPY)}
    pairs = similarity.similar_pairs(class_, expected())
    assert [(p.a, p.b) for p in pairs] == [("bob", "carol")], pairs
    pair = pairs[0]
    assert {name for name, _, _ in pair.functions} >= {"gradients", "train", "forward"}
    gradients = next(f for f in pair.functions if f[0] == "gradients")
    assert "residual = prediction - t" in gradients[1] and "diff = y - t" in gradients[2]


def test_renaming_and_reordering_alone_leave_the_features_unchanged():
    bob = similarity.functions(written(BOB))
    carol = similarity.functions(written(COPY))
    for name in ("sigmoid_prime", "forward", "gradients", "train"):
        assert bob[name].features == carol[name].features, name
    assert bob["sigmoid"].features != similarity.functions(written(ALICE))["sigmoid"].features


def test_a_shared_common_mistake_is_not_enough():
    """Two students who make the same one-line mistake (the sign of O - t) are not a pair."""
    def flipped():
        nb = student_work(A, mistake=True)
        return nb
    pairs = similarity.similar_pairs({"s1": flipped(), "s2": flipped(),
                                      "s3": written(ALICE)}, expected())
    assert pairs == []


@pytest.mark.parametrize("a", sorted(zoo.ZOOS))
def test_the_zoo_gives_no_pair(a):
    bases = {"source": zoo.read(notebook("source", a)),
             "release": zoo.read(notebook("release", a))}
    class_ = {}
    for kind in zoo.ZOOS[a]:
        if kind.raw is not None:
            continue
        base = bases[kind.base]
        if kind.base_of:
            where, other = kind.base_of.split(":")
            base = zoo.read(notebook(where, other))
        class_[kind.name] = kind.build(base)
    pairs = similarity.similar_pairs(class_, expected(a))
    assert [(p.a, p.b, p.score, p.shared) for p in pairs] == []


def test_untouched_and_unparsable_notebooks_have_no_features():
    nb = written({"gradients": "def gradients(x, t, W, b):\n    return (\n"})
    assert "gradients" not in similarity.functions(nb)
    release = nbformat.read(notebook("release", A), as_version=4)
    assert similarity.similar_pairs({"u1": release, "u2": copy.deepcopy(release)},
                                    expected()) == []


def test_sources_keep_what_the_student_wrote():
    got = similarity.functions(written(COPY))["sigmoid"].source
    assert got == "def sigmoid(z):\n    return 0.5*(torch.tanh(0.5*z)+1)   # logistic"
    assert re.search("sigma'", similarity.functions(written(COPY))["gradients"].source)


def test_the_class_report_shows_the_pair_side_by_side_escaped(tmp_path):
    course = grading.new_course(tmp_path / "course", [A])
    grading.generate_release(course, A)
    hostile = dict(COPY, forward=COPY["forward"].replace(
        "# squash it", "# </pre><script>alert('x')</script>"))
    class_ = {"alice": written(ALICE), "bob": written(BOB), "carol": written(hostile)}
    with grading.gradebook(course) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's add_submission is noisy
        for student, nb in class_.items():
            gb.update_or_create_student(student)
            gb.add_submission(A, student)
            path = course / "autograded" / student / A / f"{A}.ipynb"
            path.parent.mkdir(parents=True)
            nbformat.write(nb, path)
    out = report.write(course, A)
    rows = list(csv.DictReader((out / "similarity.csv").open()))
    assert [(r["student_a"], r["student_b"]) for r in rows] == [("bob", "carol")]
    html = (out / "index.html").read_text()
    assert "<script>" not in html
    section = html[html.index("<h2>Similar submissions</h2>"):]
    assert "bob and carol" in section and "alice" not in section
    cells = [unescape(c) for c in re.findall(r"<pre>(.*?)</pre>", section, re.DOTALL)]
    gradients = [c for c in cells if c.startswith("def gradients")]
    assert "residual = prediction - t" in gradients[0] and "diff = y - t" in gradients[1]
    assert any("<script>alert('x')</script>" in c for c in cells)  # shown, as text
