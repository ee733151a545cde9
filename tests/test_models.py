import torch
from torch.nn import functional as F

from seqgan.models.discriminator import Discriminator
from seqgan.models.generator import Generator


def test_teacher_forced_log_prob_equals_stepwise():
    g = Generator(30, 6, 7, 9, start_token=2)
    tokens = g.sample(5)
    assert tokens.shape == (5, 9) and tokens.dtype == torch.long
    state, token, rows = g.initial_state(5), g.start_tokens(5), []
    for t in range(9):
        logits, state = g.step(token, state)
        rows.append(F.log_softmax(logits, -1).gather(1, tokens[:, t : t + 1]).squeeze(1))
        token = tokens[:, t]
    torch.testing.assert_close(g.log_prob(tokens), torch.stack(rows, 1))


def test_prefix_states_are_states_before_each_prefix_token():
    g = Generator(30, 6, 7, 9)
    tokens = g.sample(4)
    states = g.prefix_states(tokens)
    assert len(states) == 8
    for t in (1, 5, 8):  # feeding y_t to states[t-1] must predict y_{t+1} like teacher forcing
        logits, _ = g.step(tokens[:, t - 1], states[t - 1])
        torch.testing.assert_close(logits, g.logits(tokens)[:, t])


def test_sample_is_reproducible_and_chunk_independent():
    g = Generator(30, 6, 7, 9)
    a = g.sample(50, batch_size=50, generator=torch.Generator().manual_seed(1))
    b = g.sample(50, batch_size=50, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert g.sample(0).shape == (0, 9)


def _naive_features(d: Discriminator, tokens: torch.Tensor) -> torch.Tensor:
    """Eq. 12 literally: relu(w . E[i:i+l] + b) at every window, then max over time."""
    emb = d.embedding(tokens)  # [n, T, k]
    out, offset = [], 0
    for w in d.conv_weights:
        f, _, width = w.shape
        bias = d.conv_bias[offset : offset + f]
        offset += f
        windows = emb.unfold(1, width, 1)  # [n, P, k, width]
        c = torch.einsum("npkw,fkw->npf", windows, w) + bias
        out.append(F.relu(c).amax(1))
    return torch.cat(out, 1)


def test_discriminator_features_equal_eq12_with_max_over_time():
    d = Discriminator(25, 10, 5, [1, 3, 10], [4, 3, 2])
    with torch.no_grad():
        d.conv_bias.normal_()
    tokens = torch.randint(0, 25, (6, 10))
    torch.testing.assert_close(d.features(tokens), _naive_features(d, tokens))
    assert d(tokens).shape == (6, 2)
    probs = d.prob_real(tokens, chunk=4)
    assert probs.shape == (6,) and bool(((probs >= 0) & (probs <= 1)).all())
    assert d.training  # prob_real restores the mode


def test_prob_real_has_dropout_off():
    d = Discriminator(25, 10, 5, [1, 3], [4, 3], dropout=0.9)
    tokens = torch.randint(0, 25, (8, 10))
    assert torch.equal(d.prob_real(tokens), d.prob_real(tokens))
