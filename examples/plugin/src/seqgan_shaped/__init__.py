"""An example seqgan plug-in (docs/extending.md): the algorithm ``shaped-seqgan`` and the
metric ``distinct2``, registered by the entry points in this package's pyproject.toml."""
