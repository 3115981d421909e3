// armjit test fixture: not real CinderX code.
// JIT flags, compile thresholds and the compile queue.

namespace jit {

int compileAfterNCalls(int n) {
  return n;
}

} // namespace jit
