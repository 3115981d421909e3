"""Where a build's steps run (``Target``), and what every step needs from it."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from armjit.cinderx.modes import JitMode, jit_mode
from armjit.cinderx.runners import Measurement
from armjit.config import Settings
from armjit.flows.pipeline import StepContext
from armjit.seams.hosts import Host
from armjit.seams.store import RunDir

__all__ = ["Target", "bench_runner", "claim_workdir", "pypi_spec", "resource", "upload_resources"]


@dataclass(frozen=True)
class Target:
    """Where one build's steps run: its settings, the host, the local run directory, and the run
    directory on the host (named after the run id: concurrent runs never share one)."""

    settings: Settings
    host: Host
    run: RunDir
    remote_run: str
    runner: str  # pyperf | pyperformance (see bench_runner)
    modes: tuple[str, ...]
    measurement: Measurement | None = None  # what the measurement flags mean with the runner

    @property
    def shape(self) -> Measurement:
        """The measurement: the given one, else the settings as the pyperf runner takes them."""
        s = self.settings
        return self.measurement or Measurement(self.runner, "", s.processes, s.values, s.warmups, s.loops)

    def mode(self, name: str, bench: str | None = None) -> JitMode:
        """JIT mode ``name`` with its logs and jitlist in this target's remote run dir; with
        ``bench``, that benchmark's processes log into their own directory (the JIT gate judges
        each benchmark from its own logs)."""
        s = self.settings
        remote = self.host.expand(self.remote_run)
        return jit_mode(
            name,
            log_dir=f"{remote}/jitlogs/{name}" + (f"/{bench}" if bench else ""),
            jitlist_path=f"{remote}/jitlist-{name}.txt",
            autojit=s.autojit,
            jitlist_filter=s.autojit_jitlist_filter,
            extra_jitlist=s.autojit_extra_jitlist,
            jitlist=s.jitlist,
        )


def bench_runner(settings: Settings) -> str:
    """The runner ``--bench-runner auto`` means: pyperf for a script or a plain interpreter."""
    if settings.bench_runner != "auto":
        return settings.bench_runner
    return "pyperf" if settings.bench_script or settings.build == "none" else "pyperformance"


def resource(name: str) -> Path:
    """A file armjit ships to the host (JIT hook, smoke test, test gate)."""
    return Path(str(resources.files("armjit.cinderx") / "resources" / name))


def upload_resources(target: Target, names: tuple[str, ...]) -> None:
    for name in names:
        target.host.put(resource(name), f"{target.remote_run}/{name}")


def claim_workdir(ctx: StepContext, s: Settings) -> str:
    """The shell that creates the work dir (venvs and wheels go below it even when nothing is
    deployed), as armjit's when it is new; with --adopt-workdir, takes it over (moving what it held aside)."""
    from armjit.seams import workdir

    if s.adopt_workdir:
        adopted = workdir.adopt(ctx.host, s.remote_workdir)
        for line in adopted.lines(ctx.host.name) if adopted else []:
            ctx.pipeline.progress.message(line)
    return workdir.create_shell(s.remote_workdir, workdir.owner_id(ctx.host, s.remote_workdir))


def pypi_spec(s: Settings) -> str | None:
    """The cinderx requirement ``--build pypi[...]`` installs; None for the other builds."""
    return s.build.replace("pypi", "cinderx", 1) if s.build.startswith("pypi") else None
