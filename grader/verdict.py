"""The judge: verdicts on a notebook's graded functions, made outside the student's process.

While grading, the notebook runs whole in a sandboxed kernel for the student's feedback,
but nothing it does there counts: its test cells do nothing. The answers that count come
from a second, fresh sandboxed kernel (the *judging kernel*) that runs only the course's
locked cells and the student's definitions (``rules.definitions``: nothing else of the
notebook, so no patch, hook or rebinding at its top level can reach a verdict), then calls
each graded function on its cases, visible and hidden, and records the answers as plain
data (``judging_notebook``, ``records``). The hidden cases exist only in that kernel; its
other outputs are dropped. Here, outside any kernel, the grader recomputes autograd's
answers with the assignment's own ``check.py`` and its grader-only ``referee.py`` (the
hidden cases, and judges that would give an answer away if shipped), names the mistake,
and writes the verdict into the test cell (a wrong part gets an error output, so nbgrader
scores the cell 0).

Whether a graded function keeps the by-hand rule is read from the notebook's source
(``rules.forbidden``), so nothing the student's code patches can change a verdict.
"""
import ast
import hashlib
import importlib
import json
import secrets
import sys
from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from nbformat.v4 import new_code_cell, new_notebook, new_output
from traitlets import Bool, List, Unicode

from grader import rules

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


def case_texts(hidden):
    """The textual forms of the hidden cases ({part: [cases]}): the whole set, each part's
    list and each case, as JSON and as Python prints them. The feedback drops every line
    that holds one (a last guard: no kernel that runs the notebook has them)."""
    texts = {json.dumps(hidden), repr(hidden)}
    for cases in hidden.values():
        texts |= {json.dumps(cases), repr(cases)}
        texts |= {f(case) for case in cases for f in (json.dumps, repr)}
    return {t for t in texts if len(t) >= 16}


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


def _tests(nb):
    """The test cells of a notebook that call the course's checks."""
    return [c for c in nb.cells if c.cell_type == "code"
            and c.metadata.get("nbgrader", {}).get("grade") and test_calls(c.source)]


def judging_notebook(nb, hidden, token, helpers=frozenset()):
    """(notebook, left_out) that the judging kernel runs for the submission `nb`: the
    course's locked cells and the student's definitions (each student cell with every other
    statement blanked), in the notebook's order, then one cell per check of every test cell
    that records the answers of the student's function on its cases (`hidden`: {part:
    cases}) with `token`. `left_out`: [(cell number, line, names, why, text)]."""
    cells, left_out, number = [], [], 0
    shadowed = frozenset(rules.student_code(nb))
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        number += 1
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            continue
        if meta.get("locked"):
            cells.append(new_code_cell(cell.source))
            continue
        code, dropped = rules.definitions(cell.source, frozenset(helpers), shadowed)
        left_out += [(number, *d) for d in dropped]
        if code.strip():
            cells.append(new_code_cell(code))
    for test in _tests(nb):
        for name, fn_name, is_hidden in test_calls(test.source):
            cases = json.dumps(hidden.get(name, [])) if is_hidden else "null"
            call = new_code_cell(
                "import check as _bp_check\nimport judge as _bp_judge\n\n"
                f"_bp_judge.record(_bp_check.{name}.part, {fn_name!r}, globals().get({fn_name!r}), "
                f"{is_hidden!r}, {cases!r}, {token!r})\n")
            call.metadata["backprop"] = {"part": name, "fn": fn_name, "hidden": is_hidden}
            cells.append(call)
    return new_notebook(cells=cells, metadata=nb.metadata), left_out


def records(ran, record_type, token):
    """{(part, hidden): {"answers": {case: record}, "stopped": why or None}} read from the
    executed judging notebook `ran`: only the one record with `token` of each call cell
    counts; a call cell without it stopped (its error says why)."""
    found = {}
    for cell in ran.cells:
        key = cell.metadata.get("backprop")
        if not key:
            continue
        mine, stopped = [], None
        for out in cell.get("outputs", []):
            data = out.get("data", {}) if out.get("output_type") == "display_data" else {}
            rec = data.get(record_type)
            if isinstance(rec, dict) and rec.get("token") == token:
                mine.append(rec)
            elif out.get("output_type") == "error":
                stopped = f"{out.get('ename')}: {out.get('evalue')}"[:500]
        answers = {}
        if len(mine) == 1 and isinstance(mine[0].get("answers"), dict):
            answers = {int(k): v for k, v in mine[0]["answers"].items()
                       if str(k).isdigit() and isinstance(v, dict)}
        elif len(mine) > 1:
            stopped = "the answers were recorded twice"
        found[(key["part"], key["hidden"])] = {"answers": answers, "stopped": stopped}
    return found


