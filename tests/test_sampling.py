import torch
from scipy.stats import chisquare

from seqgan.models.sampling import sample_from_logits


def test_inverse_cdf_matches_the_categorical_distribution():
    probs = torch.tensor([0.05, 0.0, 0.4, 0.15, 0.3, 0.1])
    logits = torch.log(probs).expand(200_000, -1)
    tokens = sample_from_logits(logits, generator=torch.Generator().manual_seed(0))
    counts = torch.bincount(tokens, minlength=6)
    assert counts[1] == 0  # zero-probability class never drawn
    keep = probs > 0
    expected = probs[keep].double() / probs[keep].double().sum() * len(tokens)
    result = chisquare(counts[keep].double().numpy(), expected.numpy())
    assert result.pvalue > 1e-3, result


def test_same_uniforms_same_tokens_and_edges():
    logits = torch.randn(4, 10)
    u = torch.tensor([0.0, 0.5, 0.999999, 0.25])
    a, b = sample_from_logits(logits, u), sample_from_logits(logits, u.clone())
    assert torch.equal(a, b)
    assert a.dtype == torch.long and int(a.min()) >= 0 and int(a.max()) <= 9
    cdf = torch.softmax(logits, -1).cumsum(-1)
    for row in range(4):  # smallest k with u * F_V < F_k
        k = int(a[row])
        assert u[row] * cdf[row, -1] < cdf[row, k]
        assert k == 0 or u[row] * cdf[row, -1] >= cdf[row, k - 1]


# Uniforms at or just below 1: only tokens of positive probability may be drawn.

ONE_BELOW_F32 = torch.nextafter(torch.tensor(1.0), torch.tensor(0.0))  # 1 - 2**-24


def _old_formula(logits, uniforms):
    """The sampler before the uniforms were clamped below 1 (for the unchanged-draw test)."""
    cdf = torch.cumsum(torch.softmax(logits, dim=-1), dim=-1)
    targets = (uniforms.to(cdf.dtype) * cdf[:, -1]).unsqueeze(-1)
    tokens = torch.searchsorted(cdf, targets, right=True).squeeze(-1)
    return tokens.clamp_(max=logits.shape[-1] - 1)


def _last_increase(logits):
    """Per row, the index of the last strict increase of the cumulative sum: the last
    class of positive probability (one whose p_k is lost in the float32 sum never counts)."""
    cdf = torch.cumsum(torch.softmax(logits, dim=-1), dim=-1)
    rises = cdf > torch.nn.functional.pad(cdf[:, :-1], (1, 0))
    return logits.shape[-1] - 1 - rises.flip(-1).int().argmax(-1)


def test_float64_uniform_just_below_one_never_draws_a_zero_probability_last_class():
    torch.manual_seed(0)
    logits = torch.randn(64, 7)
    logits[:, -1] = float("-inf")
    u = torch.full((64,), 1 - 2**-53, dtype=torch.float64)
    assert u.to(torch.float32).eq(1).all()  # the case: the cast rounds to 1.0
    tokens = sample_from_logits(logits, u)
    assert not (tokens == 6).any()
    assert torch.equal(tokens, torch.full((64,), 5))  # the last class of positive probability
    # every float64 that rounds to 1.0 in float32, and a softmax underflowing to exactly 0
    under = torch.tensor([[0.0, 0.0, -200.0]]).expand(5, -1)
    assert torch.softmax(under, -1)[0, -1] == 0
    u = torch.tensor(
        [1 - 2**-25, 1 - 2**-26, 1 - 2**-40, 1 - 2**-52, 1 - 2**-53], dtype=torch.float64
    )
    assert u.to(torch.float32).eq(1).all()
    assert torch.equal(sample_from_logits(under, u), torch.ones(5, dtype=torch.long))


def test_float32_uniform_at_nextafter_one_never_draws_a_zero_probability_last_class():
    torch.manual_seed(1)
    logits = 3 * torch.randn(4096, 50)  # F_V = the float32 cumulative sum, not exactly 1
    logits[:, -1] = float("-inf")
    tokens = sample_from_logits(logits, ONE_BELOW_F32.expand(4096))
    assert int(tokens.max()) <= 48
    assert torch.equal(tokens, _last_increase(logits))


def test_several_zero_classes_at_the_end():
    probs = torch.tensor([0.2, 0.0, 0.3, 0.5, 0.0, 0.0, 0.0])
    logits = torch.log(probs).expand(6, -1)
    u = torch.tensor(
        [1 - 2**-53, 1 - 2**-30, 1 - 2**-25, float(ONE_BELOW_F32), 0.0, 0.4], dtype=torch.float64
    )
    assert torch.equal(sample_from_logits(logits, u), torch.tensor([3, 3, 3, 3, 0, 2]))
    # softmax underflow: the last 40 classes get probability exactly 0, at random rows
    torch.manual_seed(2)
    logits = torch.randn(256, 60)
    logits[:, 20:] -= 1e4
    assert (torch.softmax(logits, -1)[:, 20:] == 0).all()
    for u in (
        torch.full((256,), 1 - 2**-53, dtype=torch.float64),
        ONE_BELOW_F32.expand(256),
        torch.rand(256, dtype=torch.float64),
    ):
        assert int(sample_from_logits(logits, u).max()) <= 19
    assert torch.equal(
        sample_from_logits(logits, ONE_BELOW_F32.expand(256)), _last_increase(logits)
    )


