"""The blocks of an ``ab`` run: one fresh A and one fresh B process per (benchmark, mode), in random
order; a fixed number of blocks, or ``--until-decided`` within a budget.

Per process it records the pyperf value (its median) or the instruction count, and the CPU share
the JIT hook reports (CPU time over wall time). A block with a starved process (a CPU share more
than ``--cpu-share-gap`` below the other process's) is run again once and dropped if it is starved
again: the difference of its wall-clock values is the queue for a CPU, not the code. Instruction
counts do not depend on the queue, so no block of that metric is re-run.

``--quiet-wait SECONDS`` waits before each block, up to that long, until the host has a CPU free
of other runnable work (armjit.analysis.host_load): a block measured beside a neighbour's build is
noise the interval then has to pay for.

``--until-decided`` looks at a confidence sequence after every block (armjit.analysis.stats.sequential),
stops a (benchmark, mode) once its interval has settled, and ends when all have or the budget is spent.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from armjit.analysis import host_load, measure, pyperf_data, stats
from armjit.analysis.stats import sequential
from armjit.cinderx import counters
from armjit.config import Settings
from armjit.errors import UsageError
from armjit.flows import ab_sides
from armjit.flows.pipeline import Pipeline, StepContext

__all__ = ["Design", "Outcome", "check_mode_pair", "pair_loops", "run_blocks", "starved_block", "starved_gates"]

Key = tuple[str, str]
# Values the longer of the two counted workers of --metric instructions adds (see
# _instructions_per_value): one value is loops iterations of the benchmark.
EXTRA_VALUES = 2
# A cap for --until-decided when the budget alone would allow more: a safeguard, not a design value.
MAX_SEQUENTIAL_BLOCKS = 500


@dataclass(frozen=True)
class Design:
    """How the blocks are measured and when they stop."""

    blocks: int  # the fixed count, or the cap with until_decided
    metric: str = "time"
    clock: str = "wall"
    counter: str | None = None  # perf | cachegrind, with the instruction metric
    cpu_share_gap: float = 0.25  # 0: off
    until_decided: bool = False
    budget: float = 0.0  # seconds of blocks; 0: none
    deltas: dict[Key, float] = field(default_factory=dict)
    mode_pair: tuple[str, str] | None = None  # --mode-pair: A runs the first mode, B the second
    # Drift of the from arm may overrule a verdict (A/B on the wall or CPU clock; never an A/A,
    # where drift is the noise being measured, nor instruction counts, which do not drift).
    check_drift: bool = False
    quiet_wait: float = 0.0  # seconds a block may wait for a free CPU on the host; 0: off

    def side_mode(self, label: str, mode: str) -> str:
        """The JIT mode a side's process runs for a key's mode."""
        if self.mode_pair is None:
            return mode
        return self.mode_pair[0] if label == "a" else self.mode_pair[1]

    def as_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "clock": self.clock,
            "counter": self.counter,
            "cpu_share_gap": self.cpu_share_gap,
            "until_decided": self.until_decided,
            "budget_seconds": self.budget or None,
            "sequential_method": sequential.METHOD if self.until_decided else None,
            "mode_pair": list(self.mode_pair) if self.mode_pair else None,
            "quiet_wait_seconds": self.quiet_wait or None,
        }


@dataclass
class Outcome:
    samples: dict[Key, list[stats.Block]]
    stopped: dict[Key, str]  # why each key stopped adding blocks (until_decided)
    looks: dict[Key, list[sequential.Look]]
    starved: dict[Key, dict[str, int]]
    seconds: float


@dataclass
class QuietWaits:
    """What ``--quiet-wait`` did over the run (run.json ``quiet_wait``, findings.md)."""

    limit: float
    blocks: int = 0  # blocks that had to wait for a quiet host
    started_busy: int = 0  # of those, started when the limit was reached, the host still busy
    seconds: float = 0.0
    off: str = ""  # why waiting was turned off during the run

    def as_json(self) -> dict[str, Any]:
        return {
            "limit_seconds": self.limit,
            "blocks_waited": self.blocks,
            "started_busy": self.started_busy,
            "seconds": round(self.seconds, 3),
            "off": self.off or None,
        }


@dataclass(frozen=True)
class Measured:
    value: float | None  # median seconds, or instructions
    share: float | None  # CPU share of the worker, None when not reported


def run_blocks(
    pipeline: Pipeline, sides: list[ab_sides.Side], loops: dict[Key, int], design: Design, seed: int
) -> Outcome:
    samples: dict[Key, list[stats.Block]] = {key: [] for key in loops}
    shares: dict[Key, list[list[float | None]]] = {key: [] for key in loops}
    starved = {key: {"processes": 0, "reruns": 0, "dropped": 0} for key in loops}
    looks: dict[Key, list[sequential.Look]] = {key: [] for key in loops}
    stopped: dict[Key, str] = {}
    a = sides[0]
    waits = QuietWaits(design.quiet_wait)
    started = time.monotonic()

    def one_block(ctx: StepContext, key: Key, index: int, order: str) -> None:
        bench, mode = key
        for attempt in range(2):
            if design.quiet_wait:
                _wait_for_quiet(ctx, waits)  # a re-run of a starved block waits too
            got: dict[str, Measured] = {}
            for letter in order:
                side = sides[0] if letter == "A" else sides[1]
                got[letter] = _one_process(ctx, side, key, index, attempt, loops[key], design, seed)
            ma, mb = got["A"].value, got["B"].value
            if ma is None or mb is None:
                return
            if design.metric == "time" and starved_block(got["A"].share, got["B"].share, design.cpu_share_gap):
                starved[key]["processes"] += 1
                if attempt == 0:
                    starved[key]["reruns"] += 1
                    pipeline.progress.line(f"block {index + 1} {bench}/{mode}: starved process, running it again")
                    continue
                starved[key]["dropped"] += 1
                return
            samples[key].append(stats.Block(ma, mb, order))
            shares[key].append([got["A"].share, got["B"].share])
            return

    def body(ctx: StepContext) -> str:
        rng = random.Random(seed)
        cap = MAX_SEQUENTIAL_BLOCKS if design.until_decided else design.blocks
        index = 0
        while index < cap:
            active = [key for key in loops if key not in stopped]
            if not active:
                break
            elapsed = time.monotonic() - started
            if design.until_decided and design.budget and index and elapsed + elapsed / index > design.budget:
                for key in active:
                    stopped[key] = f"budget of {design.budget / 60:g} min spent after {index} blocks"
                break
            rng.shuffle(active)
            for key in active:
                one_block(ctx, key, index, "AB" if rng.random() < 0.5 else "BA")
            index += 1
            if design.until_decided:
                _look(pipeline, samples, looks, stopped, starved, design, time.monotonic() - started, active)
            else:
                pipeline.progress.line(f"block {index}/{design.blocks} done")
            pipeline.record.details["blocks_done"] = index
            pipeline.save()
        if design.until_decided:
            for key in loops:
                stopped.setdefault(key, f"block cap of {cap} reached")
        return f"{index} blocks"

    pipeline.step("blocks", a.target.host, body)
    seconds = time.monotonic() - started
    details = pipeline.record.details
    details["samples"] = {
        f"{b}/{m}": [
            {"a": blk.a, "b": blk.b, "order": blk.order, "cpu_share": share}
            for blk, share in zip(blocks, shares[(b, m)], strict=True)
        ]
        for (b, m), blocks in samples.items()
    }
    details["crashes"] = {side.label: {"attempts": side.attempts, "successes": side.successes} for side in sides}
    details["starved"] = {f"{b}/{m}": counts for (b, m), counts in starved.items()}
    details["blocks_seconds"] = round(seconds, 3)
    if design.quiet_wait:
        details["quiet_wait"] = waits.as_json()
    if design.until_decided:
        details["sequential"] = {
            f"{b}/{m}": {"stopped": stopped.get((b, m)), "looks": [lk.as_json() for lk in looks[(b, m)]]}
            for (b, m) in loops
        }
    pipeline.save()
    return Outcome(samples, stopped, looks, starved, seconds)


def _look(
    pipeline: Pipeline,
    samples: dict[Key, list[stats.Block]],
    looks: dict[Key, list[sequential.Look]],
    stopped: dict[Key, str],
    starved: dict[Key, dict[str, int]],
    design: Design,
    elapsed: float,
    active: list[Key],
) -> None:
    for key in active:
        blocks = samples[key]
        if len(blocks) < 2:
            continue
        delta = design.deltas.get(key, stats.MIN_DELTA)
        found = sequential.look(blocks, delta, elapsed)
        looks[key].append(found)
        pipeline.progress.message(f"  {key[0]}/{key[1]} {found.line(delta, design.budget or None)}")
        if not found.outcome:
            continue
        # Stop only on an interval the verdict will stand on: when drift or starved blocks would
        # make the verdict inconclusive, more blocks can still settle it within the budget.
        held = sequential.withheld(
            blocks, delta, gates=starved_gates(starved[key], len(blocks)), check_drift=design.check_drift
        )
        if held:
            pipeline.progress.message(f"  {key[0]}/{key[1]} settled ({found.outcome}), but {held}: going on")
            continue
        stopped[key] = f"settled ({found.outcome}) after {found.blocks} blocks, {elapsed / 60:.1f} min"


def _wait_for_quiet(ctx: StepContext, waits: QuietWaits) -> None:
    """Wait, up to ``waits.limit`` seconds, until the host has a CPU free for the next block."""
    if waits.off:
        return
    progress = ctx.pipeline.progress
    follower = ctx.pipeline.follower

    def probe() -> host_load.HostLoad | None:
        result = ctx.run(host_load.PROBE_COMMAND, check=False)
        return host_load.parse_probe(result.stdout)

    def busy(load: host_load.HostLoad) -> None:
        progress.message(f"host busy ({load.line()}): waiting up to {waits.limit:g} s for a free CPU")

    found = host_load.wait_until_quiet(
        probe if follower is None else lambda: follower.reconnecting("the host-load probe", probe), waits.limit, busy
    )
    if found.load is None:
        waits.off = "the host does not show its runnable tasks (/proc/loadavg)"
        progress.message(f"--quiet-wait is off for this run: {waits.off}")
        return
    if not found.waited:
        return
    waits.blocks += 1
    waits.seconds += found.seconds
    if found.load.quiet:
        progress.message(f"host quiet after {found.seconds:.1f} s: measuring")
    else:
        waits.started_busy += 1
        progress.message(f"host still busy after {found.seconds:.0f} s ({found.load.line()}): measuring anyway")


def _one_process(
    ctx: StepContext, side: ab_sides.Side, key: Key, index: int, attempt: int, loops: int, design: Design, seed: int
) -> Measured:
    bench, key_mode = key
    name_key = f"{bench}/{key_mode}"
    side.attempts[name_key] = side.attempts.get(name_key, 0) + 1
    s: Settings = side.target.settings
    mode = design.side_mode(side.label, key_mode)
    suffix = f"-r{attempt}" if attempt else ""
    name = f"{index:03d}-{bench}-{mode}-{side.label}{suffix}.json"
    if design.metric == "instructions" and design.counter:
        count = _instructions_per_value(ctx, side, bench, mode, loops, design.counter, seed)
        if count is None:
            return Measured(None, None)
        side.successes[name_key] = side.successes.get(name_key, 0) + 1
        return Measured(count, None)
    extra = {"ARMJIT_CPU_SHARE": "1"} | ({"ARMJIT_CLOCK": "cpu"} if design.clock == "cpu" else {})
    output = f"{side.target.remote_run}/blocks/{name}"
    result = ab_sides.process(
        ctx, side, bench, mode, output, loops=loops, values=s.values, warmups=s.warmups, extra_env=extra
    )
    if not result.ok:
        return Measured(None, None)
    local = side.target.run.file("blocks", name)
    ctx.host.get(output, local)
    values = pyperf_data.all_values(local)
    if not values:
        return Measured(None, None)
    side.successes[name_key] = side.successes.get(name_key, 0) + 1
    return Measured(float(statistics.median(values)), measure.worker_share(result.stderr))


def _instructions_per_value(
    ctx: StepContext, side: ab_sides.Side, bench: str, mode: str, loops: int, counter: str, seed: int
) -> float | None:
    """Instructions one measured value retires: the count of a worker with ``values +
    EXTRA_VALUES`` values less that of the same worker with ``values``, over EXTRA_VALUES.
    Start-up, imports, warmups and the JIT's compiles are in both counts and cancel, so what is
    left is the benchmark's own steady-state loop, the code a codegen change moves."""
    s: Settings = side.target.settings
    # One hash seed for every process of the run: an instruction count is then a function of
    # the code alone, not of a dict layout that no codegen change causes.
    # The JIT compiles in the calling thread (cinderx-2026.11-logs.md, item 7): a background
    # compile's place among the values depends on thread scheduling, and moved whole-worker
    # counts by 6% and the three-value counts by 40% on the e2e host.
    env = {
        **side.target.mode(mode, bench).env,
        "PYTHONHASHSEED": str(seed % 4294967296),
        "PYTHONJITBACKGROUNDCOMPILE": "0",
    }
    counts = []
    for values in (s.values, s.values + EXTRA_VALUES):
        command = counters.instructions_command(
            counter,
            python=side.bench.python,
            bench_file=side.bench.files[bench],
            env=env,
            loops=loops,
            values=values,
            warmups=s.warmups,
        )
        result = ctx.run(command, cwd=s.remote_workdir, check=False, detach=True)
        count = counters.parse_count(counter, result.stderr) if result.ok else None
        if count is None:
            return None
        counts.append(count)
    per_value = (counts[1] - counts[0]) / EXTRA_VALUES
    return float(per_value) if per_value > 0 else None