def _stopped(why, fn_name):
    """One sentence on why a call cell of the judging kernel recorded nothing."""
    why = why or ""
    if why.startswith("CellTimeoutError") or "(CellTimeoutError)" in why:
        return (f"{fn_name} ran out of time (CellTimeoutError): a cell may run only so long "
                "while grading; look for a loop that never ends.")
    if why.startswith(("KernelDied", "DeadKernelError")):
        return (f"{fn_name} stopped the Python kernel ({why.split(':')[0].split(' (')[0]}): it "
                "crashed, exited or ran out of memory.")
    return f"{fn_name} stopped the Python kernel, ran out of time or memory ({why})."


def _left_out_note(message, fn_name, left_out):
    """The sentence that says which left-out statement a failing answer needed, if any."""
    for number, line, names, why, text in left_out:
        missing = "not defined" in message or "has no attribute" in message
        if missing and (fn_name in names or any(f"'{n}'" in message for n in names)):
            return (f" When graded, only the notebook's definitions run (def, class, import, "
                    f"NAME = a plain value): line {line} of code cell {number}, `{text[:80]}`, "
                    f"was left out ({why}). Define what your function needs with def, or "
                    "inside the function.")
    return ""


def judge_cell(cell, nb, modules, helpers, failed, found, left_out=(), graded=frozenset()):
    """Put the verdicts of one test cell into it (its own outputs are dropped: nothing the
    notebook did while it ran counts); adds failed parts to `failed`. `found` is what
    `records` read from the judging kernel."""
    check, referee, judge = modules
    messages, lines, named = [], [], {}
    for name, fn_name, hidden in test_calls(cell.source):
        entry = getattr(check, name, None)
        part = getattr(entry, "part", None)
        if part is None:
            messages.append(f"the test calls check.{name}, which the course does not have.")
            continue
        if referee is not None and name in getattr(referee, "JUDGES", {}):
            part = judge.Part(**{**vars(part), "judge": referee.JUDGES[name]})
        cases = getattr(referee, "HIDDEN", {}).get(name, []) if hidden else part.cases
        words, names = judge.rule_words(part)
        used = rules.forbidden(nb, fn_name, helpers, words, graded - {fn_name},
                               getattr(part, "methods", None), names)
        got = found.get((name, hidden), {"answers": {}, "stopped": "it was not run"})
        ids = []
        if used:
            message = rules.message(fn_name, used, words, part.by_hand,
                                    getattr(part, "what", "autograd"),
                                    getattr(part, "why", "this part must compute the gradient "
                                                         "by hand"))
            ids = ["rule-autograd" if rules.uses_autograd(used, words, part.by_hand)
                   else "rule-forbidden"]
        elif set(part.must_use) - rules.attributes(nb, fn_name, graded - {fn_name}):
            message = (f"{fn_name} must use {', '.join('.' + m + '()' for m in part.must_use)} "
                       "itself (read from the notebook), so it scores 0.")
            ids = ["must-use"]
        elif not got["answers"]:
            message = f"{name}: no answer was recorded while grading: " \
                + _stopped(got["stopped"], fn_name)
            ids = ["no-answer"]
        else:
            message, ids = judge.diagnose(part, cases, got["answers"], fn_name, failed)
            if message:
                message += _left_out_note(message, fn_name, left_out)
        if message:
            failed.add(name)
            messages.append(message)
            named[name] = list(ids)
        else:
            lines.append(judge.done_line(part, hidden))
    # the ids of what each failing part's verdict names (report.py counts them)
    cell.metadata.setdefault("backprop", {})["mistakes"] = named
    if messages:
        text = "\n".join(messages)
        cell.outputs = [new_output("error", ename="Failed", evalue=text,
                                   traceback=[f"Failed: {m}" for m in messages])]
    else:
        cell.outputs = [new_output("stream", name="stdout", text="\n".join(lines) + "\n")] \
            if lines else []


class Verdicts(Preprocessor):
    """Judges every test cell of a notebook with the assignment in `folder`, from the records
    the judging kernel left in `resources["backprop"]` (see `SandboxExecute` in worker.py);
    `helpers` are the names of the modules shipped with the assignment."""

    enabled = Bool(True).tag(config=True)
    folder = Unicode(help="the assignment's folder (check.py, referee.py)").tag(config=True)
    helpers = List(Unicode(), help="module names graded code may not call").tag(config=True)

    def preprocess(self, nb, resources):
        modules, failed = load(self.folder), set()
        run = resources.get("backprop") or {}
        found, left_out = run.get("records", {}), run.get("left_out", [])
        tests = _tests(nb)
        graded = {fn for c in tests for _, fn, _ in test_calls(c.source)}
        for cell in tests:
            judge_cell(cell, nb, modules, set(self.helpers), failed, found, left_out, graded)
        record_type = modules[2].RECORD
        for cell in nb.cells:  # whatever looks like a record elsewhere is the student's own
            if cell.cell_type == "code" and cell not in tests:
                cell.outputs = [o for o in cell.get("outputs", [])
                                if record_type not in o.get("data", {})]
        return nb, resources


def new_token():
    """The token of one judging run: records without it are not the course's."""
    return secrets.token_hex(16)


def environment(folder):
    """What the sandbox sets for a kernel while grading: grading mode (no hidden case)."""
    return {"BACKPROP_GRADING": "1"}
