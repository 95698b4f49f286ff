"""Domain randomisation of the T1 channel through the tissue maps (in the spirit of SynthSeg/SynthBA).

Another scanner or sequence changes how bright each tissue is relative to the others (grey/white
contrast differs between MPRAGE and SPGR, 1.5 T and 3 T). A network that only ever saw one
scanner's contrast learns it. :class:`RandomTissueContrast` multiplies the T1 intensity of each
tissue class by its own random factor, weighted by the voxel's tissue fractions, so every epoch
shows the same anatomy under another contrast. The tissue maps themselves are left alone: they
carry no contrast. A torchio transform, so it runs in the DataLoader workers and pickles.

Example:
    >>> import torch, torchio as tio
    >>> subject = tio.Subject(t1=tio.ScalarImage(tensor=torch.full((1, 4, 4, 4), 0.5)),
    ...                       tissue=tio.ScalarImage(tensor=torch.stack([torch.zeros(4, 4, 4), torch.ones(4, 4, 4),
    ...                                                                   torch.zeros(4, 4, 4)])))
    >>> out = RandomTissueContrast(0.2)(subject)
    >>> bool(((out["t1"].data - 0.5).abs() <= 0.1 + 1e-6).all())
    True
    >>> bool((out["tissue"].data == subject["tissue"].data).all())
    True
"""

from __future__ import annotations

import torch
import torchio as tio


class RandomTissueContrast(tio.Transform):
    """T1 intensity of each tissue (CSF, grey, white matter) times ``1 + U(-amount, amount)``.

    Needs the subject's ``t1`` and ``tissue`` images (tissue fractions, 3 channels); a subject
    without tissue maps is returned unchanged.
    """

    def __init__(self, amount: float = 0.15, **kwargs):
        super().__init__(**kwargs)
        self.amount = amount

    def apply_transform(self, subject: tio.Subject) -> tio.Subject:
        if "tissue" not in subject or "t1" not in subject:
            return subject
        t1, tissue = subject["t1"], subject["tissue"].data.float()
        factors = 1 + (torch.rand(tissue.shape[0]) * 2 - 1) * self.amount
        gain = 1 + (tissue * (factors - 1).view(-1, 1, 1, 1)).sum(0, keepdim=True)
        t1.set_data((t1.data.float() * gain).clamp(0, 1))
        return subject
