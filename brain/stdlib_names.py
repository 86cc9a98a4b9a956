"""Standard-library names that code uses without importing them, and the modules never to import
for it. Shared by the offline engine (a NameError's missing import) and the reading of reports
(a reporter's snippet whose session had the import)."""

from __future__ import annotations

import sys

# names commonly used without their import
FROM_IMPORTS = {
    "Counter": "collections", "defaultdict": "collections", "OrderedDict": "collections",
    "namedtuple": "collections", "deque": "collections", "dataclass": "dataclasses",
    "field": "dataclasses", "Path": "pathlib", "datetime": "datetime", "date": "datetime",
    "timedelta": "datetime", "partial": "functools", "reduce": "functools", "lru_cache": "functools",
    "wraps": "functools", "chain": "itertools", "Optional": "typing", "Any": "typing",
    "Iterable": "typing", "Callable": "typing", "Decimal": "decimal", "Fraction": "fractions",
    "pprint": "pprint", "dedent": "textwrap", "sleep": "time", "randint": "random", "choice": "random",
    "sqrt": "math", "ceil": "math", "floor": "math", "pi": "math", "inf": "math", "isclose": "math",
    "heappush": "heapq", "heappop": "heapq", "bisect_left": "bisect", "bisect_right": "bisect",
    "dumps": "json", "loads": "json",
}
UNSAFE_STDLIB = {"antigravity", "this", "idlelib", "turtle", "turtledemo", "tkinter", "__hello__", "__phello__"}


def safe_module(name: str) -> bool:
    """A standard-library module that may be imported on a fix's or a report's behalf."""
    return name in sys.stdlib_module_names and name not in UNSAFE_STDLIB and not name.startswith("_")
