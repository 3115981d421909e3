"""Settings: every parameter of ``push_to_arm.ps1`` and the remote script, with the same defaults.

Sources, later wins: built-in defaults < ``[tool.armjit]`` in pyproject.toml < invoke config
(``invoke.yaml`` ``armjit:`` section) < environment (``ARMJIT_<NAME>``) < command-line flags.
This module is pure: callers hand it the raw mappings; validation errors are one-line UsageErrors.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from armjit.cinderx import modes as jit_modes
from armjit.errors import UsageError
from armjit.seams.safepaths import check_host_dir

__all__ = [
    "BUILD_ENV_NAMES",
    "HOST_DIRS",
    "SettingSpec",
    "Settings",
    "checked_host_dirs",
    "load_pyproject_settings",
    "merge_settings",
    "merge_settings_with_sources",
    "parse_host",
    "setting_specs",
]

# Build knobs CinderX's setup.py reads from the environment (cinderx-workflow.md §2.3).
BUILD_ENV_NAMES = re.compile(
    r"^(ENABLE_[A-Z0-9_]+|CINDERX_[A-Z0-9_]+|CMAKE_[A-Z0-9_]+|CCACHE_[A-Z0-9_]+|CC|CXX|CFLAGS|CXXFLAGS|LDFLAGS)$"
)
_BENCH_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_BRANCH_NAME = re.compile(r"^[A-Za-z0-9_./@+-]+$")
_HOST_RE = re.compile(r"^(?:(?P<user>[^@\s:]+)@)?(?P<host>\[[0-9A-Fa-f:.]+\]|[^@\s:/]+)(?::(?P<port>[^:]*))?$")


def _s(default: Any, help_text: str, ps1: str = "", env: str = "") -> Any:
    """A settings field with its help text and the push_to_arm.ps1 / remote script names."""
    meta = {"help": help_text, "ps1": ps1, "remote_env": env}
    if isinstance(default, (list, tuple, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Settings:
    """One baseline's parameters. Field metadata carries the help text shown by ``invoke --help``."""

    # Target repository and branches (push_to_arm.ps1, sync_upstream.ps1)
    repo: str = _s("", "target git checkout (unset: the embedded default run)", "-RepoPath")
    upstream_remote: str = _s("origin", "git remote to fetch upstream from", "-UpstreamRemote")
    upstream_branch: str = _s("main", "upstream branch (fast-forwarded locally)", "-UpstreamBranch")
    branch: str = _s("arm-jit", "work branch that is synced and built", "-WorkBranch")
    sync_upstream: bool = _s(True, "fetch, ff-only the upstream branch and rebase the work branch")
    rebase: bool = _s(True, "rebase the work branch on upstream during the upstream sync", "-NoRebase")
    worktree: bool = _s(False, "ship the working tree including uncommitted changes")
    sync_method: str = _s("auto", "auto | rsync | python (no rsync needed on this machine)")
    # Host and SSH
    host: str = _s("local", "host: 'local', an ssh_config alias, or [user@]host[:port]", "-ArmHost")
    user: str = _s("root", "ssh user", "-User")
    port: int = _s(22, "ssh port (1-65535)")
    key: str = _s("", "ssh private key file (default: ssh agent / ssh_config / ~/.ssh)")
    known_hosts: str = _s("", "known_hosts file armjit trusts and saves new keys to")
    strict_host_keys: bool = _s(False, "refuse hosts whose key is not known yet")
    ssh_config: str = _s("", "ssh_config file to read instead of ~/.ssh/config")
    connect_timeout: int = _s(10, "ssh connect timeout in seconds")
    keepalive_interval: int = _s(15, "seconds between ssh keepalives that must be answered (ServerAliveInterval)")
    keepalive_count: int = _s(3, "unanswered keepalives after which the connection is dead (ServerAliveCountMax)")
    hosts: tuple[str, ...] = _s(
        (), "several hosts at once, in parallel: hosts as --host takes them, or @GROUP from the hosts groups"
    )
    reconnect_for: int = _s(300, "seconds to keep reconnecting after a drop or stall before exiting (the step goes on)")
    # Remote layout
    remote_workdir: str = _s("/root/work/cinderx-main", "build tree on the host", "-RemoteWorkDir", "WORKDIR")
    remote_incoming: str = _s("/root/work/incoming", "upload dir on the host", "-RemoteIncomingDir", "INCOMING_DIR")
    remote_python: str = _s(
        "/opt/python-3.14/bin/python3.14", "python that builds the wheel", "-RemotePython", "PYTHON"
    )
    driver_venv: str = _s("/root/venv-cinderx314", "driver venv on the host", "-RemoteDriverVenv", "DRIVER_VENV")
    wait: bool = _s(True, "wait while another run holds the host work dir (--no-wait: fail at once)")
    wait_timeout: int = _s(3600, "seconds to wait for the host work dir before giving up")
    adopt_workdir: bool = _s(
        False,
        "take over an existing work dir armjit does not own: move what it holds into "
        "<dir>.armjit-adopted-<time>/ (nothing deleted), then mark it",
    )
    # Build
    build: str = _s("source", "source | pypi[==VERSION] | none (plain interpreter)")
    parallel: int = _s(1, "CMAKE_BUILD_PARALLEL_LEVEL for the wheel build", "-CmakeParallel", "PARALLEL")
    build_env: tuple[str, ...] = _s((), "extra build env K=V (ENABLE_*, CINDERX_*, CMAKE_*, CCACHE_*, CC, CXX)")
    deps_dir: str = _s(
        "", "local dir of CMake FetchContent source archives, shipped to the host for offline source builds"
    )
    min_free_build: float = _s(5.0, "GB the host must have free for a source build (0: no check)")
    min_free_venv: float = _s(1.0, "GB the host must have free for the venvs when nothing is built (0: no check)")
    # Tests and smokes
    runtime_test: str = _s(
        "",
        "runtime test gate file (repo-relative; unset: test_cinderx/test_oss_quick.py, else test_arm_runtime.py)",
    )
    runtime_skip_tests: tuple[str, ...] = _s((), "skip tests whose id contains a token", env="ARM_RUNTIME_SKIP_TESTS")
    smoke_autojit: int = _s(10, "PYTHONJITAUTO for the startup smoke", env="SMOKE_AUTOJIT")
    # Benchmarks and JIT modes
    bench: tuple[str, ...] = _s(("richards",), "pyperformance benchmark(s)", "-Benchmark", "BENCH")
    modes: tuple[str, ...] = _s(
        jit_modes.default_modes(), f"JIT modes to benchmark: {','.join(jit_modes.known_modes())}"
    )
    jitlist: tuple[str, ...] = _s(("__main__:*",), "the jitlist mode's jitlist lines (module:qualname, * wildcards)")
    autojit: int = _s(50, "auto-JIT threshold", "-AutoJit", "AUTOJIT")
    autojit_jitlist_filter: bool = _s(
        True,
        "restrict the autojit mode to the jitlist __main__:* plus extras (v5 default)",
        env="AUTOJIT_USE_JITLIST_FILTER",
    )
    autojit_extra_jitlist: tuple[str, ...] = _s(
        (), "extra jitlist lines for the filtered autojit mode", env="AUTOJIT_EXTRA_JITLIST"
    )
    bench_only: bool = _s(False, "only the benchmark part: use what is deployed and installed (nox -s remote_bench)")
    skip_pyperf: bool = _s(False, "stop after the smokes (TDD fast path)", "-SkipPyperformance", "SKIP_PYPERF")
    recreate_pyperf_venv: bool = _s(
        False, "recreate the pyperformance venv", "-RecreatePyperfVenv", "RECREATE_PYPERF_VENV"
    )
    jit_hook: str = _s(
        "pth", "how benchmark processes enable the JIT: pth (robust), sitecustomize (old workflow), none"
    )
    bench_runner: str = _s("auto", "auto | pyperformance | pyperf (run the benchmark file with pyperf directly)")
    bench_script: str = _s(
        "", "benchmark file for the pyperf runner, {bench} = the benchmark (unset: pyperformance's bm_<bench>)"
    )
    processes: int = _s(4, "pyperf worker processes per mode")
    values: int = _s(3, "values per worker process")
    warmups: int = _s(3, "warmup values per worker process (JIT compiles in the background)")
    loops: int = _s(0, "pyperf loops per value (0 = calibrate)")
    step_timeout: int = _s(7200, "seconds after which a step is killed (locally and on the host)")
    code_size_limit: int = _s(0, "compiled-size guard: bytes of JIT code allowed per mode (0 = no limit)")
    clock: str = _s(
        "wall", "timer of the benchmark workers: wall (pyperf's) | cpu (process CPU time, via the JIT hook)"
    )
    metric: str = _s("time", "what ab/verify compare: time | instructions (perf stat, else valgrind cachegrind)")
    cpu_share_gap: int = _s(
        25, "% by which A's and B's CPU shares in a block may differ before it is re-run once, then dropped (0 = off)"
    )
    quiet_wait: int = _s(0, "seconds ab may wait before each block for a host CPU free of other work (0 = off)")
    # Output
    reference: str = _s("", "the host a fleet's cross-host table gives ratios to (default: the first of --hosts)")
    notes_dir: str = _s("", "where the notes (findings.md, progress.md, ...) go (unset: the repo, else REPORTS)")
    reports: str = _s("reports", "armjit reports directory (runs go to REPORTS/runs)")

    @property
    def is_local(self) -> bool:
        return self.host == "local"

    @property
    def reports_path(self) -> Path:
        """The reports directory (runs go to ``runs/`` under it). The one place that decides it."""
        return Path(self.reports).expanduser()

    @property
    def notes_path(self) -> Path:
        """Where findings.md, progress.md, notes.md and task_plan.md go: ``notes_dir`` when set,
        else the target repo, else the reports directory. The one place that decides it."""
        if self.notes_dir:
            return Path(self.notes_dir).expanduser()
        return Path(self.repo).expanduser() if self.repo else self.reports_path

    def public_dict(self) -> dict[str, Any]:
        """Settings as plain JSON data for run.json (lists instead of tuples)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


@dataclass(frozen=True)
class SettingSpec:
    name: str
    default: Any
    help: str
    ps1: str
    remote_env: str

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return "ARMJIT_" + self.name.upper()


def setting_specs() -> list[SettingSpec]:
    specs = []
    for f in dataclasses.fields(Settings):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[operator]
        specs.append(SettingSpec(f.name, default, f.metadata["help"], f.metadata["ps1"], f.metadata["remote_env"]))
    return specs


def _coerce(spec: SettingSpec, raw: Any, source: str) -> Any:
    """Turn a raw value from any source into the field's type, or say which value is wrong."""
    kind = type(spec.default)
    where = f"{spec.flag} ({source})"
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise UsageError(f"{where}: expected true/false, got {raw!r}")
    if kind is int:
        if isinstance(raw, bool):
            raise UsageError(f"{where}: expected an integer, got {raw!r}")
        try:
            return int(str(raw).strip())
        except ValueError:
            raise UsageError(f"{where}: expected an integer, got {raw!r}") from None
    if kind is float:
        try:
            number = float(str(raw).strip())
        except ValueError:
            raise UsageError(f"{where}: expected a number, got {raw!r}") from None
        if not math.isfinite(number):
            raise UsageError(f"{where}: expected a finite number, got {raw!r}")
        return number
    if kind is tuple:
        items = raw if isinstance(raw, (list, tuple)) else str(raw).split(",")
        return tuple(str(item).strip() for item in items if str(item).strip())
    return str(raw)


