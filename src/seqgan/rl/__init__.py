"""Reinforcement-learning parts: sampling (``Sampling``, ``sample_from_logits``), Monte
Carlo search (``mc_search_q``), action-value estimators, rewards, the policy-gradient loss."""

from seqgan._lazy import lazy_dir, lazy_exports

_NAMES = {
    "Sampling": "seqgan.models.sampling",
    "sample_from_logits": "seqgan.models.sampling",
    "mc_search_q": ".rollout",
    "update_rollout_policy": ".rollout",
    "action_values": ".estimators",
    "DiscriminatorReward": ".rewards",
    "BleuReward": ".rewards",
    "policy_gradient_loss": ".policy_gradient",
}
__all__ = list(_NAMES)
__getattr__ = lazy_exports(__name__, _NAMES)
__dir__ = lazy_dir(globals(), _NAMES)
