"""Pure analysis: statistics and verdicts, pyperf data, comparisons, JIT-log mining."""
