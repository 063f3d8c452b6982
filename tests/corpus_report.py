"""The bad-input corpus's outcomes, collected by tests/core/inputs/test_bad_inputs.py and printed at the end of every pytest
run (tests/conftest.py calls `write` from its terminal-summary hook), so `pytest -q` shows the count and outcomes."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    case: str
    level: str  # "core" (core/inputs/images.py, core/inputs/text_limits.py) or "app" (AppTest through the real sidebar)
    outcome: str  # "error message", "note", "ok"
    says: str  # the first words of what the user was told


RESULTS: list[Outcome] = []


def record(case: str, level: str, outcome: str, says: str = "") -> None:
    RESULTS.append(Outcome(case, level, outcome, " ".join(says.split())[:70]))


def write(terminal) -> None:
    if not RESULTS:
        return
    cases = sorted({r.case for r in RESULTS})
    terminal.write_sep("=", f"bad-input corpus: {len(cases)} cases, {len(RESULTS)} checks, no traceback")
    by_outcome: dict[str, int] = {}
    for r in RESULTS:
        by_outcome[f"{r.level}: {r.outcome}"] = by_outcome.get(f"{r.level}: {r.outcome}", 0) + 1
    terminal.write_line("  " + "; ".join(f"{k} x{v}" for k, v in sorted(by_outcome.items())))
    for r in RESULTS:
        terminal.write_line(f"  {r.level:<4} {r.case:<34} {r.outcome:<13} {r.says}")
