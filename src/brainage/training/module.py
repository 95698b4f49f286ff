"""The LightningModule: one network, its losses, optimiser and metric logging."""

from __future__ import annotations

import lightning as L
import torch

from brainage.models.network import BrainAgeNet, ModelConfig
from brainage.training.augment import AugmentConfig
from brainage.training.batch_augment import augment_batch
from brainage.training.config import OptimConfig
from brainage.training.dataset import MALE_THRESHOLD


class BrainAgeModule(L.LightningModule):
    """Trains :class:`BrainAgeNet` on ``(volume, covariates, age, sex)`` batches; logs loss, age MAE, sex accuracy."""

    def __init__(
        self,
        model: dict,
        optim: dict,
        age_mean: float,
        age_std: float,
        max_epochs: int,
        channels_last: bool = False,
        batch_augment: dict | None = None,
        gpu_augment: dict | None = None,
        voxel_mm: float = 2.0,
        covariate_stats: tuple | None = None,
    ):
        super().__init__()
        self.save_hyperparameters()
        # gpu_augment: the same, as checkpoints written before 0.12 name it
        batched = batch_augment or gpu_augment
        self.batch_augment = AugmentConfig(**batched) if batched else None
        self.net = BrainAgeNet(ModelConfig(**model), age_mean=age_mean, age_std=age_std)
        self.optim_config = OptimConfig(**optim)
        if channels_last:
            self.net = self.net.to(memory_format=torch.channels_last_3d)
        self.channels_last = channels_last

    def forward(self, x: torch.Tensor, covariates: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last_3d)
        return self.net(x, covariates)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        if self.training and self.batch_augment is not None and self.trainer is not None and self.trainer.training:
            x, covariates, age, sex = batch
            batch = (
                augment_batch(x, self.batch_augment, self.hparams.voxel_mm, inputs=tuple(self.hparams.model["inputs"])),
                covariates,
                age,
                sex,
            )
        return batch

    def _step(self, batch, stage: str) -> torch.Tensor:
        x, covariates, age, sex = batch
        outputs = self(x, covariates)
        losses = self.net.losses(outputs, age, sex)
        loss = sum(losses.values())
        preds = self.net.predict(outputs)
        bs = x.shape[0]
        self.log(f"{stage}_loss", loss, prog_bar=True, on_epoch=True, on_step=False, batch_size=bs)
        if "age" in preds:
            self.log(
                f"{stage}_age_mae",
                (preds["age"] - age).abs().mean(),
                prog_bar=True,
                on_epoch=True,
                on_step=False,
                batch_size=bs,
            )
        if "sex" in preds:
            known = sex >= 0
            acc = (
                ((preds["sex"][known] > MALE_THRESHOLD).long() == sex[known]).float().mean()
                if known.any()
                else torch.tensor(0.0)
            )
            self.log(f"{stage}_sex_acc", acc, prog_bar=True, on_epoch=True, on_step=False, batch_size=bs)
        return loss

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        return self._step(batch, "val")

    def predict_step(self, batch, batch_idx):
        x, covariates, age, sex = batch
        preds = self.net.predict(self(x, covariates))
        return {k: v.detach().float().cpu() for k, v in preds.items()}

    def configure_optimizers(self):
        c = self.optim_config
        opt = torch.optim.AdamW(self.parameters(), lr=c.lr, weight_decay=c.weight_decay)
        epochs = max(1, self.hparams.max_epochs)
        warm = min(c.warmup_epochs, epochs - 1)

        def factor(epoch: int) -> float:
            if epoch < warm:
                return (epoch + 1) / (warm + 1)
            progress = (epoch - warm) / max(1, epochs - warm)
            return 0.5 * (1 + torch.cos(torch.tensor(progress * torch.pi)).item())

        return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.LambdaLR(opt, factor)}
