"""RelGAN's networks (Nie, Narodytska & Patel, ICLR 2019; docs/algorithms/relgan.md).

* ``RelationalMemory``: the relational memory core (Santoro et al. 2018) as the recurrent
  cell.  The memory M_t is ``[n, N, D]`` (N ``mem_slots``, D = H heads x d ``head_size``);
  a step reads the input x_t (a token embedding, projected to D) and

      A    = [M_t; x_t]                                         [n, N+1, D]
      Q, K, V = split(LN(A W_qkv)) per head; Q scaled by (2k + d)^-1/2
      A'   = LN(A + softmax(Q K^T) V)                 (multi-head self-attention)
      M~   = LN(A' + MLP(A'))[:, :N]                  (2-layer ReLU MLP; the x_t row dropped)
      i, f = sigmoid(W_i x~_t + U_i tanh(M_t) + b_i), sigmoid(W_f x~_t + U_f tanh(M_t) + b_f)
      M_t+1 = i * tanh(M~) + f * M_t                  (gated update, b_i = 0, b_f = 1)

  with x~_t the projected input; each LN normalises over all N+1 rows and D columns
  together with a gain and bias per column, as the authors' code (``tf.contrib.layers.
  layer_norm`` of ``[n, N+1, D]``).  The output o_t is M_t+1 flattened, ``[n, N D]``.

* ``RelGANGenerator``: a ``models.generator.Generator`` whose recurrent core is that
  memory (``initial_state``, ``step_hidden``, ``hidden_states`` replaced; the state is the
  tuple ``(memory,)``), so sampling with temperature / top-k / top-p, ``log_prob``,
  ``continue_from``, the NLL metrics and the chunked output kernel are the LSTM's own.
  ``relaxed_sample`` is the free-running Gumbel-softmax pass of adversarial training.

* ``RelGANDiscriminator``: S embedded representations of a one-hot (or relaxed one-hot)
  sequence, one CNN shared by all S, a highway layer, dropout and two linear layers to
  one logit per representation, ``[n, S]``.

Initialisation is the authors' (``utils/ops.py``): weights truncated normal with standard
deviation 1 / sqrt(fan-in) (2 standard deviations), biases 0, layer-norm gains 1, the
discriminator's filters truncated normal sqrt(2 / (w e)).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn import functional as F

from seqgan.models.discriminator import Highway
from seqgan.models.discriminator_kernels import KERNELS
from seqgan.models.generator import Generator, State, set_special_tokens

LAYER_NORM_EPS = 1e-12  # tf.contrib.layers.layer_norm's variance epsilon (the authors' code)
D_HIDDEN = 100  # the discriminator's linear layer before its logit (authors' code)


def _trunc_normal(tensor: torch.Tensor, std: float) -> None:
    nn.init.trunc_normal_(tensor, std=std, a=-2 * std, b=2 * std)


def fan_in_init(module: nn.Module) -> None:
    """Every ``nn.Linear`` / ``nn.Embedding`` in ``module``, in registration order:
    weights truncated N(0, 1 / fan-in) (an embedding's fan-in: its rows), biases 0."""
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, nn.Linear):
                _trunc_normal(layer.weight, 1 / math.sqrt(layer.in_features))
                if layer.bias is not None:
                    layer.bias.zero_()
            elif isinstance(layer, nn.Embedding):
                _trunc_normal(layer.weight, 1 / math.sqrt(layer.num_embeddings))


