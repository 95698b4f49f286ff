"""Squeeze-and-excitation channel analysis: which channels fire for which class, and pruning them.

Every SE block gates its channels with a vector in (0, 1) computed from the input (its
"excitation", kept in ``last_gate``). Over a cohort, per block:

* :func:`excitations` collects the vectors (subjects x channels);
* :func:`channel_differences` gives, per channel, the standardised mean difference (Cohen's d)
  between two groups (female vs male; young vs old), largest first;
* :func:`pruned` switches off the channels with the lowest mean excitation (their gate set to 0),
  so the accuracy cost of removing them can be measured.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pandas as pd
import torch

from brainage.models.network import BrainAgeNet
from brainage.models.seresnet import SqueezeExcitation3d
from brainage.training.dataset import BrainAgeDataset, make_loader


def se_blocks(net: BrainAgeNet) -> dict[str, SqueezeExcitation3d]:
    """The SE blocks of a network by module name (empty for a network without SE)."""
    return {name: module for name, module in net.named_modules() if isinstance(module, SqueezeExcitation3d)}


def excitations(net: BrainAgeNet, dataset: BrainAgeDataset, batch_size: int = 4) -> dict[str, np.ndarray]:
    """Per SE block, the excitation vectors of every item: ``(N, channels)``."""
    blocks, out = se_blocks(net), {}
    net.eval()
    with torch.no_grad():
        for x, covariates, _, _ in make_loader(dataset, batch_size, shuffle=False):
            net(x, covariates)
            for name, block in blocks.items():
                out.setdefault(name, []).append(block.last_gate.float().numpy())
    return {name: np.concatenate(parts) for name, parts in out.items()}


def cohens_d(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Standardised mean difference ``(mean a - mean b) / pooled sd`` per column.

    Example:
        >>> cohens_d(np.array([[1.0], [3.0]]), np.array([[0.0], [2.0]])).round(3).tolist()
        [0.707]
    """
    na, nb = len(a), len(b)
    pooled = np.sqrt(((na - 1) * a.var(0, ddof=1) + (nb - 1) * b.var(0, ddof=1)) / max(na + nb - 2, 1))
    return (a.mean(0) - b.mean(0)) / np.maximum(pooled, 1e-9)


def channel_differences(
    gates: dict[str, np.ndarray], group_a: np.ndarray, group_b: np.ndarray, labels: tuple[str, str]
) -> pd.DataFrame:
    """Per block and channel: both groups' mean excitation and Cohen's d (``a`` minus ``b``),
    strongest |d| first."""
    rows = []
    for block, g in gates.items():
        d = cohens_d(g[group_a], g[group_b])
        for channel in range(g.shape[1]):
            rows.append(
                {
                    "block": block,
                    "channel": channel,
                    f"mean_{labels[0]}": float(g[group_a, channel].mean()),
                    f"mean_{labels[1]}": float(g[group_b, channel].mean()),
                    "cohens_d": float(d[channel]),
                }
            )
    table = pd.DataFrame(rows)
    return table.reindex(table.cohens_d.abs().sort_values(ascending=False).index).reset_index(drop=True)


def lowest_channels(gates: dict[str, np.ndarray], fraction: float) -> dict[str, np.ndarray]:
    """Per block, the ``fraction`` of channels with the lowest mean excitation."""
    return {block: np.argsort(g.mean(0))[: int(round(fraction * g.shape[1]))] for block, g in gates.items()}


@contextmanager
def pruned(net: BrainAgeNet, channels: dict[str, np.ndarray]):
    """Inside the block, the listed channels of each SE block are switched off (gate 0)."""
    blocks, hooks = se_blocks(net), []
    for name, drop in channels.items():
        mask = torch.ones(blocks[name].fc[-2].out_features)
        mask[torch.as_tensor(drop, dtype=torch.long)] = 0
        hooks.append(
            blocks[name].register_forward_hook(lambda m, i, out, mask=mask: out * mask[None, :, None, None, None])
        )
    try:
        yield net
    finally:
        for hook in hooks:
            hook.remove()
