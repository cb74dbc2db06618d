"""Compare a tensor with the expected one, and say how it differs.

* ``max_abs_diff(a, b)`` and ``close(a, b)``: float64 comparisons in plain Python floats.
* ``cmp(name, mine, expected)`` prints one line: exact / approx / max diff (backprop ninja).
* ``verdict(name, mine, expected, mistakes, where)`` returns None when ``mine`` is right,
  else one sentence: the shapes or the largest difference, and the mistakes it matches
  when it equals one of ``mistakes`` (pairs of (description, wrong answer)); when it
  matches none, what was observed (``observe``: a constant factor, the rows or columns
  that differ).
* ``Why(id, text)``: a mistake's description with its stable id (``mistakes.py``).
* ``hint(guesses, observed)`` builds the "Most likely: ..." sentence and notes the ids it
  names (``judge.diagnose`` reads them back, to keep only the names that explain every
  case).

Nothing here can give the right answer away: every function takes autograd's answer as
an argument and says only how the student's answer differs from it (a factor, which rows,
which entries), never returns it.
"""
import math

import torch

ATOL = 1e-10  # float64: hand-written and autograd agree to ~1e-15
RTOL = 1e-7


def _floats(x):
    """Flatten a tensor (or number) to a list of Python floats."""
    if isinstance(x, torch.Tensor):
        x = x.detach().double().reshape(-1).tolist()
    return [float(v) for v in (x if isinstance(x, list) else [x])]


def shape(x):
    """The shape of a tensor as a tuple, or the name of x's type."""
    return tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__


def max_abs_diff(a, b):
    """Largest |a - b| over all elements (inf if either has NaN)."""
    pairs = list(zip(_floats(a), _floats(b)))
    if any(math.isnan(u) or math.isnan(v) for u, v in pairs):
        return math.inf
    return max((abs(u - v) for u, v in pairs), default=0.0)


def close(a, b, atol=ATOL, rtol=RTOL):
    """True if a and b are tensors of one shape and |a - b| <= atol + rtol * |b| everywhere."""
    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)) or a.shape != b.shape:
        return False
    return all(abs(u - v) <= atol + rtol * abs(v) for u, v in zip(_floats(a), _floats(b)))


def cmp(name, mine, expected):
    """Print whether `mine` equals `expected` exactly, approximately, and by how much."""
    same = tuple(mine.shape) == tuple(expected.shape)
    exact = same and torch.equal(mine, expected)
    diff = max_abs_diff(mine, expected) if same else math.inf
    approx = close(mine, expected)
    print(f"{name:<10} | exact: {exact!s:<5} | approx: {approx!s:<5} | max diff: {diff:.1e}")
    return approx


class Why(str):
    """A mistake's description (a str) with its stable id: `Why("sign", "the sign is
    flipped")`. The id is what the class report counts; the text is what the student reads."""

    def __new__(cls, id, text):
        self = super().__new__(cls, text)
        self.id = id
        return self


def mistake_id(why):
    """The stable id of a description: its `Why` id, else a slug of its first 12 words."""
    found = getattr(why, "id", None)
    if found:
        return found
    words = "".join(c if c.isalnum() else " " for c in str(why).lower()).split()
    return "-".join(words[:12]) or "unnamed"


# the hints given since judge.diagnose last cleared it: [{"hint", "ids", "texts", "seen"}]
NAMED = []


def hint(guesses=(), observed=("", ""), against=()):
    """' Most likely: A.' (or ' Most likely one of these: A; or B.' when several mistakes
    give this very answer), else the observation `observed` = (id, sentence); noted in
    NAMED with `against`: the ids of the mistakes that were tried and do not give this
    answer. '' when there is nothing to say."""
    first = {}  # one text per id: the first description of each mistake
    for g in guesses:
        first.setdefault(mistake_id(g), str(g))
    ids, texts = list(first), list(first.values())
    seen_id, seen = observed
    if len(texts) == 1:
        text = f" Most likely: {texts[0]}."
    elif texts:
        text = " Most likely one of these (they give the same answer here): " + \
            "; or ".join(texts) + "."
    else:
        text = f" {seen}" if seen else ""
    NAMED.append({"hint": text, "ids": ids, "texts": texts, "seen": [seen_id, seen],
                  "against": sorted(set(against) - set(ids))})
    del NAMED[:-1000]  # called outside a check (a lecture's expect), it stays small
    return text


def note_against(ids):
    """Note mistakes that were tried on an answer and do not give it (see `hint`)."""
    if ids:
        NAMED.append({"hint": "", "ids": [], "texts": [], "seen": ["", ""],
                      "against": sorted(set(ids))})


def _fmt(c):
    return f"{c:.4g}" if abs(c) >= 1e-3 else f"{c:.3e}"


