import pickle

import numpy as np
import pytest
import torch

from seqgan.data.oracle import PARAM_NAMES, load_oracle, random_oracle
from seqgan.data.tokens import read_token_file
from seqgan.errors import UserError
from seqgan.metrics.nll import sequence_nll


def _arrays_of(oracle) -> list[np.ndarray]:
    """The oracle's parameters in the reference file layout (x @ W convention)."""
    h = oracle.hidden_dim
    w_ih = oracle.lstm.weight_ih_l0.detach().numpy().T  # [emb, 4h], torch gate order i f g o
    w_hh = oracle.lstm.weight_hh_l0.detach().numpy().T
    b = oracle.lstm.bias_ih_l0.detach().numpy()
    gate = {"i": 0, "f": 1, "c": 2, "og": 3}
    out = {
        "g_embeddings": oracle.embedding.weight.detach().numpy(),
        "Wo": oracle.output.weight.detach().numpy().T,
        "bo": oracle.output.bias.detach().numpy(),
    }
    for name, k in gate.items():
        out[f"W{name}"] = w_ih[:, k * h : (k + 1) * h]
        out[f"U{name}"] = w_hh[:, k * h : (k + 1) * h]
        out[f"b{name}"] = b[k * h : (k + 1) * h]
    return [np.ascontiguousarray(out[n], dtype=np.float32) for n in PARAM_NAMES]


@pytest.mark.data
def test_reference_oracle_gives_published_nll(data_root):
    tokens = read_token_file(data_root / "seqgan_oracle" / "real_data.txt", 20, 5000)
    assert tokens.shape == (9984, 20)
    oracle = load_oracle(data_root / "seqgan_oracle" / "target_params_py3.pkl", seq_len=20)
    per_sequence = sequence_nll(oracle, tokens)
    nll = float(per_sequence.mean()) / 20
    assert abs(nll - 5.74) < 0.01, nll
    # the same parameters as NumPy arrays: the same values (on 500 of the sequences)
    same = load_oracle(data_root / "seqgan_oracle" / "target_params.npz", seq_len=20)
    torch.testing.assert_close(sequence_nll(same, tokens[:500]), per_sequence[:500])


def test_pickle_and_npz_round_trip(tmp_path):
    oracle = random_oracle(seed=1, vocab_size=30, emb_dim=6, hidden_dim=5, seq_len=7)
    arrays = _arrays_of(oracle)
    (tmp_path / "p.pkl").write_bytes(pickle.dumps(arrays, protocol=3))
    np.savez(tmp_path / "p.npz", **dict(zip(PARAM_NAMES, arrays)))
    tokens = oracle.sample(20)
    expected = oracle.log_prob(tokens)
    for name in ("p.pkl", "p.npz"):
        loaded = load_oracle(tmp_path / name, seq_len=7)
        assert loaded.vocab_size == 30 and loaded.hidden_dim == 5
        torch.testing.assert_close(loaded.log_prob(tokens), expected)


def test_random_oracle_is_seeded_and_standard_normal():
    a, b, c = random_oracle(7), random_oracle(7), random_oracle(8)
    assert torch.equal(a.output.weight, b.output.weight)
    assert not torch.equal(a.output.weight, c.output.weight)
    w = a.output.weight
    assert abs(float(w.mean())) < 0.02 and abs(float(w.std()) - 1.0) < 0.02


def test_wrong_shapes_are_one_line_errors(tmp_path):
    arrays = _arrays_of(random_oracle(1, 30, 6, 5, 7))
    arrays[4] = arrays[4][:, :3]  # Wf
    (tmp_path / "bad.pkl").write_bytes(pickle.dumps(arrays))
    with pytest.raises(UserError, match="array Wf has shape") as info:
        load_oracle(tmp_path / "bad.pkl", seq_len=7)
    assert "\n" not in str(info.value)
    (tmp_path / "short.pkl").write_bytes(pickle.dumps(arrays[:3]))
    with pytest.raises(UserError, match="15 numpy arrays"):
        load_oracle(tmp_path / "short.pkl", seq_len=7)
    (tmp_path / "trunc.pkl").write_bytes(pickle.dumps(arrays)[:500])
    with pytest.raises(UserError, match="unreadable pickle"):
        load_oracle(tmp_path / "trunc.pkl", seq_len=7)


class _Payload:
    def __reduce__(self):
        import os

        return (os.system, ("touch PWNED_BY_PICKLE",))


def test_pickle_with_code_is_refused_and_not_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps([_Payload()]))
    with pytest.raises(UserError, match="refused global"):
        load_oracle(tmp_path / "evil.pkl", seq_len=7)
    assert not (tmp_path / "PWNED_BY_PICKLE").exists()


def test_nll_is_exact_per_sequence_sum():
    oracle = random_oracle(2, 12, 4, 4, 5)
    tokens = oracle.sample(3)
    # brute force with the step interface
    state = oracle.initial_state(3)
    token = oracle.start_tokens(3)
    total = torch.zeros(3, dtype=torch.float64)
    for t in range(5):
        logits, state = oracle.step(token, state)
        total -= torch.log_softmax(logits.double(), -1).gather(1, tokens[:, t : t + 1]).squeeze(1)
        token = tokens[:, t]
    torch.testing.assert_close(sequence_nll(oracle, tokens), total, rtol=1e-5, atol=1e-5)
