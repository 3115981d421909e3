"""Side effects: hosts (processes, SSH, transfer), the run store, notes files, git."""