def load_pyproject_settings(project_dir: Path) -> dict[str, Any]:
    """``[tool.armjit]`` of ``project_dir/pyproject.toml`` (empty when absent)."""
    path = project_dir / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read [tool.armjit] from {path}: {exc}") from None
    section = data.get("tool", {}).get("armjit", {})
    return {str(k).replace("-", "_"): v for k, v in section.items()} if isinstance(section, dict) else {}


def merge_settings(
    *,
    pyproject: Mapping[str, Any] | None = None,
    invoke_config: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    cli: Mapping[str, Any] | None = None,
) -> Settings:
    """Layer the sources (later wins), coerce types and validate. ``cli`` holds only given flags."""
    return merge_settings_with_sources(pyproject=pyproject, invoke_config=invoke_config, environ=environ, cli=cli)[0]


def merge_settings_with_sources(
    *,
    defaults: Mapping[str, Any] | None = None,
    pyproject: Mapping[str, Any] | None = None,
    invoke_config: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    cli: Mapping[str, Any] | None = None,
) -> tuple[Settings, dict[str, str]]:
    """Like merge_settings, and also which source set each non-default setting."""
    sources: dict[str, str] = {}
    specs = {s.name: s for s in setting_specs()}
    values: dict[str, Any] = {}
    layers: list[tuple[str, Mapping[str, Any]]] = [
        ("default", defaults or {}),
        ("pyproject [tool.armjit]", pyproject or {}),
        ("invoke config", invoke_config or {}),
    ]
    env_layer = {name: environ[spec.env] for name, spec in specs.items() if environ and spec.env in environ}
    layers += [("environment", env_layer), ("command line", cli or {})]
    for source, layer in layers:
        for raw_name, raw in layer.items():
            name = str(raw_name).replace("-", "_")
            if name not in specs:
                if source == "invoke config":
                    continue  # invoke's own config keys live beside ours
                raise UsageError(f"unknown setting {raw_name!r} in {source}")
            if raw is None:
                continue
            values[name] = _coerce(specs[name], raw, source)
            if source != "default":
                sources[name] = source
    settings = Settings(**values)
    validate(settings)
    return settings, sources


