"""Running a list of steps: timing, one log per step, the run record saved after every step.

A step is a function of a ``StepContext``; it runs commands through ``ctx.run`` (which logs and
reports progress) and raises ``StepFailed`` to stop the run. It returns its detail line, or a
result (anything with a ``detail``) that the flow stores in its record through ``keep``: a step
never writes into the record itself. Whatever happens, the run record says how far it got:
failed and interrupted steps are recorded before the error propagates, and ``Pipeline.finish``
gives the run its status from the step records and the error that ended it.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from armjit.errors import ArmjitError, GateFailed
from armjit.flows import disk
from armjit.render.progress import Progress
from armjit.seams import liveness
from armjit.seams.hosts import CommandResult, Host
from armjit.seams.hosts.detached import Follower
from armjit.seams.records import Failure, RunRecord, StepRecord
from armjit.seams.store import RunDir

__all__ = ["Pipeline", "StepContext", "StepFailed", "StepOutput", "StepRecord", "StepSkipped", "final_status"]


class StepFailed(Exception):
    """A step's gate said no. ``result`` is the command that failed, when there was one."""

    def __init__(self, message: str, result: CommandResult | None = None) -> None:
        super().__init__(message)
        self.result = result


class StepSkipped(Exception):
    """Raised by a step that does not apply (the reason goes into the record)."""


class StepOutput(Protocol):
    """A step's result: its detail line and, when the step failed after finding something worth
    keeping (a benchmark that crashed but left JIT logs), the failure to raise once it is kept."""

    @property
    def detail(self) -> str: ...

    @property
    def failure(self) -> StepFailed | None: ...


R = TypeVar("R", bound=StepOutput)


@dataclass
class StepContext:
    """What a running step can use: its host, and ``run`` to run commands logged to its step log."""

    name: str
    host: Host
    pipeline: Pipeline
    commands: list[str] = field(default_factory=list)
    last_exit: int | None = None
    detail: str = ""
    detached: int = 0  # detached commands so far: their keys are stable when a step runs again

    def run(
        self,
        command: str,
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: int | None = None,
        check: bool = True,
        what: str = "",
        detach: bool = False,
    ) -> CommandResult:
        """Run on the step's host, logging to the step log; ``check`` raises StepFailed on non-zero.
        ``detach``: a long command, run under the host's supervisor when the flow has one, so
        that it outlives the connection (and is re-joined, not run again, when the step runs again)."""
        log = self.pipeline.log_path(self.name)
        with log.open("a", encoding="utf-8") as handle:
            handle.write(f"$ {command}\n")
        self.commands.append(command)
        follower = self.pipeline.follower
        if detach and follower is not None:
            self.detached += 1
            result = follower.run(
                f"{self.name}-{self.detached}",
                command,
                label=f"step {self.name}",
                env=env,
                cwd=cwd,
                timeout=timeout or self.pipeline.step_timeout,
                on_line=self.pipeline.progress.line,
                log=log,
            )
        else:
            result = self.host.run(
                command,
                env=env,
                cwd=cwd,
                timeout=timeout or self.pipeline.step_timeout,
                on_line=self.pipeline.progress.line,
                log=log,
            )
        self.last_exit = result.exit_code
        with log.open("a", encoding="utf-8") as handle:
            handle.write(f"[exit {result.exit_code} after {result.seconds:.1f}s]\n")
        if check and not result.ok:
            label = what or self.name
            full = disk.no_space_path(result.stdout + "\n" + result.stderr, command=command, cwd=cwd)
            if full is None and not result.timed_out:
                full = disk.full_disk_path(self.host, command, cwd)
            if full is not None:
                raise StepFailed(f"{label}: no space left on device on {self.host.name}:{full}", result)
            if result.timed_out:
                raise StepFailed(
                    f"{label} timed out after {timeout or self.pipeline.step_timeout}s and was killed", result
                )
            raise StepFailed(f"{label} failed (exit {result.exit_code})", result)
        return result


