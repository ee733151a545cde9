"""The SeqGAN-MERL paper's Figure 2: the policies π(·|s_t) of several trained generators at
one step t of one fixed trajectory, side by side, each with its entropy.

The trajectory is the first held-out sequence of the first run's task (same seed, same
data, so it is fixed for a given config); every generator reads its first t tokens
(teacher forced) and its next-token distribution at step t + 1 is drawn.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.nn import functional as F

from seqgan.errors import UserError
from seqgan.training.figures import pyplot, save_figure


@torch.no_grad()
def policy_at(generator, trajectory: torch.Tensor, step: int) -> torch.Tensor:
    """π(·|s_step) ``[V]``: the next-token distribution after reading ``trajectory[:step]``."""
    device = next(generator.parameters()).device
    # [T, V]; row t predicts y_{t+1}
    logits = generator.logits(trajectory.unsqueeze(0).to(device))[0]
    return F.softmax(logits[step], dim=-1).cpu()  # plotted from the CPU


def entropy(probs: torch.Tensor) -> float:
    """−Σ p log p in nats (0 log 0 = 0)."""
    p = probs.double()
    return float(-(p[p > 0] * p[p > 0].log()).sum())


def plot_policies(policies: dict[str, torch.Tensor], step: int, path: Path, top: int = 30) -> None:
    """Two panels: each policy's probabilities in decreasing order (rank plot, log-log: a
    flatter curve is a higher entropy), and bars of the first policy's ``top`` tokens
    under every policy."""
    names = list(policies)
    order = torch.argsort(policies[names[0]], descending=True)
    fig, (left, right) = pyplot().subplots(1, 2, figsize=(12, 4.2))
    for name in names:
        probs = torch.sort(policies[name], descending=True).values
        left.plot(
            range(1, len(probs) + 1),
            probs.numpy(),
            label=f"{name} (H = {entropy(policies[name]):.2f} nats)",
        )
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("rank of the token under each policy")
    left.set_ylabel(f"π(token | s_{step})")
    left.legend(fontsize="small")
    left.grid(alpha=0.3)
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        right.bar(
            [k + i * width for k in range(top)],
            policies[name][order[:top]].numpy(),
            width=width,
            label=name,
        )
    right.set_xticks(
        [k + 0.4 - width / 2 for k in range(top)],
        [str(int(t)) for t in order[:top]],
        rotation=90,
        fontsize="x-small",
    )
    right.set_xlabel("token id")
    right.set_title(f"the {top} most likely tokens under {names[0]}")
    right.legend(fontsize="small")
    fig.suptitle(f"Policies at step {step} of one fixed trajectory")
    save_figure(fig, path)


def compare_policies(
    generators: dict[str, torch.nn.Module], trajectory: torch.Tensor, step: int, path: Path
) -> dict[str, float]:
    """Draw the figure; return each generator's entropy at that step."""
    if not 0 <= step < trajectory.shape[0]:
        raise UserError(f"--step must be in [0, {trajectory.shape[0] - 1}], got {step}")
    policies = {name: policy_at(g, trajectory, step) for name, g in generators.items()}
    plot_policies(policies, step, path)
    return {name: entropy(p) for name, p in policies.items()}
