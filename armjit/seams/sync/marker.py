"""The deploy marker: ``<dest>/.armjit-deploy.json`` says which tree a sync shipped.

It is removed at the start of every sync and written last, so a sync that fails half-way
leaves no marker claiming the old tree; what runs on the host is checked against it.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from armjit.errors import ArmjitError
from armjit.seams.gitops import SourceState
from armjit.seams.hosts import Host

__all__ = ["MARKER_NAME", "DeployMarker", "check_marker", "read_marker", "verify_deploy", "write_marker"]

MARKER_NAME = ".armjit-deploy.json"


@dataclass(frozen=True)
class DeployMarker:
    """What ``<dest>/.armjit-deploy.json`` says was deployed."""

    commit: str
    branch: str | None
    worktree: bool
    dirty_hash: str | None
    time: str
    method: str
    files: int

    @property
    def state(self) -> SourceState:
        return SourceState(self.commit, self.branch, self.worktree, self.dirty_hash)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_marker(host: Host, dest: str) -> dict[str, Any] | None:
    """The deploy marker's data, None when there is none."""
    path = f"{dest.rstrip('/')}/{MARKER_NAME}"
    result = host.run(f"if [ -f {shlex.quote(path)} ]; then cat {shlex.quote(path)}; else exit 3; fi", timeout=60)
    if result.exit_code == 3:
        return None
    if not result.ok:
        raise ArmjitError(f"cannot read {host.name}:{path}: {result.tail(1) or f'exit {result.exit_code}'}")
    try:
        data = json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise ArmjitError(f"deploy marker {host.name}:{path} is not JSON ({exc}): sync again") from None
    if not isinstance(data, dict):
        raise ArmjitError(f"deploy marker {host.name}:{path} is not a JSON object: sync again")
    return data


def _parse_marker(data: Mapping[str, Any], where: str) -> DeployMarker:
    try:
        return DeployMarker(
            commit=str(data["commit"]),
            branch=None if data.get("branch") is None else str(data["branch"]),
            worktree=bool(data["worktree"]),
            dirty_hash=None if data.get("dirty_hash") is None else str(data["dirty_hash"]),
            time=str(data.get("time", "")),
            method=str(data.get("method", "")),
            files=int(data.get("files", 0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ArmjitError(f"deploy marker at {where} lacks {exc}: sync again") from None


def check_marker(marker: Mapping[str, Any] | None, expected: SourceState, *, where: str) -> DeployMarker:
    """The marker if it names ``expected`` (commit, mode and uncommitted-changes hash), else a
    one-line error: what runs on the host must be what was meant to be deployed."""
    if marker is None:
        raise ArmjitError(f"no deploy marker at {where}: the tree there was not deployed by armjit or a sync failed")
    found = _parse_marker(marker, where)
    same = (found.commit, found.worktree, found.dirty_hash) == (expected.commit, expected.worktree, expected.dirty_hash)
    if not same:
        raise ArmjitError(f"{where} holds {found.state.label()}, expected {expected.label()}: sync again")
    return found


def verify_deploy(host: Host, dest: str, expected: SourceState) -> DeployMarker:
    return check_marker(read_marker(host, dest), expected, where=f"{host.name}:{dest}")


def write_marker(host: Host, dest: str, marker: DeployMarker) -> None:
    path = shlex.quote(f"{dest.rstrip('/')}/{MARKER_NAME}")
    text = json.dumps(marker.as_dict(), indent=1, sort_keys=True)
    result = host.run(f"printf '%s\\n' {shlex.quote(text)} > {path}.tmp && mv -f {path}.tmp {path}", timeout=60)
    if not result.ok:
        raise ArmjitError(f"cannot write the deploy marker on {host.name}: {result.tail(1)}")
