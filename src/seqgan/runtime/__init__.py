"""Process runtime: CPU threads and OpenMP waiting, the device, lines and progress on the
console, signals, and the loopback-only check of the Ray tests.  Uses nothing above the
errors (docs/architecture.md, "Layers")."""
