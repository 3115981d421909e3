"""What the measurement flags mean with each benchmark runner (pure).

The pyperf runner passes ``--processes``, ``--values``, ``--warmups`` and ``--loops`` to the
benchmark as they are. ``pyperformance run`` has no such options: it offers four presets that it
hands to pyperf (``--fast``, the default, ``--rigorous``, ``--debug-single-value``), each a fixed
number of processes and values on pyperf's defaults (20 processes, 3 values), and only
``--warmups`` passes through. So with pyperformance a flag the user set must match a preset, or
the task refuses in one line; none set, the preset is ``--fast`` (the old workflow's choice),
and the run records what that means instead of the ignored defaults.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass

from armjit.errors import UsageError

__all__ = ["PYPERFORMANCE_PRESETS", "Measurement", "measurement"]


@dataclass(frozen=True)
class Measurement:
    """How a mode is measured: the runner's option(s) and the processes, values and loops they mean."""

    runner: str
    option: str  # the pyperformance preset ("" for its default); "" for pyperf
    processes: int
    values: int
    warmups: int
    loops: int  # 0 = calibrated

    def to_json(self) -> dict[str, object]:
        return {
            "runner": self.runner,
            "option": self.option,
            "processes": self.processes,
            "values": self.values,
            "warmups": self.warmups,
            "loops": self.loops or "calibrated",
        }


# pyperf.Runner's defaults are 20 processes x 3 values; pyperformance's presets (pyperf/_runner.py):
# --fast max(20 // 2, 3) x max(3 * 2 // 3, 2), --rigorous 20 * 2 x 3, --debug-single-value 1 x 1, loops 1.
PYPERFORMANCE_PRESETS = (
    ("--fast", 10, 2, 0),
    ("", 20, 3, 0),
    ("--rigorous", 40, 3, 0),
    ("--debug-single-value", 1, 1, 1),
)
_SHAPE = ("processes", "values", "loops")


def measurement(
    runner: str, *, processes: int, values: int, warmups: int, loops: int, explicit: Set[str]
) -> Measurement:
    """What ``runner`` will do with these flags; a one-line UsageError when it cannot honour the
    ones the user set (``explicit``: the settings given anywhere but the defaults)."""
    if runner != "pyperformance":
        return Measurement(runner, "", processes, values, warmups, loops)
    given = {"processes": processes, "values": values, "loops": loops}
    asked = {name: given[name] for name in _SHAPE if name in explicit}
    for option, p, v, n in PYPERFORMANCE_PRESETS:
        preset = {"processes": p, "values": v, "loops": n}
        if all(preset[name] == value or (name == "loops" and value == 0 and n == 0) for name, value in asked.items()):
            return Measurement(runner, option, p, v, warmups, n)
    flags = " ".join(f"--{name} {value}" for name, value in asked.items())
    offers = ", ".join(f"{o or 'its default'} ({p} processes x {v} values)" for o, p, v, _ in PYPERFORMANCE_PRESETS)
    raise UsageError(
        f"{flags} with the pyperformance runner: pyperformance run offers only {offers}; "
        "match one of those or pass --bench-runner pyperf"
    )
