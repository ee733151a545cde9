"""Experiments over many runs: ``seqgan compare`` (a local pool of subprocesses or Ray
tasks), its jobs and report, and quality-diversity curves over temperature."""
