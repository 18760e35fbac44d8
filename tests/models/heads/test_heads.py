"""Temporal heads: shapes, gradients, masking (left/right padding), determinism, learning, and the
hand-optimised pieces (fused input norm, scan, conv, attention) against plain-torch oracles."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from archsearch.common import REPO_ROOT
from models.heads import ENCODERS, POOLINGS, HeadConfig, HeadConfigError, build_head, count_parameters
from models.heads.common import (
    DepthwiseConv,
    NormLinear,
    TimeDropout,
    attention,
    compact_order,
    key_padding_bias,
    last_valid_index,
)
from models.heads.mamba import selective_scan, selective_scan_reference
from models.metrics import average_precision

REPO = REPO_ROOT


pytestmark = pytest.mark.usefixtures("one_torch_thread")
COMBOS = list(itertools.product(ENCODERS, POOLINGS))
D_IN, T = 12, 9


def tiny(encoder: str, pooling: str, **kw) -> HeadConfig:
    return HeadConfig(encoder, pooling, D_IN, **{"d_model": 8, "n_heads": 2, "d_state": 4, **kw})


def make_head(encoder: str, pooling: str, seed: int = 0, **kw) -> nn.Module:
    """A tiny head in eval mode with every parameter jittered: zero-initialised biases (conv, relative
    position, Δ...) would otherwise hide masking bugs that only show once the head has trained."""
    torch.manual_seed(seed)
    head = build_head(tiny(encoder, pooling, **kw)).eval()
    with torch.no_grad():
        for p in head.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return head


def padded_mask(B: int, T: int, n_pad: list[int], side: str) -> torch.Tensor:
    mask = torch.ones(B, T, dtype=torch.bool)
    for b, n in enumerate(n_pad):
        if n:
            if side == "left":
                mask[b, :n] = False
            else:
                mask[b, T - n :] = False
    return mask


# ---------------------------------------------------------------------------------------------- config


def test_config_defaults_and_errors():
    cfg = HeadConfig("zipformer", "attention", 1024)
    assert cfg.layers == 1 and cfg.zipformer_rates == (1, 2, 1) and cfg.d_model == 32
    assert HeadConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(HeadConfigError, match="'encoder'.*one of"):
        HeadConfig("transformer", "mean", 8)
    with pytest.raises(HeadConfigError, match="'pooling'"):
        HeadConfig("gru", "median", 8)
    with pytest.raises(HeadConfigError, match="'d_model'.*multiple of n_heads"):
        HeadConfig("retention", "mean", 8, d_model=30, n_heads=4)
    with pytest.raises(HeadConfigError, match="'dropout'"):
        HeadConfig("gru", "mean", 8, dropout=1.0)
    with pytest.raises(HeadConfigError, match="'input_dim'"):
        HeadConfig("gru", "mean", 0)


def test_importing_heads_does_not_import_torch():
    code = "import sys, models.heads as h; assert h.ENCODERS; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_bad_inputs_are_named():
    head = make_head("gru", "mean")
    with pytest.raises(ValueError, match=r"\(B, T, 12\)"):
        head(torch.randn(2, 5, 7), torch.ones(2, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="torch.bool"):
        head(torch.randn(2, 5, D_IN), torch.ones(2, 5))


# -------------------------------------------------------------------------------- every encoder x pooling


@pytest.mark.parametrize("encoder,pooling", COMBOS)
def test_shapes_finite_and_all_parameters_get_gradients(encoder, pooling):
    torch.manual_seed(0)
    head = build_head(tiny(encoder, pooling, dropout=0.0)).train()
    x = torch.randn(4, T, D_IN)
    mask = padded_mask(4, T, [0, 3, 0, 2], "left")
    mask[2, -2:] = False  # one right-padded row too
    logits = head(x, mask)
    assert logits.shape == (4,) and torch.isfinite(logits).all()
    logits.square().sum().backward()
    missing = [n for n, p in head.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, f"{encoder}/{pooling}: no/invalid gradient for {missing}"
    dead = [n for n, p in head.named_parameters() if p.grad.abs().sum() == 0]
    if (encoder, pooling) == ("gru", "last"):
        # Inherent, not a bug: at the last step the backward GRU has read one input from h0 = 0, so its
        # recurrent weights cannot matter there.
        dead = [n for n in dead if n != "encoder.bwd.0.weight_hh_l0"]
    assert not dead, f"{encoder}/{pooling}: all-zero gradient for {dead}"
    assert head(x).shape == (4,)  # mask=None means all steps valid


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("encoder,pooling", COMBOS)
def test_padded_values_never_reach_the_logits(encoder, pooling, side):
    head = make_head(encoder, pooling, dropout=0.0)
    B = 4
    mask = padded_mask(B, T, [0, 1, 4, T - 1], side)
    x = torch.randn(B, T, D_IN)
    x2 = torch.where(mask.unsqueeze(-1), x, 100 * torch.randn(B, T, D_IN))
    with torch.no_grad():
        a, b = head(x, mask), head(x2, mask)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    # and the gradient of the parameters does not see them either
    head.train()
    grads = []
    for inp in (x, x2):
        head.zero_grad()
        head(inp, mask).sum().backward()
        grads.append(torch.cat([p.grad.flatten() for p in head.parameters()]))
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("encoder", ENCODERS)
def test_left_padding_equals_the_short_window(encoder):
    """A left-padded window (short clip history) scores exactly like the same steps without padding."""
    for pooling in ("attention", "last"):
        head = make_head(encoder, pooling)
        x = torch.randn(1, T, D_IN)
        n_pad = 4
        mask = padded_mask(1, T, [n_pad], "left")
        with torch.no_grad():
            padded = head(x, mask)
            short = head(x[:, n_pad:], torch.ones(1, T - n_pad, dtype=torch.bool))
        torch.testing.assert_close(padded, short, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("encoder", [e for e in ENCODERS if e != "zipformer"])
def test_right_padding_equals_the_short_window(encoder):
    # Zipformer groups frames for its rate-2 stack from the window's end, so right padding shifts the
    # grouping; it is still invariant to the padded values (test above), just not equal to the short one.
    head = make_head(encoder, "mean")
    x = torch.randn(1, T, D_IN)
    mask = padded_mask(1, T, [3], "right")
    with torch.no_grad():
        torch.testing.assert_close(
            head(x, mask), head(x[:, : T - 3], torch.ones(1, T - 3, dtype=torch.bool)), rtol=1e-5, atol=1e-5
        )


@pytest.mark.parametrize("encoder", ENCODERS)
def test_window_with_no_valid_step_is_finite(encoder):
    head = make_head(encoder, "attention")
    with torch.no_grad():
        out = head(torch.randn(2, T, D_IN), torch.zeros(2, T, dtype=torch.bool))
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("encoder", ENCODERS)
def test_seeded_builds_and_training_steps_are_deterministic(encoder):
    x, y = torch.randn(6, T, D_IN), torch.tensor([0.0, 1, 0, 1, 1, 0])
    runs = []
    for _ in range(2):
        torch.manual_seed(123)
        head = build_head(tiny(encoder, "attention")).train()
        opt = torch.optim.AdamW(head.parameters(), 1e-2)
        for _ in range(3):
            loss = F.binary_cross_entropy_with_logits(head(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        runs.append(torch.cat([p.detach().flatten() for p in head.parameters()]))
    assert torch.equal(runs[0], runs[1])
    torch.manual_seed(124)
    other = torch.cat([p.detach().flatten() for p in build_head(tiny(encoder, "attention")).parameters()])
    assert not torch.equal(other, runs[0][: other.numel()])


def bump_task(n: int = 64, T: int = 12, D: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """n windows with one bump each; label 1 iff the bump is in the last third of the valid steps."""
    g = torch.Generator().manual_seed(seed)
    x = 0.3 * torch.randn(n, T, D, generator=g)
    direction = torch.randn(D, generator=g)
    n_pad = torch.randint(0, 3, (n,), generator=g)
    mask = torch.arange(T)[None, :] >= n_pad[:, None]  # left padding
    y = (torch.arange(n) % 2).float()
    for i in range(n):
        lo = int(n_pad[i])
        valid = T - lo
        late = lo + (2 * valid) // 3
        lo_t, hi_t = (late, T) if y[i] else (lo, late - 1)  # positives: last third; negatives: well before it
        t = int(torch.randint(lo_t, hi_t, (1,), generator=g))
        x[i, t] += 3 * direction
    return x, mask, y


def train_ap(encoder: str, pooling: str, steps: int) -> float:
    x, mask, y = bump_task()
    torch.manual_seed(0)
    head = build_head(HeadConfig(encoder, pooling, x.shape[-1], d_model=16, n_heads=2, d_state=4, dropout=0.0))
    opt = torch.optim.AdamW(head.parameters(), 3e-3)
    for _ in range(steps):
        loss = F.binary_cross_entropy_with_logits(head(x, mask), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return average_precision(y.numpy(), head.eval()(x, mask).numpy())


@pytest.mark.parametrize("encoder", ENCODERS)
def test_each_encoder_learns_when_a_bump_happens(encoder):
    assert train_ap(encoder, "last", steps=150) > 0.95


@pytest.mark.slow
@pytest.mark.parametrize("encoder,pooling", [c for c in COMBOS if c[1] != "last"])
def test_each_combo_learns_when_a_bump_happens(encoder, pooling):
    assert train_ap(encoder, pooling, steps=300) > 0.95


def test_count_parameters():
    assert count_parameters(nn.Linear(10, 3)) == 33
    head = build_head(HeadConfig("gru", "mean", 1024))
    assert count_parameters(head) == sum(p.numel() for p in head.parameters())


def test_the_readmes_parameter_table_is_what_the_heads_have():
    """README, "Temporal heads": every encoder's count with attention pooling and with mean / last / max."""
    import re

    rows = re.findall(r"^\| (\w+) \(.*\) \| ([\d,]+) \| ([\d,]+) \|$", (REPO / "README.md").read_text(), re.M)
    table = {name: (int(a.replace(",", "")), int(m.replace(",", ""))) for name, a, m in rows}
    assert set(table) == set(ENCODERS)
    for encoder, (with_attention, plain) in table.items():
        assert count_parameters(build_head(HeadConfig(encoder, "attention", 1024))) == with_attention, encoder
        for pooling in ("mean", "last", "max"):
            assert count_parameters(build_head(HeadConfig(encoder, pooling, 1024))) == plain, (encoder, pooling)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("encoder", ENCODERS)