class Pipeline:
    """Runs steps in order against one run directory. The flow that created ``record`` hands it
    over: the pipeline keeps its steps, owner and final status, the flow everything else."""

    def __init__(
        self,
        run: RunDir,
        record: RunRecord,
        progress: Progress,
        *,
        step_timeout: int,
    ) -> None:
        self.run_dir = run
        self.record = record
        self.progress = progress
        self.step_timeout = step_timeout
        self.records: list[StepRecord] = []
        # Set by a flow whose long commands run detached on the host (see armjit.seams.hosts.detached).
        self.follower: Follower | None = None
        # Set by a flow that holds a lease: run before each step (and before a deploy deletes);
        # raises when the lease was lost, so the run stops before it touches anything more.
        self.fence: Callable[[], None] | None = None
        # The step an exception escaped from, with that exception: finish() names it as the cause.
        self._escaped: tuple[str, BaseException] | None = None
        record.steps = []
        # Who runs this: a reader can tell a run whose process is gone ("abandoned") from a live one.
        if record.owner is None:
            record.owner = liveness.owner()

    def log_path(self, step: str) -> Any:
        return self.run_dir.file("logs", f"{step}.log")

    def save(self) -> None:
        self.record.steps = list(self.records)
        self.run_dir.save(self.record)

    def skip(self, name: str, reason: str) -> StepRecord:
        record = StepRecord(name, "skipped", None, 0.0, None, detail=reason)
        self.progress.message(f"  {name:<22} skipped      {reason}")
        self.records.append(record)
        self.save()
        return record

    def keep(self, done: StepRecord, why: str) -> StepRecord:
        """A resumed run's step that passed before: recorded again as it was, not run again."""
        record = StepRecord(
            done.name,
            done.status,
            done.exit_code,
            done.seconds,
            done.log,
            done.command,
            done.detail if "(kept: " in done.detail else f"{done.detail} (kept: {why})".lstrip(),
        )
        self.progress.message(f"  {done.name:<22} {'kept':<12} {why}")
        self.records.append(record)
        self.save()
        return record

    def finish(self, error: BaseException | None = None, *, failure: tuple[str | None, str] | None = None) -> str:
        """Give the run its final status and save it. ``error`` is what ended the run early (it
        is re-raised by the caller); ``failure`` is a (step, cause) the caller judged a failure."""
        step = self._escaped[0] if error is not None and self._escaped and self._escaped[1] is error else None
        status, cause = final_status(self.records, error, step=step, failure=failure)
        self.record.status = status
        if cause is not None:
            self.record.failure = Failure(cause["step"], str(cause["cause"]))
        self.record.finished = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self.save()
        return status

    def step(self, name: str, host: Host, body: Callable[[StepContext], str | None]) -> StepRecord:
        """Run one step. Its return value (if any) becomes the record's detail."""
        try:
            return self._step(name, host, body)
        except BaseException as exc:
            self._escaped = (name, exc)
            raise

    def result(self, name: str, host: Host, body: Callable[[StepContext], R], keep: Callable[[R], None]) -> R | None:
        """Run one step that returns a result; ``keep`` (the flow's) stores it in the run record,
        which is saved before a failure the result carries is raised. None when the step skipped."""
        found: list[R] = []

        def run(ctx: StepContext) -> str:
            output = body(ctx)
            found.append(output)
            keep(output)
            self.save()
            if output.failure is not None:
                raise output.failure
            return output.detail

        self.step(name, host, run)
        return found[0] if found else None

    def _step(self, name: str, host: Host, body: Callable[[StepContext], str | None]) -> StepRecord:
        if self.fence is not None:
            self.fence()
        ctx = StepContext(name, host, self)
        self.progress.start(name)
        started = time.monotonic()
        status, detail = "ok", ""
        try:
            detail = body(ctx) or ctx.detail
        except StepSkipped as skipped:
            status, detail = "skipped", str(skipped)
        except StepFailed as failed:
            status, detail = "failed", str(failed)
            if failed.result is not None:
                ctx.last_exit = failed.result.exit_code
            self._record(ctx, status, started, detail)
            if failed.result is not None and failed.result.tail(1):
                self.progress.message(_indent(failed.result.tail(15)))
            log = self.log_path(name)
            where = f" (log: {self.run_dir.relative(log)})" if log.exists() else ""
            raise GateFailed(f"step {name}: {failed}{where}") from None
        except KeyboardInterrupt as stop:
            self._record(ctx, "interrupted", started, str(stop) or "interrupted by the user")
            raise
        except BaseException as exc:
            self._record(ctx, "failed", started, f"{type(exc).__name__}: {exc}")
            raise
        return self._record(ctx, status, started, detail)

    def _record(self, ctx: StepContext, status: str, started: float, detail: str) -> StepRecord:
        seconds = time.monotonic() - started
        log = self.log_path(ctx.name)
        record = StepRecord(
            ctx.name,
            status,
            ctx.last_exit,
            round(seconds, 3),
            self.run_dir.relative(log) if log.exists() else None,
            " && ".join(ctx.commands) if ctx.commands else None,
            detail,
        )
        self.progress.finish(status, seconds)
        self.records.append(record)
        self.save()
        return record


def final_status(
    records: Sequence[StepRecord],
    error: BaseException | None,
    *,
    step: str | None = None,
    failure: tuple[str | None, str] | None = None,
) -> tuple[str, dict[str, str | None] | None]:
    """(status, {"step", "cause"}) of a run that ended. Pure.

    ``ok`` only when nothing went wrong: no error ended the run, no step failed or was
    interrupted, and the caller judged no failure. The cause named is what stopped the run when
    something did (``step`` is where that error escaped, None when it came from between steps),
    else the first failed step, else the caller's failure.
    """
    bad = next((r for r in records if r.status in ("failed", "interrupted")), None)
    if isinstance(error, KeyboardInterrupt):
        return "interrupted", {"step": step, "cause": str(error) or "interrupted by the user"}
    if error is not None:
        text = str(error) if isinstance(error, ArmjitError) else f"{type(error).__name__}: {error}"
        return "failed", {"step": step, "cause": text or type(error).__name__}
    if bad is not None:
        return "failed", {"step": bad.name, "cause": bad.detail or bad.status}
    if failure is not None:
        return "failed", {"step": failure[0], "cause": failure[1]}
    return "ok", None


def _indent(text: str) -> str:
    return "\n".join("    | " + line for line in text.splitlines())
