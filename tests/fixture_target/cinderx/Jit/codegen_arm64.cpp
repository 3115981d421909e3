// Copyright (c) Meta Platforms, Inc. and affiliates. (armjit test fixture: not real CinderX code)
// AArch64 code generation for the JIT's LIR.
// FIXTURE-FEATURE fast_path=on

#include "cinderx/Jit/codegen/arch/arm64.h"

namespace jit::codegen {

void emitHelperCall(Assembler& as, void* target) {
  // Call helpers through a shared stub (BL) instead of materializing a 64-bit address.
  as.bl(stubFor(target));
}

} // namespace jit::codegen
