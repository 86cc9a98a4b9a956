"""Operator priors, from how often each operator writes the real fix in public fix histories.

A candidate's rank in the search is ``suspiciousness x prior``; the prior is how likely one
candidate of this operator is the fix, given that its line is the faulty one. It is measured,
not set by hand: ``benchmarks/priors/mine.py`` replays every operator at the changed lines of
6,913 small bug fixes mined from 26 public Python projects (the single-statement selection of
ManySStuBs4J and TSSB-3M) and counts, per operator, the candidates it proposed there and how many
of them were the maintainers' fix. The table below is that script's output (``--write``).

From counts to priors:

- **rate** = hits per candidate, smoothed by one pseudo-fix at the pooled rate of all operators
  (``(hits + 1) / (candidates + 1 / pooled)``): an operator seen rarely, or never (it was added
  for a shape mature projects seldom have), sits near the pool, not at zero; one seen often keeps
  its own rate. Per candidate, so an operator that proposes many candidates per line (a wrong
  name has as many alternatives as there are names in scope) pays for each.
- **prior** = the log of the rate mapped linearly onto ``[FLOOR, CEILING]``. The rates span two
  and a half orders of magnitude, and suspiciousness (a ranking, not a probability) spans far
  less; the map keeps the operators' order and relative spacing from the data within the span
  the search has always used (0.2-0.9): templates stay above every mutation and a strongly
  suspected line still beats a weakly suspected one with a likelier operator.

Cross-check with TSSB-3M's pattern counts (3M Python single-statement fixes): the most common
fix there, "change identifier used", is also the operator with the most hits here
(``variable.wrong``), yet per candidate it is one of the least likely because it proposes the
most; comparison and boolean-operator edits hit often for how few candidates they make.

What the data does not settle, and the code keeps as operator logic: the order *within* an
operator (nearest names first, an `if` guard's common shapes first).
"""

from __future__ import annotations

import math

FLOOR, CEILING = 0.2, 0.9

# Every rule the offline engine's operators propose (brain/offline/mutate.py, slips.py, shapes.py,
# regex_ops.py), with what it does.
RULES: dict[str, str] = {
    "compare.boundary": "< vs <=, > vs >=",
    "compare.flip": "< vs >, == vs !=, in vs not in, is vs is not",
    "bound.plus-minus-one": "an index, slice end or range bound off by one",
    "bound.drop-one": "x + 1 -> x",
    "return.missing": "a function that never returns its result",
    "return.expression": "a value computed and dropped: return it",
    "arith.swap": "+ vs -, * vs /, // vs /, ...",
    "arith.swap-operands": "a - b -> b - a",
    "boolop.swap": "and vs or",
    "boolop.drop": "one operand of and/or should not be there",
    "condition.negate": "a condition the wrong way round",
    "condition.drop": "an if whose body should always run",
    "constant.near": "k -> k +/- 1",
    "constant.other": "another literal of the kind",
    "constant.to-name": "a literal where a variable of the same kind belongs",
    "constant.decimal": "a digit too few or too many",
    "constant.expected": "a returned label the failing assert shows wrong",
    "variable.wrong": "another name of the same kind in scope",
    "attribute.wrong": "another attribute of self",
    "call.swap-args": "two arguments swapped",
    "call.swap-function": "min vs max, any vs all, floor vs ceil, ...",
    "call.pop-end": "pop(0) vs pop(): a queue used as a stack, or the reverse",
    "call.wrap": "a conversion or len() around a value",
    "call.recurse": "recursion into a nested item",
    "call.sort-order": "reverse=True, one part of a sort key negated",
    "call.reversed-slice": "s == reversed(s) -> s[::-1]",
    "value.plus-minus-one": "an operand one too small or too large",
    "value.negate": "a value of the wrong sign",
    "guard.base-case": "a missing base or empty case",
    "loop.iterate": "a loop over one item too many or in the wrong order",
    "loop.condition": "while True around a loop that empties a collection",
    "loop.if-while": "if vs while",
    "range.one-based": "range from 1",
    "range.step": "range with a step",
    "subscript.swap": "a double index swapped",
    "subscript.drop": "the whole sequence, not one item",
    "subscript.add": "one item, not the whole sequence",
    "statement.delete": "a statement that should not be there",
    "statement.copy": "a statement of the function missing here",
    "statement.sibling": "the parallel statement for a loop's other name",
    "statement.from-method": "a step another method does",
    "slip.no-effect": "a statement that drops its value",
    "slip.call": "a method named but not called",
    "slip.accumulate": "x + y that should be x += y",
    "slip.conversion": "a value of the wrong type",
    "regex.class-add": "a character missing from a class",
    "regex.class-remove": "a character too many in a class",
    "regex.class-negate": "a class the wrong way round",
    "regex.quantifier": "* vs +, ? and friends",
    "regex.escape": "a metacharacter meant literally",
    "regex.anchor": "a missing or extra ^ or $",
    "regex.lazy": "a greedy quantifier that should be lazy",
    "regex.greedy": "a lazy quantifier that should be greedy",
    "regex.alternation": "an alternative missing or in the wrong order",
}

