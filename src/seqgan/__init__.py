"""seqgan: adversarial and reinforcement-learning training of discrete sequence generators."""

__version__ = "0.1.0"
