"""Which runtime test file gates a build, and what to say when there is none (pure).

``--runtime-test`` names the file. Unset, the gate is CinderX's own quick check of an OSS build,
``test_oss_quick.py``, when the checkout has it, else the ARM team's ``test_arm_runtime.py``. A
checkout with neither is gated by nothing, and the run says so: ``gate: none`` in run.json, a
warning in the summary and in findings.md. A run that passes with nothing gated is not silent.
"""

from __future__ import annotations

__all__ = ["DEFAULT_GATE_FILES", "NO_GATE", "gate_candidates", "no_gate_warning"]

DEFAULT_GATE_FILES = (
    "cinderx/PythonLib/test_cinderx/test_oss_quick.py",
    "cinderx/PythonLib/test_cinderx/test_arm_runtime.py",
)
NO_GATE = "none"


def gate_candidates(runtime_test: str) -> tuple[str, ...]:
    """The files to try, in order: the one the user named, else the defaults."""
    return (runtime_test,) if runtime_test else DEFAULT_GATE_FILES


def no_gate_warning(runtime_test: str, why: str) -> str:
    """One line for a build that nothing gated (``why``: what was looked for and where)."""
    if runtime_test:
        return f"gate: none: --runtime-test {runtime_test}: {why}; the build was not tested"
    names = " or ".join(path.rsplit("/", 1)[-1] for path in DEFAULT_GATE_FILES)
    return f"gate: none: no {names} ({why}); the build was not tested: name a file with --runtime-test"
