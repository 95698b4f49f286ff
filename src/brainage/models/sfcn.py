"""SFCN: the Simple Fully Convolutional Network of Peng et al., Medical Image Analysis 68 (2021).

Five conv(3x3x3)-BN-maxpool-ReLU blocks and a 1x1x1 conv-BN-ReLU block with channels
(32, 64, 128, 256, 256, 64), global average pooling, dropout, and a 1x1x1 conv classifier; about
3 M parameters at full width. Here the backbone stops at the pooled features so that age and sex
heads (:mod:`brainage.models.heads`) can sit on top of it.
"""

from __future__ import annotations

import torch
from torch import nn

SFCN_CHANNELS = (32, 64, 128, 256, 256, 64)


class SFCNBackbone(nn.Module):
    """SFCN feature extractor + global average pooling -> ``(batch, channels[-1])``.

    Example:
        >>> net = SFCNBackbone(width=0.25)
        >>> net(torch.zeros(2, 1, 40, 48, 40)).shape
        torch.Size([2, 16])
    """

    def __init__(self, in_channels: int = 1, width: float = 1.0, channels: tuple = SFCN_CHANNELS, dropout: float = 0.5):
        super().__init__()
        chans = [max(4, int(round(c * width))) for c in channels]
        layers: list[nn.Module] = []
        prev = in_channels
        for i, c in enumerate(chans):
            last = i == len(chans) - 1
            layers += [nn.Conv3d(prev, c, kernel_size=1 if last else 3, padding=0 if last else 1), nn.BatchNorm3d(c)]
            if not last:
                layers.append(nn.MaxPool3d(2))
            layers.append(nn.ReLU(inplace=True))
            prev = c
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.dropout = nn.Dropout(dropout)
        self.out_channels = prev

    def forward_maps(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature maps, before pooling (for class-activation maps)."""
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.pool(self.forward_maps(x)).flatten(1))
