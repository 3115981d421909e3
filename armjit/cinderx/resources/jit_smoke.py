"""JIT-effective smoke (remote_update_build_test.sh step 6), tolerant of API differences.

Prints ``jit-effective-ok compiled_size N interp_calls M`` on success, exits 1 with the reason
otherwise.
"""

import sys


def fail(reason):
    print(f"jit-effective-failed: {reason}")
    sys.exit(1)


def target(x):
    total = 0
    for i in range(x):
        total += i * 2
    return total


def main():
    try:
        import cinderx
        import cinderx.jit as jit
    except Exception as exc:
        fail(f"cannot import cinderx.jit: {type(exc).__name__}: {exc}")
    if hasattr(cinderx, "is_initialized") and not cinderx.is_initialized():
        fail(f"cinderx.is_initialized() is False ({getattr(cinderx, 'get_import_error', lambda: '')()})")
    jit.enable()
    if hasattr(jit, "compile_after_n_calls"):
        jit.compile_after_n_calls(1000000)
    counter = getattr(jit, "count_interpreted_calls", None)
    if hasattr(jit, "force_uncompile"):
        jit.force_uncompile(target)
    before = counter(target) if counter else 0
    for _ in range(10):
        target(10)
    if counter and counter(target) <= before:
        fail("interpreted call count did not rise before compilation")
    if not jit.force_compile(target):
        fail("force_compile returned False")
    if not jit.is_jit_compiled(target):
        fail("is_jit_compiled is False after force_compile")
    size = jit.get_compiled_size(target)
    if size <= 0:
        fail(f"get_compiled_size is {size}")
    start = counter(target) if counter else 0
    for _ in range(2000):
        target(10)
    interp = (counter(target) - start) if counter else -1
    if counter and interp > 0:
        fail(f"compiled function still ran {interp} times in the interpreter")
    print(f"jit-effective-ok compiled_size {size} interp_calls {interp}")


main()