def starved_block(a: float | None, b: float | None, gap: float) -> bool:
    """One process of the block got a CPU share more than ``gap`` below the other's.

    Measured on this 2-core shared machine (README "Statistics"): workers get 8-68% of a CPU, so
    an absolute floor drops every block; dropping the blocks whose two shares differ by more than
    25% cut the spread of the block log-ratios by 10-37% and kept 67-81% of the blocks.
    """
    if not gap or a is None or b is None:
        return False
    if min(a, b) <= 0:
        return True
    return max(a, b) / min(a, b) > 1 + gap


def starved_gates(counts: dict[str, int], kept: int) -> list[str]:
    """A verdict from the blocks that survived is not trusted when most were dropped as starved:
    the host was too busy for the wall clock to mean anything."""
    dropped = counts.get("dropped", 0)
    if dropped and dropped >= kept:
        return [f"host too busy: {dropped} of {dropped + kept} blocks dropped with a starved process"]
    return []


def check_design_flags(*, blocks: int, until_decided: bool, budget: float) -> None:
    """The block flags every task that takes them refuses alike (ab, verify): a fixed design needs
    ``MIN_BLOCKS``; ``--budget`` is the time limit of ``--until-decided`` and nothing without it."""
    if blocks < stats.MIN_BLOCKS and not until_decided:
        raise UsageError(f"--blocks {blocks}: at least {stats.MIN_BLOCKS} blocks are needed for an interval")
    if budget < 0 or (budget and not until_decided):
        raise UsageError("--budget is the time limit of --until-decided (a positive duration, e.g. 10m)")