def parse_host(text: str, default_user: str, default_port: int) -> tuple[str | None, str, int | None]:
    """``[user@]host[:port]`` -> (user or None, host, port or None). Ports are checked by validate."""
    match = _HOST_RE.match(text.strip())
    if not match:
        raise UsageError(f"--host {text!r}: expected 'local', an ssh alias or [user@]host[:port]")
    port_text = match.group("port")
    port: int | None = None
    if port_text is not None:
        if not port_text.isdigit():
            raise UsageError(f"--host {text!r}: port {port_text!r} is not a number")
        port = int(port_text)
        _check_port(port, f"--host {text!r}")
    return match.group("user"), match.group("host").strip("[]"), port


def _check_port(port: int, where: str) -> None:
    if not 1 <= port <= 65535:
        raise UsageError(f"{where}: port {port} is outside 1-65535")


def validate(s: Settings) -> None:
    """Checks that need no I/O. Paths and refs are checked where they are used."""
    _check_port(s.port, "--port")
    if not s.is_local:
        parse_host(s.host, s.user, s.port)
    for name in s.hosts:
        if name != "local" and not name.startswith("@"):
            parse_host(name, s.user, s.port)
    # Checked again once the groups are expanded (armjit.resolve): a group may hold the reference.
    grouped = any(name.startswith("@") for name in s.hosts)
    if s.reference and s.hosts and not grouped and s.reference not in s.hosts:
        raise UsageError(f"--reference {s.reference!r} is not one of --hosts ({', '.join(s.hosts)})")
    if not s.bench and not s.skip_pyperf:
        raise UsageError("--bench: give at least one benchmark name")
    for name in s.bench:
        if not _BENCH_NAME.match(name):
            raise UsageError(f"--bench {name!r}: benchmark names may only hold letters, digits and _.-")
    if len(s.bench) > 1 and s.bench_script and "{bench}" not in s.bench_script:
        # Every benchmark would run the one script and measure the same thing under two names.
        raise UsageError(
            f"--bench-script {s.bench_script!r} is one script for {len(s.bench)} benchmarks: "
            "put {bench} in its path (e.g. bench/bm_{bench}.py)"
        )
    if not s.jitlist:
        raise UsageError("--jitlist: give at least one module:qualname pattern (default __main__:*)")
    for line in (*s.jitlist, *s.autojit_extra_jitlist):
        if not line.strip() or "\n" in line or "\r" in line:
            raise UsageError(f"jitlist line {line!r}: give one module:qualname pattern per line")
    for name in (s.branch, s.upstream_branch, s.upstream_remote):
        if not _BRANCH_NAME.match(name) or name.startswith("-") or ".." in name:
            raise UsageError(f"invalid git ref name {name!r}")
    for number, flag in ((s.autojit, "--autojit"), (s.smoke_autojit, "--smoke-autojit")):
        if number < 0:
            raise UsageError(f"{flag} {number}: a JIT threshold cannot be negative")
    for number, flag in (
        (s.parallel, "--parallel"),
        (s.processes, "--processes"),
        (s.values, "--values"),
        (s.connect_timeout, "--connect-timeout"),
        (s.keepalive_interval, "--keepalive-interval"),
        (s.keepalive_count, "--keepalive-count"),
        (s.step_timeout, "--step-timeout"),
        (s.reconnect_for, "--reconnect-for"),
        (s.wait_timeout, "--wait-timeout"),
    ):
        if number < 1:
            raise UsageError(f"{flag} {number}: must be at least 1")
    if s.warmups < 0 or s.loops < 0:
        raise UsageError("--warmups and --loops cannot be negative")
    known = jit_modes.known_modes()
    unknown = [m for m in s.modes if m not in known]
    if unknown:
        raise UsageError(f"--modes: unknown mode(s) {', '.join(unknown)}; known: {', '.join(known)}")
    if not (s.build in ("source", "none", "pypi") or re.fullmatch(r"pypi==[A-Za-z0-9_.+-]+", s.build)):
        raise UsageError(f"--build {s.build!r}: expected source, pypi, pypi==VERSION or none")
    if s.bench_only and s.skip_pyperf:
        raise UsageError("--bench-only and --skip-pyperf together leave nothing to run")
    if s.sync_method not in ("auto", "rsync", "python"):
        raise UsageError(f"--sync-method {s.sync_method!r}: expected auto, rsync or python")
    if s.min_free_build < 0 or s.min_free_venv < 0:
        raise UsageError("--min-free-build and --min-free-venv cannot be negative")
    if s.clock not in ("wall", "cpu"):
        raise UsageError(f"--clock {s.clock!r}: expected wall or cpu")
    if s.metric not in ("time", "instructions"):
        raise UsageError(f"--metric {s.metric!r}: expected time or instructions")
    if s.cpu_share_gap < 0:
        raise UsageError(f"--cpu-share-gap {s.cpu_share_gap}: cannot be negative")
    if s.quiet_wait < 0:
        raise UsageError(f"--quiet-wait {s.quiet_wait}: cannot be negative (seconds; 0 = off)")
    if s.code_size_limit < 0:
        raise UsageError("--code-size-limit cannot be negative")
    if s.jit_hook not in ("pth", "sitecustomize", "none"):
        raise UsageError(f"--jit-hook {s.jit_hook!r}: expected pth, sitecustomize or none")
    if s.bench_runner not in ("auto", "pyperformance", "pyperf"):
        raise UsageError(f"--bench-runner {s.bench_runner!r}: expected auto, pyperformance or pyperf")
    for item in s.build_env:
        key, sep, _ = item.partition("=")
        if not sep or not BUILD_ENV_NAMES.match(key):
            raise UsageError(
                f"--build-env {item!r}: expected K=V with K like ENABLE_*, CINDERX_*, CMAKE_*, CCACHE_*, CC, CXX"
            )
    checked_host_dirs(s)


# The host directories armjit writes into, deletes from or recreates: (setting, flag, minimum depth).
# The work dir receives `rsync --delete`, so it must sit two levels deep (/srv/x, never /srv).
HOST_DIRS = (
    ("remote_workdir", "--remote-workdir", 2),
    ("remote_incoming", "--remote-incoming", 1),
    ("driver_venv", "--driver-venv", 1),
)


def checked_host_dirs(s: Settings, home: str | None = None) -> Settings:
    """``s`` with its host directories normalised (and ``~`` expanded against ``home``, the
    login user's home on the host, once it is known), or a one-line UsageError."""
    checked: dict[str, Any] = {
        name: check_host_dir(getattr(s, name), what=flag, home=home, min_depth=depth) for name, flag, depth in HOST_DIRS
    }
    return dataclasses.replace(s, **checked)
