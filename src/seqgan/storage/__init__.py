"""Run storage: atomic file writes, the one-writer lock, the run folder and its files,
checkpoints.  Uses nothing above the config (docs/architecture.md, "Layers")."""