# -- mined counts (benchmarks/priors/mine.py --write) --
SITES = 6913  # fixes replayed
# rule: (sites where it proposed, candidates, hits)
MINED: dict[str, tuple[int, int, int]] = {
    "variable.wrong": (3905, 64389, 54),
    "statement.delete": (2431, 2712, 49),
    "constant.near": (811, 10594, 26),
    "attribute.wrong": (931, 5690, 26),
    "constant.other": (1649, 21568, 24),
    "boolop.drop": (625, 1699, 21),
    "arith.swap": (846, 3559, 17),
    "compare.boundary": (194, 285, 13),
    "compare.flip": (1067, 1688, 11),
    "condition.drop": (1029, 1035, 11),
    "statement.copy": (5141, 54716, 9),
    "bound.plus-minus-one": (764, 2226, 8),
    "call.swap-args": (1777, 8929, 7),
    "condition.negate": (1698, 1758, 7),
    "slip.conversion": (241, 294, 6),
    "bound.drop-one": (73, 100, 6),
    "return.expression": (71, 71, 5),
    "arith.swap-operands": (413, 906, 3),
    "boolop.swap": (447, 507, 3),
    "call.swap-function": (436, 498, 3),
    "statement.from-method": (1118, 22156, 2),
    "return.missing": (2685, 10589, 2),
    "call.pop-end": (10, 11, 2),
    "guard.base-case": (4881, 41971, 1),
    "value.plus-minus-one": (951, 4002, 1),
    "constant.decimal": (142, 1793, 1),
    "regex.quantifier": (97, 505, 1),
    "regex.anchor": (91, 332, 1),
    "regex.lazy": (79, 175, 1),
    "loop.if-while": (1053, 1061, 0),
    "regex.class-add": (44, 685, 0),
    "constant.to-name": (82, 555, 0),
    "loop.iterate": (173, 537, 0),
    "call.wrap": (174, 332, 0),
    "regex.class-remove": (57, 279, 0),
    "regex.escape": (66, 233, 0),
    "slip.accumulate": (143, 146, 0),
    "regex.alternation": (24, 138, 0),
    "subscript.drop": (74, 93, 0),
    "slip.call": (29, 60, 0),
    "statement.sibling": (54, 58, 0),
    "subscript.swap": (42, 56, 0),
    "regex.greedy": (18, 32, 0),
    "call.sort-order": (28, 29, 0),
    "range.one-based": (23, 25, 0),
    "regex.class-negate": (13, 20, 0),
    "range.step": (10, 19, 0),
    "value.negate": (5, 6, 0),
    "call.recurse": (5, 5, 0),
    "subscript.add": (1, 1, 0),
}
# -- end of mined counts --


def _rates() -> dict[str, float]:
    hits = sum(h for _, _, h in MINED.values())
    candidates = sum(c for _, c, _ in MINED.values())
    pooled = hits / candidates
    seen = {rule: MINED.get(rule, (0, 0, 0)) for rule in RULES}
    return {rule: (hits + 1) / (candidates + 1 / pooled) for rule, (_, candidates, hits) in seen.items()}


def _priors() -> dict[str, float]:
    rates = _rates()
    low, high = math.log(min(rates.values())), math.log(max(rates.values()))
    return {rule: round(FLOOR + (CEILING - FLOOR) * (math.log(rate) - low) / (high - low), 3)
            for rule, rate in rates.items()}


PRIORS: dict[str, float] = _priors()
