#!/usr/bin/env bash
# First run for a new contributor: the preflight, then the embedded-default baseline.
#
#   scripts/onboard.sh                  # this machine: doctor, then a baseline with no repo (nojit on this Python)
#   scripts/onboard.sh --host arm-box   # any settings flag is passed to both commands
#
# doctor exits non-zero when a check the baseline needs fails; its table says what to do.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x .venv/bin/invoke ]; then
    INVOKE=(.venv/bin/invoke)
else
    INVOKE=(python -m invoke)
fi
echo "== armjit doctor =="
"${INVOKE[@]}" doctor "$@"
echo
echo "== armjit baseline (embedded default) =="
"${INVOKE[@]}" baseline "$@"
echo
echo "Next: invoke status  (then red -k NAME, green -k NAME, verify, handoff; see README)"
