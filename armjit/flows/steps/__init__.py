"""The steps of the remote CinderX flow, public so that every flow composes the same ones.

baseline, ab (and so verify) and red/green's ``--deploy`` build, install and measure through
these functions, imported from here (``from armjit.flows import steps``). Each takes a
``StepContext`` and explicit inputs (a ``Target``: where it runs; a ``BuildSource``: what is
shipped; what earlier steps made) and returns its result. A step never writes into the run
record: the flow that owns the record stores what the step returned (see ``Pipeline.result``).
Files a step fetches go into the run directory.

In the order of ``remote_update_build_test.sh`` v5 (cinderx-workflow.md §1.2): source (deploy,
host facts), build (wheel, driver venv, runtime tests, JIT smoke), bench (benchmark venv, startup
smoke, one JIT mode, the JIT gate).
"""

from __future__ import annotations

from armjit.flows.steps.bench import (
    BenchVenv,
    GateRun,
    ModeRun,
    bench_mode,
    bench_venv,
    jit_gate,
    planned_mode,
    startup_smoke,
)
from armjit.flows.steps.build import TestRun, Venv, Wheel, build_wheel, driver_venv, jit_smoke, runtime_tests
from armjit.flows.steps.pins import Pins, pin_run, repin_run
from armjit.flows.steps.source import Deployed, FoundHost, deploy, deployed, host_facts, upstream_sync
from armjit.flows.steps.target import Target, bench_runner, claim_workdir, pypi_spec, resource, upload_resources

__all__ = [
    "BenchVenv",
    "Deployed",
    "FoundHost",
    "GateRun",
    "ModeRun",
    "Pins",
    "Target",
    "TestRun",
    "Venv",
    "Wheel",
    "bench_mode",
    "bench_runner",
    "bench_venv",
    "build_wheel",
    "claim_workdir",
    "deploy",
    "deployed",
    "driver_venv",
    "host_facts",
    "jit_gate",
    "jit_smoke",
    "pin_run",
    "planned_mode",
    "pypi_spec",
    "repin_run",
    "resource",
    "runtime_tests",
    "startup_smoke",
    "upload_resources",
    "upstream_sync",
]