def check_mode_pair(pair: tuple[str, str], *, aa: bool, refs: tuple[object, object]) -> tuple[str, str]:
    """``--mode-pair FROM,TO`` compares two JIT modes of one build: not with --aa or two refs."""
    from armjit.cinderx.modes import known_modes
    from armjit.errors import UsageError

    if aa or any(refs):
        raise UsageError("--mode-pair compares two modes of one build: give it without --aa, --base or --cand")
    if len(pair) != 2 or pair[0] == pair[1]:
        raise UsageError(f"--mode-pair {','.join(pair)}: give two different modes, e.g. nojit,jitlist")
    unknown = [m for m in pair if m not in known_modes()]
    if unknown:
        raise UsageError(f"--mode-pair: unknown mode(s) {', '.join(unknown)}; known: {', '.join(known_modes())}")
    return pair


def pair_loops(loops: dict[Key, int], pair: tuple[str, str] | None) -> dict[Key, int]:
    """With --mode-pair, one key per benchmark (``FROM->TO``), both sides at the from mode's
    loops: the same work per value on both sides."""
    if pair is None:
        return loops
    benches = dict.fromkeys(bench for bench, _ in loops)
    return {(bench, f"{pair[0]}->{pair[1]}"): loops[(bench, pair[0])] for bench in benches}
