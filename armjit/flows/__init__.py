"""The plan steps as flows over the seams: baseline, ab, verify, red/green, handoff, doctor."""