def joint_norm(x: torch.Tensor, gain: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Layer norm of ``x [n, R, D]`` over its R rows and D columns together, then a gain and
    a bias per column ``[D]``."""
    n, rows, size = x.shape
    flat = F.layer_norm(
        x.reshape(n, rows * size), (rows * size,), gain.repeat(rows), bias.repeat(rows)
    )
    return flat.view(n, rows, size)


class RelationalMemory(nn.Module):
    """The relational memory core (module docstring): ``step`` one input, ``unroll`` many.

    Args:
        input_size: size of each input x_t (the token embedding).
        mem_slots: N.
        num_heads: H.
        head_size: d, the size of each head's values (and keys, as the authors' code).
        mlp_layers: layers of the post-attention MLP (authors: 2).
        forget_bias / input_bias: constants added to the gates' pre-activations (1, 0).
    """

    memory_init: torch.Tensor  # buffer [N, D]: M_0 of one row

    def __init__(
        self,
        input_size: int,
        mem_slots: int,
        num_heads: int,
        head_size: int,
        mlp_layers: int = 2,
        forget_bias: float = 1.0,
        input_bias: float = 0.0,
    ):
        super().__init__()
        self.mem_slots, self.num_heads, self.head_size = mem_slots, num_heads, head_size
        self.mem_size = size = num_heads * head_size
        self.forget_bias, self.input_bias = forget_bias, input_bias
        self.input_proj = nn.Linear(input_size, size)
        self.qkv = nn.Linear(size, 3 * size, bias=False)  # keys of the values' size
        self.mlp = nn.ModuleList(nn.Linear(size, size) for _ in range(mlp_layers))
        self.gate_input = nn.Linear(size, 2 * size, bias=False)
        self.gate_memory = nn.Linear(size, 2 * size, bias=False)
        # gains and biases of the three layer norms (qkv, attention, MLP), per column
        self.norm_gain = nn.ParameterList(
            nn.Parameter(torch.ones(n)) for n in (3 * size, size, size)
        )
        self.norm_bias = nn.ParameterList(
            nn.Parameter(torch.zeros(n)) for n in (3 * size, size, size)
        )
        init = torch.eye(mem_slots, size)  # identity rows, padded (or cut) to D columns
        self.register_buffer("memory_init", init, persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        fan_in_init(self)
        with torch.no_grad():
            for gain, bias in zip(self.norm_gain, self.norm_bias):
                gain.fill_(1.0)
                bias.zero_()

    @property
    def output_size(self) -> int:
        return self.mem_slots * self.mem_size

    def initial_state(self, n: int) -> torch.Tensor:
        """M_0 ``[n, N, D]``: each row a distinct unit vector (the authors' identity)."""
        return self.memory_init.expand(n, -1, -1).clone()

    def input_map(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The input terms of a step as one affine map of x: x~ = W x + b and, since x~ is
        affine in x, its qkv row W_qkv x~ and gate terms W_g x~ too; the weight
        ``[6D, E]`` and bias ``[6D]`` of all three, composed once per pass."""
        weight, bias = self.input_proj.weight, self.input_proj.bias
        maps = (self.qkv.weight, self.gate_input.weight)
        return (
            torch.cat([weight, *(m @ weight for m in maps)]),
            torch.cat([bias, *(m @ bias for m in maps)]),
        )

    def inputs(
        self, x: torch.Tensor, input_map: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> list[torch.Tensor]:
        """The parts of a step that depend on the inputs ``x [..., E]`` only: x~ ``[..., D]``,
        its qkv row ``[..., 3D]`` and its gate terms ``[..., 2D]``, one product
        (``input_map``: its result, if already composed)."""
        weight, bias = self.input_map() if input_map is None else input_map
        size = self.mem_size
        return list(F.linear(x, weight, bias).split([size, 3 * size, 2 * size], dim=-1))

    def update(
        self,
        memory: torch.Tensor,
        projected: torch.Tensor,
        qkv_input: torch.Tensor,
        gate_input: torch.Tensor,
    ) -> torch.Tensor:
        """M_t+1 ``[n, N, D]`` from M_t ``[n, N, D]`` and one step of ``inputs`` (each
        ``[n, ...]``)."""
        n, slots, size = memory.shape
        heads, d = self.num_heads, self.head_size
        rows = torch.cat([memory, projected.unsqueeze(1)], 1)  # [n, N+1, D]
        qkv = torch.cat([self.qkv(memory), qkv_input.unsqueeze(1)], 1)
        qkv = joint_norm(qkv, self.norm_gain[0], self.norm_bias[0])
        q, k, v = qkv.view(n, slots + 1, heads, 3 * d).transpose(1, 2).split(d, dim=-1)
        attended = F.scaled_dot_product_attention(q, k, v, scale=(3 * d) ** -0.5)
        rows = joint_norm(
            rows + attended.transpose(1, 2).reshape(n, slots + 1, size),
            self.norm_gain[1],
            self.norm_bias[1],
        )
        hidden = rows
        for i, layer in enumerate(self.mlp):
            hidden = layer(hidden) if i == len(self.mlp) - 1 else F.relu(layer(hidden))
        rows = joint_norm(rows + hidden, self.norm_gain[2], self.norm_bias[2])
        gates = self.gate_memory(torch.tanh(memory)) + gate_input.unsqueeze(1)
        input_gate, forget_gate = gates.chunk(2, dim=-1)
        return (
            torch.sigmoid(input_gate + self.input_bias) * torch.tanh(rows[:, :slots])
            + torch.sigmoid(forget_gate + self.forget_bias) * memory
        )

    def step(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        input_map: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """M_t+1 for one input ``x [n, E]`` (``input_map``: ``inputs``')."""
        return self.update(memory, *self.inputs(x, input_map))

    def unroll(self, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        """The outputs o_1..o_T ``[n, T, N D]`` for inputs ``x [n, T, E]`` from ``memory``."""
        projected, qkv, gates = self.inputs(x)
        out = []
        for t in range(x.shape[1]):
            memory = self.update(memory, projected[:, t], qkv[:, t], gates[:, t])
            out.append(memory.flatten(1))
        return torch.stack(out, 1)


def gumbel_noise(*shape: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Gumbel(0, 1) numbers ``-log(-log u)``, u ~ U[0, 1) from torch's global generator
    (u = 0 gives -inf: a token that is never drawn and gets relaxed weight 0)."""
    return torch.empty(shape, device=device).uniform_().log_().neg_().log_().neg_()


class _NormalSoftmax(torch.autograd.Function):
    """``softmax`` over the last dimension (torch's kernels, forward and backward) with its
    subnormal values, those below the dtype's smallest normal number (1.2e-38 in float32),
    set to 0 in the output and in the input's gradient.

    A relaxed one-hot at a large inverse temperature holds thousands of them per row
    (beta (l_j - l_max) below -87), and so does its gradient; on x86 CPUs a matrix
    product meets each subnormal operand on a microcode path: the output layer's backward
    products of a RelGAN generator step ran 35x slower than on normal numbers, about two
    thirds of the step (docs/algorithms/relgan.md).  A value below 1.2e-38 moves no sum of
    these products that holds a normal term, so this changes no result beyond such sums'
    own subnormal digits."""

    @staticmethod
    def forward(ctx, scores: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(scores, dim=-1)
        probs.masked_fill_(probs < torch.finfo(probs.dtype).tiny, 0.0)
        ctx.save_for_backward(probs)
        ctx.input_dtype = scores.dtype
        return probs

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (probs,) = ctx.saved_tensors
        grad_scores = torch._softmax_backward_data(grad, probs, -1, ctx.input_dtype)
        tiny = torch.finfo(grad_scores.dtype).tiny
        return grad_scores.masked_fill_(grad_scores.abs() < tiny, 0.0)


def gumbel_softmax(
    logits: torch.Tensor,
    beta: float,
    straight_through: bool = False,
    gumbel: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One Gumbel-softmax draw per row of ``logits [n, V]`` (the paper's Gumbel-max trick
    and its relaxation): ``gumbel`` g ``[n, V]`` (default: fresh ``gumbel_noise``), the
    token ``y = argmax(logits + g)`` (an exact sample of softmax(logits)) ``[n]`` and its
    relaxation ``softmax(beta (logits + g))`` ``[n, V]``; ``straight_through``: the
    relaxation's value is the one-hot of ``y``, its gradient the soft sample's."""
    if gumbel is None:
        gumbel = gumbel_noise(*logits.shape, device=logits.device)
    perturbed = logits + gumbel
    tokens = perturbed.detach().argmax(dim=-1)
    soft = _NormalSoftmax.apply(beta * perturbed)
    if straight_through:
        hard = F.one_hot(tokens, logits.shape[-1]).to(soft.dtype)
        soft = hard + (soft - soft.detach())
    return tokens, soft


class RelGANGenerator(Generator):
    """The LSTM generator's interface over the relational memory core (module docstring).

    Args:
        vocab_size, emb_dim, max_len, start_token, eos_token, pad_token, never_output: as
            ``Generator``'s.
        mem_slots, num_heads, head_size: the core's N, H and d (the output layer reads
            ``N H d`` numbers per step: ``hidden_dim``).
    """

    def __init__(
        self,
        vocab_size: int,
        emb_dim: int,
        max_len: int,
        start_token: int = 0,
        mem_slots: int = 1,
        num_heads: int = 2,
        head_size: int = 256,
        eos_token: int | None = None,
        pad_token: int | None = None,
        never_output: tuple[int, ...] = (),
    ):
        nn.Module.__init__(self)  # not Generator's: the core is not an LSTM
        output_size = mem_slots * num_heads * head_size
        self._set_shape(vocab_size, emb_dim, output_size, max_len, start_token)
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.memory = RelationalMemory(emb_dim, mem_slots, num_heads, head_size)
        self.output = nn.Linear(output_size, vocab_size)
        self.reset_parameters()
        set_special_tokens(self, vocab_size, eos_token, pad_token, never_output)

    def reset_parameters(self, std: float = 0.0) -> None:
        """The authors' initialisation (module docstring; ``std`` is not used)."""
        fan_in_init(self.embedding)
        self.memory.reset_parameters()
        fan_in_init(self.output)

    def initial_state(self, n: int) -> State:
        """``(M_0,)``, M_0 ``[n, N, D]``."""
        return (self.memory.initial_state(n),)

    def step_hidden(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """Feed ``tokens [n]``; the output o_t ``[n, N D]`` and the new state."""
        (memory,) = state
        memory = self.memory.step(self.embedding(tokens), memory)
        return memory.flatten(1), (memory,)

    def hidden_states(
        self, tokens: torch.Tensor, inputs: torch.Tensor | None = None, state: State | None = None
    ) -> torch.Tensor:
        """Teacher-forced outputs ``[n, T, N D]`` (the output layer's inputs)."""
        if inputs is None:
            inputs = self.inputs_for(tokens)
        (memory,) = self.initial_state(inputs.shape[0]) if state is None else state
        return self.memory.unroll(self.embedding(inputs), memory)

    def relaxed_sample(
        self, n: int, beta: float, straight_through: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` free-running sequences with gradients (adversarial training): at each step
        a Gumbel-softmax draw (``gumbel_softmax``) whose token is the next input.  Returns
        the tokens ``[n, T]`` and their relaxed one-hots ``[n, T, V]``; after a row's
        ``<eos>`` its tokens are ``<pad>`` and their one-hots exact (no gradient)."""
        (memory,) = self.initial_state(n)
        token = self.start_tokens(n)
        ended = None if self.eos_token is None else torch.zeros_like(token, dtype=torch.bool)
        gumbel = gumbel_noise(self.max_len, n, self.vocab_size, device=token.device)
        input_map = self.memory.input_map()  # composed once for the T steps
        tokens, soft = [], []
        for pos in range(self.max_len):
            memory = self.memory.step(self.embedding(token), memory, input_map)
            logits = self._out(memory.flatten(1))
            token, relaxed = gumbel_softmax(logits, beta, straight_through, gumbel[pos])
            if ended is not None and self.pad_token is not None:
                token = torch.where(ended, self.pad_token, token)
                pad = F.one_hot(token, self.vocab_size).to(relaxed.dtype)
                relaxed = torch.where(ended.unsqueeze(1), pad, relaxed)
                ended = ended | (token == self.eos_token)
            tokens.append(token)
            soft.append(relaxed)
        return torch.stack(tokens, 1), torch.stack(soft, 1)


def relgan_generator_params(vocab: int, emb: int, mem_slots: int, heads: int, head: int) -> int:
    """Parameters of ``RelGANGenerator``: embedding V E, the core (input projection
    E D + D, qkv D 3D, MLP 2 (D^2 + D), gates 2 D 2D, layer norms 2 (3D + D + D)), the
    output layer N D V + V."""
    size = heads * head
    core = emb * size + size + 3 * size * size + 2 * (size * size + size) + 4 * size * size
    core += 2 * 5 * size
    return vocab * emb + core + mem_slots * size * vocab + vocab


def relgan_step_macs(vocab: int, emb: int, mem_slots: int, heads: int, head: int) -> int:
    """Multiply-adds of one row-step of ``RelGANGenerator`` as the code computes it (N =
    ``mem_slots``, D = H d): the input terms, one ``[6D, E]`` product (``input_map``,
    composed once per pass); the N memory rows' qkv (3 N D^2) and gate terms (2 N D^2);
    the MLP over the N + 1 rows (2 (N + 1) D^2); attention (2 N (N + 1) D); the output
    layer N D V."""
    size = heads * head
    squares = (3 * mem_slots + 2 * (mem_slots + 1) + 2 * mem_slots) * size * size
    attention = 2 * mem_slots * (mem_slots + 1) * size
    return 6 * size * emb + squares + attention + mem_slots * size * vocab


def relgan_discriminator_row_macs(
    vocab: int,
    seq_len: int,
    representations: int,
    width: int,
    filter_sizes: Sequence[int],
    num_filters: Sequence[int],
    one_hot: bool = True,
) -> int:
    """Multiply-adds of ``RelGANDiscriminator`` on one row of T tokens: the embedding (a
    ``[T, V] x [V, S e]`` product for a relaxed one-hot row, a lookup for token ids), per
    representation the convolutions (sum_i f_i w_i e (T - w_i + 1)), the highway's two
    F x F maps and the head (F -> 100 -> 1 applied as one F -> 1 product)."""
    total = sum(num_filters)
    convolutions = sum(
        f * w * width * max(seq_len - w + 1, 1) for w, f in zip(filter_sizes, num_filters)
    )
    per_representation = convolutions + 2 * total * total + total
    embedding = seq_len * vocab * representations * width if one_hot else 0
    return embedding + representations * per_representation


POOL_ROWS = 512  # rows per window product in ``max_windows``: its [rows, L, F] stays in cache


def _window_maxima(
    x: torch.Tensor, weights: Sequence[torch.Tensor], positions: bool
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Per width the max over positions t of sum_{k, c} weight[f, c, k] x[r, t + k, c],
    ``[R, sum f]``, a few hundred rows at a time; with ``positions`` also the first t of
    each maximum, ``[R, f]`` per width (uint8 where it fits)."""
    rows, length, channels = x.shape
    pooled, where = [], []
    for weight in weights:
        filters, _, width = weight.shape
        matrix = weight.permute(2, 1, 0).reshape(width * channels, filters)  # row k e + c
        small = torch.uint8 if length - width < 256 else torch.long
        values, found = [], []
        for part in x.split(POOL_ROWS):
            # the windows as one [r L, w e] matrix in memory: one GEMM (a strided 3-D
            # operand would be a batch of r small products)
            windows = part.unfold(1, width, 1).transpose(2, 3).reshape(-1, width * channels)
            products = (windows @ matrix).view(len(part), -1, filters)
            best = products.amax(dim=1)
            values.append(best)
            if positions:  # max(dim) returns the first of equal values; on a 0/1 array
                hit = (products == best.unsqueeze(1)).to(torch.uint8)  # is it fast
                found.append(hit.max(dim=1).indices.to(small))
        pooled.append(torch.cat(values))
        if positions:
            where.append(torch.cat(found))
    return torch.cat(pooled, dim=1), where


class _MaxWindows(torch.autograd.Function):
    """``x [R, T, e]``, ``weights[i] [f_i, e, w_i]`` -> ``[R, sum f_i]``: per width the max
    over positions t of sum_{k, c} weights[f, c, k] x[r, t + k, c] (module docstring of
    ``models.discriminator_kernels``: the same numbers as its kernels), keeping the
    position of each maximum (the first of equal ones) instead of the ``[R, L, f]`` maps.
    The backward pass routes each gradient to that position only: a gather and a
    scatter-add of ``[R, f]`` per tap, not a product over every window."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, *weights: torch.Tensor) -> torch.Tensor:
        pooled, positions = _window_maxima(x, weights, positions=True)
        ctx.save_for_backward(x, *weights, *positions)
        return pooled

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor):
        x, *saved = ctx.saved_tensors
        weights, positions = saved[: len(saved) // 2], saved[len(saved) // 2 :]
        grad_x = torch.zeros_like(x) if ctx.needs_input_grad[0] else None
        grad_weights: list[torch.Tensor | None] = []
        offset = 0
        for i, (weight, where) in enumerate(zip(weights, positions)):
            filters, channels, width = weight.shape
            g = grad[:, offset : offset + filters]
            offset += filters
            where = where.long()  # t of each maximum: tap k read x[:, t + k]
            grad_w = torch.empty_like(weight) if ctx.needs_input_grad[1 + i] else None
            for k in range(width):
                for c in range(channels):
                    if grad_w is not None:
                        grad_w[:, c, k] = (g * x[:, k:, c].gather(1, where)).sum(0)
                    if grad_x is not None:
                        grad_x[:, k:, c].scatter_add_(1, where, g * weight[:, c, k])
            grad_weights.append(grad_w)
        return (grad_x, *grad_weights)


def max_windows(emb: torch.Tensor, weights: Sequence[torch.Tensor]) -> torch.Tensor:
    """``_MaxWindows``: the pooled features ``[n, sum f]`` of ``emb [n, T, e]`` (without a
    gradient to compute, the maxima only)."""
    if torch.is_grad_enabled() and any(t.requires_grad for t in (emb, *weights)):
        return _MaxWindows.apply(emb, *weights)
    return _window_maxima(emb, weights, positions=False)[0]


class _HighwayHead(torch.autograd.Function):
    """D's last layers over its feature rows ``y [R, F]`` in one function: the highway
    ``h = y + t (g - y)`` (= t g + (1 - t) y) with t = sigmoid(y W_t^T), g = relu(y W_h^T),
    dropout (``keep``: 0 or 1 / (1 - p) per entry; None: off) and the output map
    ``h u^T + c``, ``[R, 1]``.  It keeps y, t, g - y, the dropped-out h and ``keep`` for
    the backward pass, which is a few element-wise passes and the products autograd
    would make (it would keep about twice as many ``[R, F]`` arrays)."""

    @staticmethod
    def forward(ctx, y, gate_w, transform_w, out_w, out_b, keep):
        t = torch.sigmoid(F.linear(y, gate_w))
        d = F.relu(F.linear(y, transform_w)).sub_(y)  # g - y
        h = torch.addcmul(y, t, d)
        if keep is not None:
            h.mul_(keep)
        ctx.save_for_backward(y, gate_w, transform_w, out_w, t, d, h, keep)
        return F.linear(h, out_w, out_b)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor):
        y, gate_w, transform_w, out_w, t, d, h, keep = ctx.saved_tensors
        need = ctx.needs_input_grad
        dh = grad @ out_w  # [R, F]: the gradient of the dropped-out h, then of h
        if keep is not None:
            dh.mul_(keep)
        dg = dh * t
        direct = dh - dg  # dh (1 - t): y's own term
        db = dg.mul_(d + y > 0)  # through relu (g = d + y)
        da = dh.mul_(d).mul_(t).mul_(1 - t)  # through sigmoid
        dy = torch.addmm(direct, da, gate_w).addmm_(db, transform_w) if need[0] else None
        return (
            dy,
            da.t() @ y if need[1] else None,
            db.t() @ y if need[2] else None,
            grad.t() @ h if need[3] else None,
            grad.sum(0) if need[4] else None,
            None,
        )


# RelGAN's discriminator kernels: max_windows (its default) and the generic ones
D_KERNELS = {"max_windows": max_windows, **KERNELS}


class RelGANDiscriminator(nn.Module):
    """D over S embedded representations (module docstring).

    Input: token ids ``[n, T]`` (real data: an embedding lookup, equal to the one-hot
    product) or (relaxed) one-hots ``[n, T, V]``.  Each representation s is the slice of
    ``e`` columns of the ``[V, S e]`` embedding; the same filters of each width ``w``
    (``[f, e, w]``) slide over every representation's ``[T, e]`` matrix, ReLU and
    max-over-time (bias and ReLU after the pooling: both monotone), then a highway layer
    (no biases, gate bias 0), dropout, ``F -> 100 -> 1`` (two linear layers, applied as
    their product).  Returns logits ``[n, S]``.
    """

    def __init__(
        self,
        vocab_size: int,
        seq_len: int,
        num_representations: int,
        representation_dim: int,
        filter_sizes: Sequence[int],
        num_filters: Sequence[int],
        dropout: float = 0.25,
        kernel: str = "max_windows",
    ):
        super().__init__()
        if len(filter_sizes) != len(num_filters):
            raise ValueError("filter_sizes and num_filters must have the same length")
        if max(filter_sizes) > seq_len:
            raise ValueError(f"filter width {max(filter_sizes)} exceeds sequence length {seq_len}")
        if kernel not in D_KERNELS:
            raise ValueError(f"unknown kernel {kernel!r} (choose from {', '.join(D_KERNELS)})")
        self.num_representations, self.representation_dim = num_representations, representation_dim
        self.kernel = kernel
        self.embedding = nn.Parameter(
            torch.empty(vocab_size, num_representations * representation_dim)
        )
        self.conv_weights = nn.ParameterList(
            nn.Parameter(torch.empty(f, representation_dim, w))
            for w, f in zip(filter_sizes, num_filters)
        )
        total = sum(num_filters)
        self.conv_bias = nn.Parameter(torch.zeros(total))
        self.highway = Highway(total, bias=False)
        self.dropout = nn.Dropout(dropout)
        self.hidden = nn.Linear(total, D_HIDDEN)
        self.out = nn.Linear(D_HIDDEN, 1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        vocab, _ = self.embedding.shape
        with torch.no_grad():
            _trunc_normal(self.embedding, 1 / math.sqrt(vocab))
            for weight in self.conv_weights:
                _trunc_normal(weight, math.sqrt(2 / (weight.shape[1] * weight.shape[2])))
            self.conv_bias.zero_()
        fan_in_init(self)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``[n * S, T, e]``: every representation of every row of ``x`` (ids or one-hots)."""
        emb = self.embedding[x] if x.dtype == torch.long else x @ self.embedding
        n, length, _ = emb.shape
        emb = emb.view(n, length, self.num_representations, self.representation_dim)
        return emb.transpose(1, 2).reshape(n * self.num_representations, length, -1)

    def logits(self, embedded: torch.Tensor) -> torch.Tensor:
        """Logits ``[m, S]`` of ``embed``'s rows ``[m * S, T, e]``."""
        pooled = D_KERNELS[self.kernel](embedded, list(self.conv_weights))
        features = F.relu(pooled + self.conv_bias)
        drop = self.dropout.p if self.training else 0.0
        keep = None
        if drop > 0:  # the draws of F.dropout: one Bernoulli(1 - p) per entry
            keep = torch.empty_like(features).bernoulli_(1 - drop).div_(1 - drop)
        # out(hidden(h)) with no non-linearity between: one map F -> 1, composed here
        # (the [m S, 100] layer is never formed; the gradients reach both layers' weights)
        weight = self.out.weight @ self.hidden.weight
        bias = self.out.weight @ self.hidden.bias + self.out.bias
        gates = (self.highway.gate.weight, self.highway.transform.weight)
        logits = _HighwayHead.apply(features, *gates, weight, bias, keep)
        return logits.view(-1, self.num_representations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[n, S]`` of ``x`` (ids ``[n, T]`` or one-hots ``[n, T, V]``)."""
        return self.logits(self.embed(x))

    def pair(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(forward(real), forward(fake))`` in one pass over both (one dropout draw)."""
        both = self.logits(torch.cat([self.embed(real), self.embed(fake)]))
        return both[: len(real)], both[len(real) :]

    @torch.no_grad()
    def prob_real(self, tokens: torch.Tensor, chunk: int = 0) -> torch.Tensor:
        """D(Y) ``[n]`` for diagnostics: the mean over the S representations of
        sigmoid(logit), dropout off, ``chunk`` rows at a time (0: 256)."""
        was_training = self.training
        self.eval()
        try:
            probs = [torch.sigmoid(self(part)).mean(1) for part in tokens.split(chunk or 256)]
        finally:
            self.train(was_training)
        return torch.cat(probs) if probs else torch.empty(0, device=tokens.device)
