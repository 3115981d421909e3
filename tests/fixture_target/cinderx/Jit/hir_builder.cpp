// armjit test fixture: not real CinderX code.
// Bytecode -> HIR translation.

namespace jit::hir {

bool supportsOpcode(int opcode) {
  return opcode != 64; // DELETE_GLOBAL
}

} // namespace jit::hir
