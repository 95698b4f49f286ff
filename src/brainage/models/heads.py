"""Prediction heads and their losses: age as a soft-label distribution (SFCN) or a regression,
and sex as a binary logit."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def soft_labels(ages: torch.Tensor, bin_centres: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """Gaussian soft labels over age bins (Peng et al. 2021): N(age, sigma) integrated per bin,
    renormalised to sum to 1 over the bins.

    Example:
        >>> p = soft_labels(torch.tensor([50.0]), torch.arange(20.0, 81.0) + 0.5)
        >>> round(float(p.sum()), 6)
        1.0
    """
    half = (bin_centres[1] - bin_centres[0]) / 2
    lo = (bin_centres - half)[None, :]
    hi = (bin_centres + half)[None, :]
    normal = torch.distributions.Normal(ages[:, None].float(), sigma)
    mass = normal.cdf(hi) - normal.cdf(lo)
    return mass / mass.sum(dim=1, keepdim=True).clamp_min(1e-12)


class SoftLabelAgeHead(nn.Module):
    """Linear layer to age-bin logits; loss = KL(soft label || softmax), prediction = expected age."""

    def __init__(self, in_features: int, age_min: float, age_max: float, bin_width: float = 1.0, sigma: float = 1.0):
        super().__init__()
        centres = torch.arange(age_min, age_max, bin_width) + bin_width / 2
        self.register_buffer("bin_centres", centres)
        self.sigma = sigma
        self.fc = nn.Linear(in_features, len(centres))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(features)

    def loss(self, logits: torch.Tensor, ages: torch.Tensor) -> torch.Tensor:
        target = soft_labels(ages.clamp(self.bin_centres[0], self.bin_centres[-1]), self.bin_centres, self.sigma)
        return F.kl_div(F.log_softmax(logits.float(), dim=1), target, reduction="batchmean")

    def predict(self, logits: torch.Tensor) -> torch.Tensor:
        return (F.softmax(logits.float(), dim=1) * self.bin_centres).sum(dim=1)


class RegressionAgeHead(nn.Module):
    """Linear regression of standardised age; loss = smooth L1 in standardised units."""

    def __init__(self, in_features: int, age_mean: float, age_std: float):
        super().__init__()
        self.fc = nn.Linear(in_features, 1)
        self.register_buffer("mean", torch.tensor(float(age_mean)))
        self.register_buffer("std", torch.tensor(float(age_std)))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(features).squeeze(1)

    def loss(self, out: torch.Tensor, ages: torch.Tensor) -> torch.Tensor:
        return F.smooth_l1_loss(out.float(), (ages - self.mean) / self.std)

    def predict(self, out: torch.Tensor) -> torch.Tensor:
        return out.float() * self.std + self.mean


class SexHead(nn.Module):
    """One logit for P(male); loss = binary cross-entropy (subjects with unknown sex ignored)."""

    def __init__(self, in_features: int):
        super().__init__()
        self.fc = nn.Linear(in_features, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(features).squeeze(1)

    def loss(self, logits: torch.Tensor, sex: torch.Tensor) -> torch.Tensor:
        known = sex >= 0
        if not known.any():
            return logits.sum() * 0
        return F.binary_cross_entropy_with_logits(logits[known].float(), sex[known].float())

    def predict(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(logits.float())