def test_cuda_matches_cpu(encoder):
    head = make_head(encoder, "attention")
    x, mask = torch.randn(3, T, D_IN), padded_mask(3, T, [0, 2, 5], "left")
    with torch.no_grad():
        cpu = head(x, mask)
        gpu = head.cuda()(x.cuda(), mask.cuda()).cpu()
    torch.testing.assert_close(cpu, gpu, rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------------- the hand-optimised building blocks


def test_norm_linear_equals_layernorm_then_linear():
    torch.manual_seed(0)
    fused = NormLinear(64, 5)
    ref = nn.Sequential(nn.LayerNorm(64, elementwise_affine=False), nn.Linear(64, 5))
    ref[1].load_state_dict(fused.linear.state_dict())
    for offset in (0.0, 3.0, 1e4):  # 1e4 >> std: the one-pass variance would cancel; the fallback must kick in
        x = torch.randn(3, 7, 64) + offset
        x[0, 0] = 0.0  # a constant row (zero variance)
        out, expected = fused(x), ref(x)
        torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-4 * (1 + offset / 1e3))
        g = torch.randn_like(out)
        gw = torch.autograd.grad(out, fused.linear.weight, g)[0]
        gr = torch.autograd.grad(expected, ref[1].weight, g)[0]
        torch.testing.assert_close(gw, gr, rtol=1e-3, atol=1e-3)


