"""The bundle's members predict exactly as what they were exported from."""

import numpy as np
import pandas as pd

from brainage.bundle.members import RidgeMember
from brainage.models.network import model_config
from brainage.training.classical import RidgeBrainAge
from brainage.training.config import TrainConfig


def _cohort(n: int, seed: int) -> pd.DataFrame:
    """Subjects whose 8^3 'T1' darkens with age in one corner, with head-size covariates; the
    volumes are arrays in the rows (the in-memory form of a cache index)."""
    rng = np.random.default_rng(seed)
    age = rng.uniform(20, 80, n)
    sex = rng.choice(["F", "M"], n)
    volumes = rng.integers(60, 200, (n, 8, 8, 8)).astype(np.uint8)
    volumes[:, :3, :3, :3] = np.clip(250 - 2.5 * age, 0, 255).astype(np.uint8)[:, None, None, None]
    volumes[:, 5:, 5:, 5:] = np.where(sex == "M", 180, 90).astype(np.uint8)[:, None, None, None]
    return pd.DataFrame(
        {
            "subject_id": [f"s{i}" for i in range(n)],
            "source_subject": [f"s{i}" for i in range(n)],
            "rendition": "",
            "age": age,
            "sex": sex,
            "site": "a",
            "path": list(volumes),
            "brain_volume_ml": rng.normal(1200, 100, n),
            "affine_det": rng.normal(1.0, 0.1, n),
        }
    )


def test_the_exported_ridge_predicts_what_scikit_learn_predicts():
    """Two inference paths of the ridge exist (scikit-learn's in training, the arrays of the bundle,
    which must load without unpickling); this fails the day they drift apart."""
    config = TrainConfig(model=model_config("ridge", inputs=("t1",)))
    train, new = _cohort(60, 0), _cohort(15, 1)
    model = RidgeBrainAge(config, seed=0).fit(train)
    reference = model.predict(new)
    member = RidgeMember.from_model(model)
    restored = RidgeMember.restore(member.settings(), member.tensors())  # as a bundle file stores it
    for exported in (member, restored):
        out = exported.predict(new)
        np.testing.assert_allclose(out["predicted_age"], reference["predicted_age"], atol=1e-3)
        np.testing.assert_allclose(out["p_male"], reference["p_male"], atol=1e-5)
    assert np.corrcoef(reference["predicted_age"], new.age)[0, 1] > 0.9  # a model worth comparing
