"""ARM runtime checks (armjit fixture): run with ``python cinderx/PythonLib/test_cinderx/test_arm_runtime.py``.

Red/green: edit ``// FIXTURE-FEATURE fast_path=on`` in ``cinderx/Jit/codegen_arm64.cpp`` to ``off``
and rebuild (``test_arm64_fast_path`` fails), or set ``CINDERX_FIXTURE_FAIL=token,...`` to make every
test whose id contains a token fail.
"""

from __future__ import annotations

import os
import unittest
from pathlib import Path

import cinderx
from cinderx import _sources

CHECKOUT = Path(__file__).resolve().parents[3]


class ArmRuntimeTests(unittest.TestCase):
    def setUp(self) -> None:
        tokens = [t for t in os.environ.get("CINDERX_FIXTURE_FAIL", "").split(",") if t]
        hit = [t for t in tokens if t in self.id()]
        if hit:
            self.fail(f"CINDERX_FIXTURE_FAIL asked this test to fail ({', '.join(hit)})")

    def test_cinderx_initialized(self) -> None:
        self.assertTrue(cinderx.is_initialized(), cinderx.get_import_error())

    def test_installed_build_matches_checkout(self) -> None:
        if not (CHECKOUT / "cinderx" / "Jit").is_dir():
            self.skipTest("not run from a checkout")
        self.assertEqual(
            cinderx.SOURCES_SHA256,
            _sources.sources_sha256(CHECKOUT),
            "the installed wheel was not built from these sources (stale wheel?)",
        )

    def test_arm64_fast_path(self) -> None:
        self.assertTrue(cinderx.fast_path_enabled(), f"fast_path is {cinderx.FEATURES.get('fast_path')!r}")

    def test_aarch64_call_stub_alignment(self) -> None:
        # Branch targets of the shared helper stubs must stay 4-byte aligned.
        offsets = [index * 16 for index in range(8)]
        self.assertTrue(all(offset % 4 == 0 for offset in offsets))


if __name__ == "__main__":
    unittest.main()
