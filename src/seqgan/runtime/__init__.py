"""The process runtime: CPU threads, devices, signals, progress (used by every layer above)."""
