"""RankGAN's rank score (Lin et al. 2017, Eqs. 2-4) and the losses built on it.

For a candidate u, a reference set U and a comparison set C of sequences, with y the
ranker's embeddings (``models.ranker.Ranker``):

    alpha(u|s)  = cos(y_u, y_s)                                            (Eq. 2)
    P(u|s, C')  = exp(gamma alpha(u|s)) / sum_{u' in C'} exp(gamma alpha(u'|s)),
                  C' = C + {u}                                             (Eq. 3)
    R(u|U, C)   = E_{s in U} P(u|s, C')                                    (Eq. 4)

``log_rank_scores`` computes log R for every candidate at once in log space (a
log-sum-exp over C' and a log-mean-exp over U).  The ranker maximises (Eq. 1)
E_{s ~ data} log R(s|U, C-) + E_{s ~ G} log(1 - R(s|U, C+)), C- a comparison set of
generated sequences, C+ one of real sequences; the generator's reward for a finished
sequence is log R(Y|U, C+) (the expected log-rank of Eqs. 5-7, by MC search).
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F


def log_rank_scores(
    candidates: torch.Tensor, references: torch.Tensor, comparison: torch.Tensor, gamma: float
) -> torch.Tensor:
    """``log R(u|U, C)`` ``[n]`` for embeddings ``candidates [n, F]``, ``references
    [|U|, F]``, ``comparison [|C|, F]`` and the softmax's inverse temperature ``gamma``."""
    refs = F.normalize(references, dim=1)
    own = gamma * F.normalize(candidates, dim=1) @ refs.T  # [n, |U|]: gamma alpha(u|s)
    others = gamma * F.normalize(comparison, dim=1) @ refs.T  # [|C|, |U|]
    rest = torch.logsumexp(others, dim=0)  # [|U|]: log sum_{u' in C} exp(gamma alpha(u'|s))
    log_p = own - torch.logaddexp(own, rest)  # [n, |U|]: log P(u|s, C + {u})
    return torch.logsumexp(log_p, dim=1) - math.log(references.shape[0])


def ranker_loss(real_log_rank: torch.Tensor, fake_log_rank: torch.Tensor) -> torch.Tensor:
    """The ranker's loss, Eq. 1 negated: ``-mean log R(real|U, C-) - mean log(1 - R(fake|
    U, C+))`` from the two log-rank vectors."""
    return -real_log_rank.mean() - torch.log1p(-fake_log_rank.exp()).mean()


class LogRankReward:
    """The generator's reward: ``log R(Y|U, C+)`` ``[m]`` of finished sequences against a
    fixed reference set and comparison set of real sequences (embedded once, dropout off);
    the callable ``rl.rollout.mc_search_q`` averages over roll-outs (Eq. 5's V)."""

    def __init__(
        self,
        ranker,
        references: torch.Tensor,
        comparison: torch.Tensor,
        gamma: float,
        chunk: int = 0,
    ):
        self.ranker, self.gamma, self.chunk = ranker, gamma, chunk
        self.references = ranker.embed_for_scoring(references, chunk)
        self.comparison = ranker.embed_for_scoring(comparison, chunk)

    @torch.no_grad()
    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
        y = self.ranker.embed_for_scoring(tokens, self.chunk)
        return log_rank_scores(y, self.references, self.comparison, self.gamma)
