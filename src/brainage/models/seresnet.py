"""A 3D residual network with squeeze-and-excitation (SE) blocks and global average pooling.

The seed project's design (r = 0.90 for age on IXI). SE (Hu et al., CVPR 2018) re-weights
channels with a learned gate from globally pooled features; ``se=False`` removes it for
ablation while keeping everything else identical.
"""

from __future__ import annotations

import torch
from torch import nn


class SqueezeExcitation3d(nn.Module):
    """Channel gate: GAP -> FC(C/r) -> ReLU -> FC(C) -> sigmoid, multiplied onto the input.

    The last gate values are kept in ``self.last_gate`` so channel analysis can read them.
    """

    def __init__(self, channels: int, reduction: int = 8):
        super().__init__()
        hidden = max(4, channels // reduction)
        self.fc = nn.Sequential(
            nn.Linear(channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, channels), nn.Sigmoid()
        )
        self.last_gate: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = self.fc(x.mean(dim=(2, 3, 4)))
        self.last_gate = gate.detach()
        return x * gate[:, :, None, None, None]


class SEBasicBlock3d(nn.Module):
    """Two 3x3x3 convolutions with BN, optional SE, and an identity (or 1x1x1) shortcut."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1, se: bool = True, reduction: int = 8):
        super().__init__()
        self.conv1 = nn.Conv3d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm3d(out_ch)
        self.conv2 = nn.Conv3d(out_ch, out_ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm3d(out_ch)
        self.se = SqueezeExcitation3d(out_ch, reduction) if se else nn.Identity()
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = (
            nn.Identity()
            if stride == 1 and in_ch == out_ch
            else nn.Sequential(nn.Conv3d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm3d(out_ch))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.se(self.bn2(self.conv2(out)))
        return self.relu(out + self.shortcut(x))


class SEResNetBackbone(nn.Module):
    """Stem + four stages of SE basic blocks (stride 2 from the second stage) + GAP.

    Example:
        >>> net = SEResNetBackbone(width=0.5)
        >>> net(torch.zeros(2, 1, 40, 48, 40)).shape
        torch.Size([2, 64])
    """

    def __init__(
        self,
        in_channels: int = 1,
        width: float = 1.0,
        channels: tuple = (32, 64, 128, 128),
        blocks: tuple = (1, 1, 1, 1),
        se: bool = True,
        dropout: float = 0.3,
    ):
        super().__init__()
        chans = [max(4, int(round(c * width))) for c in channels]
        self.stem = nn.Sequential(
            nn.Conv3d(in_channels, chans[0], 3, stride=2, padding=1, bias=False),
            nn.BatchNorm3d(chans[0]),
            nn.ReLU(inplace=True),
        )
        layers: list[nn.Module] = []
        prev = chans[0]
        for i, (c, n) in enumerate(zip(chans, blocks)):
            for j in range(n):
                layers.append(SEBasicBlock3d(prev, c, stride=2 if (i > 0 and j == 0) else 1, se=se))
                prev = c
        self.stages = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.dropout = nn.Dropout(dropout)
        self.out_channels = prev

    def forward_maps(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.pool(self.forward_maps(x)).flatten(1))
