"""Fixtures for the end-to-end tier: a real CinderX host (Debian sid chroot + sshd on 127.0.0.1).

The tier runs when it is requested: ``ARMJIT_E2E=1`` (what ``nox -s e2e`` sets), ``CI=true``, or ``-m e2e``.
Requested and impossible (not root, no Debian archive) is a failure with the reason in one line; not requested
is a skip that says how to request it. Tests that need no host (pure parsing) always run.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import cinderx_tree
from .sandbox import SandboxError, SandboxHost, TreeStatus, cache_base, provision, sandbox_host

# Runs ON the host, not here: it imports cinderx, which only the host has.
collect_ignore = ["fixture_gate"]

_HOST_FIXTURES = frozenset({"cinderx_host", "sandbox_tree", "e2e_requested", "cinderx_checkout", "cinderx_deps"})
_HERE = Path(__file__).parent
_ROOT = _HERE.parents[1]


def e2e_requested(config: pytest.Config) -> bool:
    """Whether this session asked for the e2e tier."""
    if os.environ.get("ARMJIT_E2E", "").strip() not in ("", "0"):
        return True
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        return True
    markexpr = str(config.getoption("markexpr", "") or "")
    return "e2e" in markexpr and "not e2e" not in markexpr


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Every test here that needs the host carries the `e2e` marker, so `-m "not e2e"` leaves it out.
    for item in items:
        if _HERE in Path(str(item.path)).parents and _HOST_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)


def _require_e2e(config: pytest.Config) -> None:
    if not e2e_requested(config):
        pytest.skip("e2e tier not requested: run `nox -s e2e`, or set ARMJIT_E2E=1, or pass -m e2e")


@pytest.fixture(scope="session", name="e2e_requested")
def e2e_requested_fixture(request: pytest.FixtureRequest) -> bool:
    """Skips (not requested) or lets the test run; for tests that need root but no host."""
    _require_e2e(request.config)
    return True


@pytest.fixture(scope="session")
def sandbox_tree(request: pytest.FixtureRequest) -> TreeStatus:
    """The cached Debian sid tree, built if missing or broken."""
    _require_e2e(request.config)
    try:
        return provision()
    except SandboxError as exc:
        pytest.fail(f"CinderX sandbox: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def cinderx_host(request: pytest.FixtureRequest, sandbox_tree: TreeStatus) -> Iterator[SandboxHost]:
    """A running CinderX host, ``root@127.0.0.1:<port>`` with a key; torn down (and verified) at session end."""
    stack = contextlib.ExitStack()
    try:
        host = stack.enter_context(sandbox_host())
    except SandboxError as exc:
        stack.close()
        pytest.fail(f"CinderX sandbox: {exc}", pytrace=False)
    try:
        yield host
    finally:
        try:
            stack.close()
        except SandboxError as exc:
            pytest.fail(f"CinderX sandbox teardown: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def cinderx_checkout(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CinderX checkout: the cinderx sdist (downloaded once, cached) committed on ``arm-jit``,
    plus a runtime test at the top level. Shared by the session: tests that change it revert."""
    _require_e2e(request.config)
    try:
        sdist = cinderx_tree.fetch_sdist(cache_base() / "sdist")
        return cinderx_tree.make_checkout(sdist, tmp_path_factory.mktemp("checkout"))
    except cinderx_tree.CheckoutError as exc:
        pytest.fail(f"CinderX checkout: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def cinderx_deps(request: pytest.FixtureRequest) -> Path:
    """The vendored FetchContent sources (fmt, parallel-hashmap, usdt) for an offline build."""
    _require_e2e(request.config)
    found = cinderx_tree.deps_dir(_ROOT)
    if found is None:
        pytest.skip(
            "no FetchContent sources: ../shared/vendor/cinderx-fetchcontent is absent next to the checkout "
            "(set ARMJIT_E2E_DEPS_DIR to a directory of fmt, parallel-hashmap and usdt archives)"
        )
    return found
