import math

import pytest
import torch
from torch.nn import functional as F

from brainage.models.heads import SoftLabelAgeHead, soft_labels
from brainage.models.network import BrainAgeNet, ModelConfig, count_parameters


@pytest.mark.parametrize("name", ["sfcn", "seresnet", "resnet"])
@pytest.mark.parametrize("shape", [(40, 48, 40), (80, 96, 80)])
def test_shapes_and_gradients(name, shape):
    torch.manual_seed(0)
    net = BrainAgeNet(ModelConfig(name=name, width=0.25, age_head="softlabel" if name == "sfcn" else "regression"))
    x = torch.randn(2, 1, *shape)
    out = net(x)
    assert out["sex"].shape == (2,)
    assert out["age"].shape == ((2, 85) if name == "sfcn" else (2,))
    losses = net.losses(out, torch.tensor([30.0, 60.0]), torch.tensor([0, 1]))
    sum(losses.values()).backward()
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads[:2])  # reaches the first conv
    preds = net.predict(out)
    assert ((preds["sex"] >= 0) & (preds["sex"] <= 1)).all()


def test_sfcn_full_width_has_about_3m_parameters():
    n = count_parameters(BrainAgeNet(ModelConfig(name="sfcn", width=1.0, tasks=("age",))))
    assert 2.8e6 < n < 3.2e6


def test_se_switch_only_removes_se_blocks():
    with_se = BrainAgeNet(ModelConfig(name="seresnet"))
    without = BrainAgeNet(ModelConfig(name="resnet"))
    assert count_parameters(with_se) > count_parameters(without)
    assert any("se.fc" in n for n, _ in with_se.named_parameters())
    assert not any("se.fc" in n for n, _ in without.named_parameters())


def test_single_task_models():
    net = BrainAgeNet(ModelConfig(name="sfcn", width=0.25, tasks=("sex",)))
    assert list(net(torch.zeros(2, 1, 32, 32, 32))) == ["sex"]


def test_soft_label_loss_matches_hand_computation():
    centres = torch.tensor([19.5, 20.5, 21.5])
    # N(20.5, 1) mass per 1-year bin [19,20], [20,21], [21,22], renormalised over the three bins
    phi = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    mass = [phi(-0.5) - phi(-1.5), phi(0.5) - phi(-0.5), phi(1.5) - phi(0.5)]
    target = torch.tensor([m / sum(mass) for m in mass])
    assert torch.allclose(soft_labels(torch.tensor([20.5]), centres)[0], target, atol=1e-6)
    head = SoftLabelAgeHead(4, age_min=19.0, age_max=22.0)
    assert torch.allclose(head.bin_centres, centres)
    logits = torch.tensor([[0.2, 1.0, -0.5]])
    log_q = F.log_softmax(logits, dim=1)[0]
    expected = float((target * (target.log() - log_q)).sum())  # KL(target || softmax(logits))
    assert head.loss(logits, torch.tensor([20.5])).item() == pytest.approx(expected, rel=1e-5)
    q = log_q.exp()
    assert head.predict(logits).item() == pytest.approx(float((q * centres).sum()), rel=1e-6)


def test_soft_label_loss_is_minimal_at_the_target():
    head = SoftLabelAgeHead(4, 10, 95)
    target = soft_labels(torch.tensor([47.0]), head.bin_centres)
    logits = target.clamp_min(1e-30).log()
    assert head.loss(logits, torch.tensor([47.0])).item() == pytest.approx(0.0, abs=1e-5)
    assert head.loss(logits, torch.tensor([60.0])).item() > 1.0
    assert head.predict(logits).item() == pytest.approx(47.0, abs=0.05)
