"""Metrics (definitions in docs/metrics.md): NLL, BLEU / Self-BLEU under conventions,
music metrics, GAN diagnostics, Welch's t-test, and the ``Evaluator`` that runs them."""

from seqgan._lazy import lazy_dir, lazy_exports

# (the BLEU function is ``seqgan.metrics.bleu.bleu``: ``bleu`` here is its module)
_NAMES = {
    "sequence_nll": ".nll",
    "per_token_nll": ".nll",
    "self_bleu": ".bleu",
    "BleuConvention": ".bleu",
    "CONVENTIONS": ".bleu",
    "music_metrics": ".music",
    "welch_t_test": ".stats",
    "policy_entropy": ".gan_diagnostics",
    "precision_recall": ".gan_diagnostics",
    "Evaluator": ".evaluation",
}
__all__ = list(_NAMES)
__getattr__ = lazy_exports(__name__, _NAMES)
__dir__ = lazy_dir(globals(), _NAMES)