def _factor(mine, expected, atol, rtol):
    """c if mine == c * expected everywhere (c not 0 or 1), else None."""
    m, e = _floats(mine), _floats(expected)
    big = max(range(len(e)), key=lambda i: abs(e[i]), default=None)
    if big is None or abs(e[big]) <= atol:
        return None
    c = m[big] / e[big]
    if not math.isfinite(c) or abs(c - 1) < 1e-9 or abs(c) < 1e-12:
        return None
    ok = all(abs(u - c * v) <= atol + rtol * abs(c * v) for u, v in zip(m, e))
    return c if ok else None


def observe(mine, expected, atol=ATOL, rtol=RTOL):
    """(id, sentence) saying how `mine` differs from `expected` of the same shape, without
    giving `expected` away: a constant factor everywhere, or per row / per column, or which
    rows or columns differ; ("", "") when none of these describes it."""
    if not (isinstance(mine, torch.Tensor) and isinstance(expected, torch.Tensor)) \
            or mine.shape != expected.shape or mine.numel() < 2:
        return "", ""
    c = _factor(mine, expected, atol, rtol)
    if c is not None:
        return "factor", (f"Your answer is {_fmt(c)} \u00d7 autograd's everywhere: look for a "
                          "dropped or extra constant factor (\u00bd, 1/B, 1/K, 1/(B*K), \u22121).")
    if mine.dim() != 2 or min(mine.shape) < 2:
        return "", ""
    for axis, what in ((0, "row"), (1, "column")):
        parts = list(zip(mine.unbind(axis), expected.unbind(axis)))
        bad = [i for i, (u, v) in enumerate(parts) if not close(u, v, atol, rtol)]
        if 0 < len(bad) < len(parts):
            right = [i for i in range(len(parts)) if i not in bad]
            return f"some-{what}s", (f"Only {what}s {bad} differ from autograd's; {what}s "
                                     f"{right} are right.")
    for axis, what in ((0, "row"), (1, "column")):
        factors = [_factor(u, v, atol, rtol) for u, v in
                   zip(mine.unbind(axis), expected.unbind(axis))]
        if all(f is not None for f in factors):
            return f"{what}-factors", (
                f"Each {what} is a constant multiple of autograd's {what} (factors "
                f"{', '.join(_fmt(f) for f in factors)}): a factor that depends on the {what}.")
    return "", ""


def verdict(name, mine, expected, mistakes=(), where="", atol=ATOL, rtol=RTOL):
    """None if `mine` is close to `expected`, else a sentence saying what is wrong: every
    mistake of `mistakes` it matches, else what was observed (``observe``). Never holds
    `expected` itself."""
    at = f" ({where})" if where else ""
    if not isinstance(mine, torch.Tensor):
        return (f"{name}{at}: expected a torch.Tensor of shape {shape(expected)}, "
                f"got {type(mine).__name__}.")
    guesses, against = [], []
    for why, wrong in mistakes:
        (guesses if close(mine, wrong, atol, rtol) else against).append(why)
    against = sorted({mistake_id(w) for w in against} - {mistake_id(g) for g in guesses})
    if close(mine, expected, atol, rtol):
        if against:  # right here: no mistake that gives another answer explains the part
            NAMED.append({"hint": "", "ids": [], "texts": [], "seen": ["", ""],
                          "against": against})
        return None
    hint_ = hint(guesses, observe(mine, expected, atol, rtol), against)
    if mine.shape != expected.shape:
        return f"{name}{at}: shape {shape(mine)}, expected {shape(expected)}.{hint_}"
    # the mistake first, what to do; then the tolerance, for whoever wants the detail
    return (f"{name}{at}: wrong values, max abs diff {max_abs_diff(mine, expected):.3g}."
            f"{hint_} (Tolerance {atol:g} + {rtol:g}*|expected|.)")


def first_wrong(verdicts):
    """The verdict on an answer of several entries, from [(name, its verdict or None)]: the
    first wrong entry's sentence, then which entries are right and which are wrong too
    (None when every entry is right)."""
    wrong = [(name, v) for name, v in verdicts if v]
    if not wrong:
        return None
    right = [name for name, v in verdicts if not v]
    also = [name for name, _ in wrong[1:]]
    said = []
    if right:
        said.append(f"{' and '.join(right)} {'is' if len(right) == 1 else 'are'} right")
    if also:
        said.append(f"{' and '.join(also)} {'is' if len(also) == 1 else 'are'} wrong too")
    return wrong[0][1] + (f" ({'; '.join(said)}.)" if said else "")


def expect(name, mine, expected, mistakes=(), where="", atol=ATOL, rtol=RTOL):
    """Raise an AssertionError with `verdict`'s sentence unless `mine` is right (lectures)."""
    message = verdict(name, mine, expected, mistakes, where, atol, rtol)
    if message:
        raise AssertionError(message)
