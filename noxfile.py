"""nox sessions: an environment plus one command each. All logic lives in armjit/."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint"]
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_venv = "yes"


@nox.session
def tests(session: nox.Session) -> None:
    """armjit's own suite: real git repos, a real sshd on 127.0.0.1, real pyperf (no e2e tier)."""
    session.install("-e", ".[test,plot]", "pip")  # tests build wheels with `python -m pip`
    session.run("pytest", "-m", "not e2e and not faults", *session.posargs)


@nox.session(default=False)
def e2e(session: nox.Session) -> None:
    """End to end against a real CinderX host (Debian sid chroot + sshd on 127.0.0.1; needs root)."""
    session.install("-e", ".[test]", "pip")
    session.run("pytest", "-m", "e2e and not faults", "tests/e2e", *session.posargs, env={"ARMJIT_E2E": "1"})


@nox.session(default=False)
def faults(session: nox.Session) -> None:
    """The fault tier: dropped, stalled and re-keyed connections, killed armjit, two runs at once."""
    session.install("-e", ".[test,plot]", "pip")
    session.run("pytest", "-m", "faults", "tests/faults", "tests/e2e", *session.posargs, env={"ARMJIT_E2E": "1"})


@nox.session
def lint(session: nox.Session) -> None:
    """ruff and mypy over armjit (clean)."""
    session.install("-e", ".[lint,test]")
    session.run("ruff", "check", "armjit", "tests", "bench", "noxfile.py", "tasks.py")
    session.run("mypy")


@nox.session(default=False)
def targeted(session: nox.Session) -> None:
    """The target repo's test file with pytest, locally: nox -s targeted -- -k NAME [--repo DIR]."""
    session.install("-e", ".", "pytest")
    session.run("python", "-m", "armjit.cinderx.targeted", *session.posargs)


@nox.session(default=False)
def remote_bench(session: nox.Session) -> None:
    """The benchmark part of the pipeline: nox -s remote_bench -- --host H --bench richards."""
    session.install("-e", ".")
    session.run("armjit", "baseline", "--bench-only", *session.posargs)


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """armjit's own benchmarks (sync, JIT log parser, verdict validation): print tables."""
    session.install("-e", ".[test]")
    for script in session.posargs or ["bench/sync_bench.py", "bench/jitlog_bench.py"]:
        session.run("python", script)
