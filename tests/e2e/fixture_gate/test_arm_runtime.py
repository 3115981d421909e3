"""Runtime test gate for hosts without a CinderX source tree (the ``--build pypi`` path).

Runs ON the CinderX host, in a venv where ``cinderx`` is installed: ``python test_arm_runtime.py``. It stands
in for ``cinderx/PythonLib/test_cinderx/test_arm_runtime.py`` of a checkout: a few real checks that the
installed JIT initialises, compiles on request, and that compiled code runs and behaves like the interpreter.
Standard library only (plus cinderx), so it can be copied to a host as a single file.
"""

from __future__ import annotations

import re
import unittest
from collections.abc import Iterator

import cinderx  # type: ignore[import-not-found,unused-ignore]
from cinderx import jit  # type: ignore[import-not-found,unused-ignore]


def _add_one(x: int) -> int:
    return x + 1


def _loop_sum(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def _raise_on_negative(x: int) -> int:
    if x < 0:
        raise ValueError(f"negative: {x}")
    return x * 2


def _countdown(n: int) -> Iterator[int]:
    while n > 0:
        yield n
        n -= 1


class _Point:
    def __init__(self, x: float, y: float) -> None:
        self.x = x
        self.y = y

    def norm2(self) -> float:
        return self.x * self.x + self.y * self.y


class ArmRuntimeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        # Only the functions these tests force-compile should be compiled: keep auto-compilation out of the way.
        jit.enable()
        jit.compile_after_n_calls(1_000_000)

    def test_cinderx_initialized(self) -> None:
        self.assertIsNone(cinderx.get_import_error())
        self.assertTrue(cinderx.is_initialized())
        self.assertTrue(jit.is_enabled())

    def test_force_compile_gives_native_code(self) -> None:
        jit.force_uncompile(_add_one)
        self.assertFalse(jit.is_jit_compiled(_add_one))
        self.assertTrue(jit.force_compile(_add_one))
        self.assertTrue(jit.is_jit_compiled(_add_one))
        self.assertGreater(jit.get_compiled_size(_add_one), 0)
        self.assertEqual(_add_one(41), 42)

    def test_compiled_code_is_not_interpreted(self) -> None:
        self.assertTrue(jit.force_compile(_loop_sum))
        before = jit.count_interpreted_calls(_loop_sum)
        results = [_loop_sum(n) for n in range(200)]
        self.assertEqual(jit.count_interpreted_calls(_loop_sum), before)
        self.assertEqual(results, [sum(i * i for i in range(n)) for n in range(200)])

    def test_exceptions_propagate_from_compiled_code(self) -> None:
        self.assertTrue(jit.force_compile(_raise_on_negative))
        self.assertEqual(_raise_on_negative(3), 6)
        with self.assertRaisesRegex(ValueError, "negative: -1"):
            _raise_on_negative(-1)

    def test_compiled_generator(self) -> None:
        self.assertTrue(jit.force_compile(_countdown))
        self.assertEqual(list(_countdown(5)), [5, 4, 3, 2, 1])
        self.assertEqual(sum(_countdown(1000)), 500500)

    def test_compiled_method_and_float_arithmetic(self) -> None:
        self.assertTrue(jit.force_compile(_Point.norm2))
        self.assertEqual(_Point(3.0, 4.0).norm2(), 25.0)
        self.assertTrue(jit.is_jit_compiled(_Point.norm2))

    def test_uncompile_returns_to_interpreter(self) -> None:
        def local(x: int) -> int:
            return x - 1

        self.assertTrue(jit.force_compile(local))
        jit.force_uncompile(local)
        self.assertFalse(jit.is_jit_compiled(local))
        before = jit.count_interpreted_calls(local)
        self.assertEqual(local(1), 0)
        self.assertEqual(jit.count_interpreted_calls(local), before + 1)

    def test_regex_and_generator_expression_under_jit(self) -> None:
        # The startup smoke's workload, as a test: it crashed an early AArch64 port.
        gen = (i for i in [1])
        self.assertEqual(next(gen, None), 1)
        self.assertIsNotNone(re.compile("a+").fullmatch("aaa"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
