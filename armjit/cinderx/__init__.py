"""The CinderX profile: JIT modes, remote command builders, the JIT gate, the targeted test runner."""
