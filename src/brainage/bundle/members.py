"""The trained parts of a model bundle, as plain tensors: a CNN's weights and the ridge model's arrays.

A bundle must load without running code from the file (anyone may hand a user one), so nothing
here is pickled: each member turns itself into named tensors plus JSON-able settings
(:meth:`tensors`, :meth:`settings`), and is rebuilt from them (:meth:`restore`), read with
``torch.load(weights_only=True)``. The ridge model is exported as the linear maps it is (scikit-
learn estimators are pickles); scikit-learn itself offers no safe format for them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from brainage.config import from_dict
from brainage.errors import InputError
from brainage.models.network import BrainAgeNet, ModelConfig
from brainage.training.classical import RidgeBrainAge, image_matrix
from brainage.training.config import TrainConfig
from brainage.training.dataset import BrainAgeDataset, make_loader


class Member:
    """One trained model of a bundle: ``predict(table)`` gives ``predicted_age`` and ``p_male``."""

    kind = ""

    def settings(self) -> dict:
        raise NotImplementedError

    def tensors(self) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def predict(self, table: pd.DataFrame) -> dict[str, np.ndarray]:
        raise NotImplementedError


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class CNNMember(Member):
    """A :class:`~brainage.models.network.BrainAgeNet` with the statistics it was trained with."""

    kind = "cnn"

    def __init__(self, net: BrainAgeNet, hparams: dict, downsample: int, batch_size: int = 4):
        self.net, self.hparams, self.downsample, self.batch_size = net.eval(), hparams, downsample, batch_size

    @classmethod
    def from_checkpoint(cls, path, downsample: int) -> "CNNMember":
        """From a Lightning checkpoint written by ``brainage train`` (our own file: full load)."""
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
        h = checkpoint["hyper_parameters"]
        hparams = {
            "model": {k: list(v) if isinstance(v, tuple) else v for k, v in h["model"].items()},
            "age_mean": float(h["age_mean"]),
            "age_std": float(h["age_std"]),
            "covariate_stats": [list(map(float, s)) for s in h["covariate_stats"]]
            if h.get("covariate_stats")
            else None,
        }
        state = {k[len("net.") :]: v for k, v in checkpoint["state_dict"].items() if k.startswith("net.")}
        return cls.restore({"hparams": hparams, "downsample": downsample}, state)

    @classmethod
    def restore(cls, settings: dict, tensors: dict[str, torch.Tensor]) -> "CNNMember":
        h = settings["hparams"]
        config = from_dict(ModelConfig, h["model"])
        net = BrainAgeNet(config, age_mean=h["age_mean"], age_std=h["age_std"])
        missing, unexpected = net.load_state_dict(tensors, strict=False)
        if missing or unexpected:
            raise InputError(
                None,
                f"bundle weights do not fit the {config.name} network of this brainage "
                f"(missing {missing[:3]}, unexpected {unexpected[:3]}): made by another version?",
            )
        return cls(net, h, int(settings["downsample"]))

    def settings(self) -> dict:
        return {"hparams": self.hparams, "downsample": self.downsample}

    def tensors(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.net.state_dict().items()}

    @property
    def model_config(self) -> ModelConfig:
        return self.net.config

    def dataset(self, table: pd.DataFrame, transform=None, voxel_mm: float = 2.0) -> BrainAgeDataset:
        """The inputs of ``table`` (cache-index rows; unknown ages allowed) as this network sees them
        (``voxel_mm``: their voxel size as it reads them, which a ``transform``'s millimetres refer to)."""
        m, stats = self.net.config, self.hparams.get("covariate_stats")
        return BrainAgeDataset(
            table.assign(age=table.age.fillna(0.0)),
            transform,
            downsample=self.downsample,
            inputs=m.inputs,
            modulate=m.modulate,
            covariates=m.covariates,
            covariate_stats=tuple(stats) if stats else None,
            voxel_mm=voxel_mm,
        )

    def predict(self, table: pd.DataFrame) -> dict[str, np.ndarray]:
        dataset = self.dataset(table)
        outputs: dict[str, list] = {}
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # a GPU when there is one
        net = self.net.to(device)
        with torch.inference_mode():
            for x, covariates, _, _ in make_loader(dataset, self.batch_size, shuffle=False):
                for task, value in net.predict(net(x.to(device), covariates.to(device))).items():
                    outputs.setdefault(task, []).append(value.float().cpu())
        self.net.cpu()
        out = {}
        if "age" in outputs:
            out["predicted_age"] = torch.cat(outputs["age"]).numpy().astype(float)
        if "sex" in outputs:
            out["p_male"] = torch.cat(outputs["sex"]).numpy().astype(float)
        return out


class RidgeMember(Member):
    """The two-stage ridge model (:class:`~brainage.training.classical.RidgeBrainAge`) as arrays.

    Stage 1: image scores ``x[:, voxels] @ coef + intercept`` for age and sex; stage 2: the
    scores and covariates, standardised, through a line (age) and a logistic (sex).
    """

    kind = "ridge"

    def __init__(self, arrays: dict[str, np.ndarray], config: dict):
        self.arrays, self.config = arrays, config

    @classmethod
    def from_model(cls, model: RidgeBrainAge) -> "RidgeMember":
        age_scaler, age_line = model.age_final_[0], model.age_final_[-1]
        sex_scaler, sex_logistic = model.sex_final_[0], model.sex_final_[-1]
        arrays = {
            "voxels": model.voxels_,
            "age_coef": model.age_image_.coef_,
            "age_intercept": [model.age_image_.intercept_],
            "sex_coef": model.sex_image_.coef_,
            "sex_intercept": [model.sex_image_.intercept_],
            "age_mean": age_scaler.mean_,
            "age_scale": age_scaler.scale_,
            "age_w": age_line.coef_,
            "age_b": [age_line.intercept_],
            "sex_mean": sex_scaler.mean_,
            "sex_scale": sex_scaler.scale_,
            "sex_w": sex_logistic.coef_[0],
            "sex_b": sex_logistic.intercept_,
        }
        arrays = {k: np.asarray(v, bool if k == "voxels" else np.float32) for k, v in arrays.items()}
        c = model.config
        config = {
            "inputs": list(c.model.inputs),
            "modulate": c.model.modulate,
            "covariates": list(c.model.covariates),
            "downsample": c.downsample,
        }
        return cls(arrays, config)

    @classmethod
    def restore(cls, settings: dict, tensors: dict[str, torch.Tensor]) -> "RidgeMember":
        return cls({k: v.numpy() for k, v in tensors.items()}, settings["config"])

    def settings(self) -> dict:
        return {"config": self.config}

    def tensors(self) -> dict[str, torch.Tensor]:
        return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in self.arrays.items()}

    def predict(self, table: pd.DataFrame) -> dict[str, np.ndarray]:
        a, c = self.arrays, self.config
        config = TrainConfig(downsample=int(c["downsample"]))
        config.model.inputs, config.model.modulate = tuple(c["inputs"]), bool(c["modulate"])
        x = image_matrix(table, config)
        if x.shape[1] != a["voxels"].size:
            raise InputError(
                None,
                f"ridge member expects {a['voxels'].size} input values per subject, got {x.shape[1]}: "
                "preprocessed on another grid?",
            )
        x = x[:, a["voxels"]]
        scores = np.column_stack([x @ a["age_coef"] + a["age_intercept"][0], x @ a["sex_coef"] + a["sex_intercept"][0]])
        z = np.column_stack([scores, table[list(c["covariates"])].to_numpy(float)]) if c["covariates"] else scores
        age = ((z - a["age_mean"]) / a["age_scale"]) @ a["age_w"] + a["age_b"][0]
        sex = _sigmoid(((z - a["sex_mean"]) / a["sex_scale"]) @ a["sex_w"] + a["sex_b"][0])
        return {"predicted_age": age.astype(float), "p_male": sex.astype(float)}


MEMBER_KINDS = {cls.kind: cls for cls in (CNNMember, RidgeMember)}
