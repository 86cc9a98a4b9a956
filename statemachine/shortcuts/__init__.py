"""What a candidate may not do to look like a fix (TRUTH.md's rules), read from syntax trees.

All pure (trees in, reasons out), one family per module:

- **what judges** (``judges``): a test function, a fixture, a check a script runs on its own
  result, an ``assert`` anywhere, the test configuration. Rejected before it runs.
- **fitted constants** (``fitted``, with the values expected read by ``reproduction``): a new
  literal that is the failing check's expected value, or a constant tuned step by step towards
  it, unless the code already names that value. Rejected before it runs.
- **anti-patterns** (``antipatterns``, Tan et al., FSE 2016): deleting an exit or a control
  statement or the block it guards, inserting an early exit where the reproduction checks no
  value, a condition or loop made trivially true or false, a swallowed exception. These may
  run, but are never verified: at most shown as a workaround.
- **reaching into the judging process** (``judge_process``): frames, gc, ctypes, /proc/self,
  pytest's or the harness's objects. Not judged automatically.

Callers import the names below from here.
"""

from statemachine.shortcuts.antipatterns import workarounds
from statemachine.shortcuts.fitted import fitted_literals
from statemachine.shortcuts.judge_process import introspection
from statemachine.shortcuts.judges import is_test_configuration, judging_edits
from statemachine.shortcuts.reproduction import checks_values, expected_values, judged_text
from statemachine.shortcuts.syntax import dotted

__all__ = ["checks_values", "dotted", "expected_values", "fitted_literals", "introspection", "is_test_configuration",
           "judged_text", "judging_edits", "workarounds"]
