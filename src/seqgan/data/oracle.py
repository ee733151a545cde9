"""The synthetic oracle G_oracle: an LSTM with N(0, 1) parameters (SeqGAN, "Training Setting").

It is the same network as the generator (``models.generator.Generator``), so the oracle
is a ``Generator`` with ``init_std=1``.  The original parameter files of the SeqGAN and
SeqVAE code (a pickle or ``.npz`` of 15 float32 arrays: embeddings, then ``(W, U, b)``
for the gates i, f, o, c, then ``Wo``, ``bo``; row-vector convention ``x @ W``) load into it.

NLL-oracle (Eq. 13): ``-E_{Y ~ G_theta} sum_t log G_oracle(y_t | Y_{1:t-1})``, reported
per token (divided by T), as the reference code's ``target_loss`` does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from seqgan.data.safe_pickle import load_array_pickle
from seqgan.errors import UserError
from seqgan.models.generator import Generator

PARAM_NAMES = (
    "g_embeddings",
    "Wi",
    "Ui",
    "bi",
    "Wf",
    "Uf",
    "bf",
    "Wog",
    "Uog",
    "bog",
    "Wc",
    "Uc",
    "bc",
    "Wo",
    "bo",
)


def random_oracle(
    seed: int,
    vocab_size: int = 5000,
    emb_dim: int = 32,
    hidden_dim: int = 32,
    seq_len: int = 20,
    start_token: int = 0,
) -> Generator:
    """An oracle whose every parameter is drawn N(0, 1) from ``seed`` (CPU, reproducible)."""
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        oracle = Generator(vocab_size, emb_dim, hidden_dim, seq_len, start_token, init_std=1.0)
    finally:
        torch.random.set_rng_state(state)
    return oracle.requires_grad_(False).eval()


def _read_arrays(path: Path) -> list[np.ndarray]:
    if not path.is_file():
        raise UserError(f"oracle file not found: {path}")
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                missing = [k for k in PARAM_NAMES if k not in archive]
                if missing:
                    raise UserError(f"{path}: missing arrays {', '.join(missing)}")
                return [archive[k] for k in PARAM_NAMES]
        except UserError:
            raise
        except Exception as exc:
            raise UserError(f"{path}: unreadable .npz ({type(exc).__name__}: {exc})") from None
    arrays = load_array_pickle(path)
    if (
        not isinstance(arrays, (list, tuple))
        or len(arrays) != 15
        or not all(isinstance(a, np.ndarray) for a in arrays)
    ):
        raise UserError(f"{path}: expected a list of 15 numpy arrays (oracle parameters)")
    return list(arrays)


def load_oracle(path: str | Path, seq_len: int, start_token: int = 0) -> Generator:
    """Load an oracle parameter file (``.pkl`` or ``.npz``) into a ``Generator``.

    Shapes are checked against one another; a mismatch is a one-line ``UserError``.
    """
    path = Path(path)
    p = dict(zip(PARAM_NAMES, _read_arrays(path)))
    vocab, emb = p["g_embeddings"].shape if p["g_embeddings"].ndim == 2 else (0, 0)
    hidden = p["Ui"].shape[0] if p["Ui"].ndim == 2 else 0
    expected = {"g_embeddings": (vocab, emb), "Wo": (hidden, vocab), "bo": (vocab,)}
    for gate in ("i", "f", "og", "c"):
        expected[f"W{gate}"] = (emb, hidden)
        expected[f"U{gate}"] = (hidden, hidden)
        expected[f"b{gate}"] = (hidden,)
    for name, shape in expected.items():
        if p[name].shape != shape or min(shape) == 0:
            raise UserError(f"{path}: array {name} has shape {p[name].shape}, expected {shape}")
    t = {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in p.items()}
    oracle = Generator(vocab, emb, hidden, seq_len, start_token, init_std=1.0)
    with torch.no_grad():
        oracle.embedding.weight.copy_(t["g_embeddings"])
        # torch gate order is (i, f, g, o); the file's is (i, f, o, c) with c = g.
        oracle.lstm.weight_ih_l0.copy_(torch.cat([t["Wi"], t["Wf"], t["Wc"], t["Wog"]], 1).T)
        oracle.lstm.weight_hh_l0.copy_(torch.cat([t["Ui"], t["Uf"], t["Uc"], t["Uog"]], 1).T)
        oracle.lstm.bias_ih_l0.copy_(torch.cat([t["bi"], t["bf"], t["bc"], t["bog"]]))
        oracle.lstm.bias_hh_l0.zero_()
        oracle.output.weight.copy_(t["Wo"].T)
        oracle.output.bias.copy_(t["bo"])
    return oracle.requires_grad_(False).eval()