def test_selective_scan_matches_stepwise_reference_and_gradcheck():
    torch.manual_seed(0)
    Tn, B, K, c, N = 5, 3, 2, 4, 3
    dt = torch.rand(Tn, B, K, c, dtype=torch.double, requires_grad=True)
    A = (-torch.rand(K, N, c, dtype=torch.double)).requires_grad_()
    dtu = torch.randn(Tn, B, K, c, dtype=torch.double, requires_grad=True)
    Bm = torch.randn(Tn, B, K, N, dtype=torch.double, requires_grad=True)
    Cm = torch.randn(Tn, B, K, N, dtype=torch.double, requires_grad=True)
    torch.testing.assert_close(selective_scan(dt, A, dtu, Bm, Cm), selective_scan_reference(dt, A, dtu, Bm, Cm))
    assert torch.autograd.gradcheck(selective_scan, (dt, A, dtu, Bm, Cm))


@pytest.mark.parametrize("causal,k", [(True, 4), (False, 5)])
def test_depthwise_conv_equals_conv1d_with_gradients(causal, k):
    torch.manual_seed(0)
    conv = DepthwiseConv(6, k, causal=causal).double()
    ref = nn.Conv1d(6, 6, k, groups=6, padding=k - 1 if causal else k // 2).double()
    ref.weight.data = conv.weight.data.t().reshape(6, 1, k).clone()
    ref.bias.data = conv.bias.data.clone()
    x = torch.randn(2, 11, 6, dtype=torch.double, requires_grad=True)
    out, expected = conv(x), ref(x.transpose(1, 2))[..., :11].transpose(1, 2)
    torch.testing.assert_close(out, expected)
    g = torch.randn_like(out)
    mine = torch.autograd.grad(out, [x, conv.weight, conv.bias], g)
    theirs = torch.autograd.grad(expected, [x, ref.weight, ref.bias], g)
    torch.testing.assert_close(mine[0], theirs[0])
    torch.testing.assert_close(mine[1], theirs[1].view(6, k).t())
    torch.testing.assert_close(mine[2], theirs[2])


def test_attention_equals_sdpa_with_padding_bias():
    torch.manual_seed(0)
    q, k, v = (torch.randn(3, 2, 6, 4) for _ in range(3))
    mask = padded_mask(3, 6, [0, 2, 5], "left")
    bias = key_padding_bias(mask, q.dtype)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :])
    torch.testing.assert_close(attention(q, k, v, bias), expected)


def test_time_dropout_shares_its_mask_over_time():
    drop = TimeDropout(0.5).train()
    torch.manual_seed(0)
    out = drop(torch.ones(64, 10, 16))
    assert torch.equal(out, out[:, :1].expand_as(out))  # same mask at every step
    assert set(out.unique().tolist()) == {0.0, 2.0}
    assert 0.35 < (out == 0).float().mean() < 0.65
    assert torch.equal(drop.eval()(out), out)


def test_mask_helpers():
    mask = torch.tensor([[False, True, True, False], [True, True, True, True], [False, False, False, False]])
    assert last_valid_index(mask).tolist() == [2, 3, 3]
    x = torch.arange(4).expand(3, 4)
    assert x.gather(1, compact_order(mask))[0, :2].tolist() == [1, 2]
    assert x.gather(1, compact_order(mask, reverse=True))[0, :2].tolist() == [2, 1]
    assert x.gather(1, compact_order(mask))[1].tolist() == [0, 1, 2, 3]
    assert np.array_equal(compact_order(mask)[2].numpy(), np.arange(4))