def test_ordinary_uniforms_draw_the_same_tokens_as_before():
    torch.manual_seed(3)
    logits = 2 * torch.randn(20_000, 30)
    logits[torch.rand(20_000, 30) < 0.2] = float("-inf")  # zero classes, some at the end
    logits[:, 0] = 0.0  # every row keeps one class of positive probability
    u32 = torch.rand(20_000)
    u32[:50] = ONE_BELOW_F32
    u64 = torch.rand(20_000, dtype=torch.float64)
    u64 = u64[u64.to(torch.float32) < 1]  # below 1 after the cast: the ordinary case
    for u in (u32, u64):
        rows = logits[: len(u)]
        assert torch.equal(sample_from_logits(rows, u), _old_formula(rows, u))
    double = logits.double()  # a float64 cdf: float32 and float64 uniforms alike
    for u in (u32, u64):
        rows = double[: len(u)]
        assert torch.equal(sample_from_logits(rows, u), _old_formula(rows, u))
    # the default draw (no uniforms) is the same stream of tokens as before
    a = sample_from_logits(logits, generator=torch.Generator().manual_seed(4))
    b = _old_formula(logits, torch.rand(20_000, generator=torch.Generator().manual_seed(4)))
    assert torch.equal(a, b)


def test_uniforms_are_not_modified():
    u = torch.full((3,), float(ONE_BELOW_F32))
    u64 = torch.full((3,), 1 - 2**-53, dtype=torch.float64)
    before, before64 = u.clone(), u64.clone()
    sample_from_logits(torch.zeros(3, 4), u)
    sample_from_logits(torch.zeros(3, 4, dtype=torch.float64), u64)
    assert torch.equal(u, before) and torch.equal(u64, before64)


def _bytes_allocated(call) -> int:
    """Bytes the CPU allocator handed out during ``call()`` (torch.profiler)."""
    with torch.profiler.profile(
        activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True
    ) as prof:
        call()
    return sum(e.cpu_memory_usage for e in prof.events() if e.cpu_memory_usage > 0)


def test_a_draw_makes_no_new_rows_by_vocabulary_tensor():
    """The probabilities and their cumulative sum go into a buffer kept between draws (at
    V = 14,595 the [n, V] tensors made and freed at every step were 40 % of a run's CPU
    time, in page faults); before: two new [256, 3000] tensors (6 MB) per draw."""
    logits = torch.randn(256, 3000)
    sample_from_logits(logits)  # the buffer is made once
    assert _bytes_allocated(lambda: sample_from_logits(logits)) < 256 * 3000 * 4 // 10


def test_the_kept_buffer_draws_as_the_plain_formula_and_leaves_the_logits_alone():
    # shapes that grow and shrink, both dtypes, -inf classes: the buffer is grown, cut
    # to the shape, never read before it is written
    torch.manual_seed(5)
    for rows, vocab, dtype in (
        (64, 500, torch.float32),
        (300, 2000, torch.float32),
        (7, 40, torch.float32),
        (50, 900, torch.float64),
    ):
        logits = (3 * torch.randn(rows, vocab)).to(dtype)
        logits[torch.rand(rows, vocab) < 0.3] = float("-inf")
        logits[:, 0] = 0.0
        before = logits.clone()
        u = torch.rand(rows)
        assert torch.equal(sample_from_logits(logits, u), _old_formula(logits, u))
        assert torch.equal(logits, before)


def test_sampling_adds_the_never_output_penalty_in_place_to_the_same_logits():
    from seqgan.models.generator import Generator

    torch.manual_seed(6)
    g = Generator(50, 8, 8, 6, eos_token=2, pad_token=0, never_output=(0, 1))
    tokens, state = torch.randint(3, 50, (9,)), g.initial_state(9)
    with torch.no_grad():
        in_place, _ = g.step(tokens, state)
        hidden, _ = g.step_hidden(tokens, state)
        assert torch.equal(in_place, g.output(hidden) + g.output_penalty)
    assert (in_place[:, :2] < -1e8).all()
    with torch.enable_grad():  # with autograd: out of place, differentiable
        logits = g._out(hidden.requires_grad_())
        logits.sum().backward()
    assert torch.equal(logits.detach(), in_place) and hidden.grad is not None


def test_continue_from_writes_each_steps_logits_into_one_kept_buffer():
    """Without autograd the MC search's steps write their ``[n, V]`` logits into one kept
    buffer (``scratch`` slot "logits") instead of a new tensor per step (at V = 14,595 the
    last of the per-step tensors; before: T new ``[n, V]`` tensors per call), and draw the
    same tokens as the steps with autograd on (the plain ``nn.Linear`` product)."""
    from seqgan.models.generator import Generator
    from seqgan.models.relgan import RelGANGenerator

    torch.manual_seed(7)
    rows, vocab, length = 256, 3000, 6
    plain = Generator(vocab, 8, 8, length, eos_token=2, pad_token=0, never_output=(0, 1))
    relgan = RelGANGenerator(vocab, 8, length, num_heads=2, head_size=4, never_output=(0,))
    for g in (plain, relgan):
        tokens = torch.randint(3, vocab, (rows, length))
        prefix, state = tokens[:, :2], g.prefix_states(tokens)[1]  # state: before y_2
        u = torch.rand(rows, length - 2)
        with torch.enable_grad():
            expected = g.continue_from(prefix, state, u)
        with torch.no_grad():
            g.continue_from(prefix, state, u)  # the buffers are made once
            assert torch.equal(g.continue_from(prefix, state, u), expected)
            with torch.profiler.profile(
                activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True
            ) as prof:
                g.continue_from(prefix, state, u)
        largest = max(e.cpu_memory_usage for e in prof.events())
        assert largest < rows * vocab * 4 // 10, largest  # no [n, V] tensor made
