"""Grad-CAM finds a known blob, differs from a random network's, SE statistics, and the command end to end."""

import numpy as np
import pandas as pd
import pytest
import torch

from brainage.cli import main as brainage
from brainage.explain.atlas import load_atlas, region_summary
from brainage.explain.cam import grad_cam, randomised_copy, rank_correlation
from brainage.explain.se import channel_differences, excitations, lowest_channels, pruned, se_blocks
from brainage.layout import PredictDir
from brainage.models.network import BrainAgeNet, model_config

SHAPE = (32, 32, 32)
BLOB = (slice(4, 12), slice(4, 12), slice(20, 28))


class BlobVolumes(torch.utils.data.Dataset):
    """Noise everywhere; age is written only in the brightness of one cube (BLOB)."""

    def __init__(self, n: int, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.ages = rng.uniform(20, 80, n).astype(np.float32)
        self.x = rng.normal(0.3, 0.1, (n, 1, *SHAPE)).astype(np.float32)
        for i, age in enumerate(self.ages):
            self.x[(i, 0, *BLOB)] += age / 60

    def __len__(self):
        return len(self.ages)

    def __getitem__(self, i):
        return torch.from_numpy(self.x[i]), torch.zeros(0), torch.tensor(self.ages[i]), torch.tensor(i % 2)


@pytest.fixture(scope="module")
def blob_net():
    torch.manual_seed(0)
    data = BlobVolumes(48)
    net = BrainAgeNet(model_config("seresnet", width=0.25, dropout=0.0, tasks=("age",)), age_mean=50, age_std=17)
    optimiser = torch.optim.Adam(net.parameters(), lr=3e-3)
    loader = torch.utils.data.DataLoader(data, batch_size=8, shuffle=True)
    net.train()
    for _ in range(12):
        for x, cov, age, sex in loader:
            optimiser.zero_grad()
            net.losses(net(x, cov), age, sex)["age"].backward()
            optimiser.step()
    net.eval()
    predicted = net.predict(net(torch.from_numpy(data.x), torch.zeros(len(data), 0)))["age"].detach().numpy()
    assert np.abs(predicted - data.ages).mean() < 8, "the tiny network must learn the blob first"
    return net, BlobVolumes(12, seed=1)


def _blob_share(maps: np.ndarray) -> float:
    inside = np.zeros(SHAPE, bool)
    inside[BLOB] = True
    return float(maps[:, inside].sum() / maps.sum())


def test_grad_cam_lights_up_where_age_is_written(blob_net):
    net, data = blob_net
    maps = grad_cam(net, data, "age")
    assert maps.shape == (12, *SHAPE) and np.allclose(maps.sum(axis=(1, 2, 3)), 1)
    uniform = (8 * 8 * 8) / np.prod(SHAPE)
    assert _blob_share(maps) > 3 * uniform


def test_a_randomised_network_gives_different_maps(blob_net):
    net, data = blob_net
    trained, random = grad_cam(net, data, "age"), grad_cam(randomised_copy(net), data, "age")
    assert np.mean(rank_correlation(trained, random)) < 0.5
    assert _blob_share(random) < _blob_share(trained)


def test_se_excitations_differences_and_pruning(blob_net):
    net, data = blob_net
    gates = excitations(net, data)
    assert set(gates) == set(se_blocks(net)) and all(
        g.shape[0] == 12 and ((g > 0) & (g < 1)).all() for g in gates.values()
    )
    young, old = data.ages < 50, data.ages >= 50
    table = channel_differences(gates, young, old, ("young", "old"))
    assert len(table) == sum(g.shape[1] for g in gates.values())
    assert table.cohens_d.abs().is_monotonic_decreasing
    x = torch.from_numpy(data.x)
    before = net(x, torch.zeros(12, 0))["age"].detach()
    drop = lowest_channels(gates, 0.5)
    with pruned(net, drop):
        during = net(x, torch.zeros(12, 0))["age"].detach()
        pruned_gates = excitations(net, data)  # last_gate is the gate before the mask
    after = net(x, torch.zeros(12, 0))["age"].detach()
    assert not torch.allclose(before, during) and torch.allclose(before, after)
    assert all(len(v) == round(0.5 * gates[k].shape[1]) for k, v in drop.items()) and set(pruned_gates) == set(gates)


def test_the_shipped_atlas_names_regions():
    atlas, affine, labels = load_atlas()
    assert atlas.shape == (80, 96, 80) and len(labels) > 100
    assert {"Hippocampus_R", "3rdVentricle", "LateralVentricle_R"} <= set(labels.name)
    ventricle = labels.label[labels.name == "LateralVentricle_R"].iloc[0]
    volume = (atlas == ventricle).astype(float)
    assert (atlas == ventricle).sum() > 100  # the right lateral ventricle is on the 2 mm grid, not a stray label
    top = region_summary(volume, atlas, labels).iloc[0]
    assert top["label"] == ventricle and top["name"] == "LateralVentricle_R"


def test_explain_a_predict_folder(predicted_synth, tiny_bundle):
    assert brainage(["explain", str(predicted_synth), "--model", str(tiny_bundle[0]), "--subjects", "1"]) == 0
    out = PredictDir(predicted_synth).explain
    assert out.report.is_file() and out.population_figure("sex_male").is_file()
    page = out.report.read_text()  # the tiny model is an SFCN: no SE section to show, and none shown
    assert "no squeeze-and-excitation blocks" in page and "Pruning" not in page
    sid = pd.read_csv(out.sanity).subject_id.iloc[0]
    assert out.subject_map(sid, "age", "mni").is_file() and out.subject_map(sid, "age", "native").is_file()
    regions = pd.read_csv(out.regions)
    assert set(regions.ranked_by) == {"mass", "density"} and regions.groupby(["map", "ranked_by"]).size().max() == 15


def test_scores_skip_unknown_ages_and_sexes():
    from brainage.explain.run import _scores

    table = pd.DataFrame({"age": [30.0, np.nan, 50.0, 60.0], "sex": ["F", "", "M", "M"]})
    scores = _scores(
        {"predicted_age": np.array([32.0, 99.0, 50.0, 58.0]), "p_male": np.array([0.2, 0.9, 0.7, 0.4])}, table
    )
    assert scores == {"age_mae": pytest.approx(4 / 3), "sex_accuracy": pytest.approx(2 / 3)}


def test_one_part_of_an_explanation_runs_alone(predicted_synth, tiny_bundle, tmp_path):
    """``--only sanity``: the randomisation check without any Grad-CAM map of the population; the
    page says what was not run; an unknown part is named."""
    import shutil

    from brainage.errors import InputError
    from brainage.explain.run import explain_folder

    folder = tmp_path / "predicted"
    shutil.copytree(predicted_synth, folder, ignore=shutil.ignore_patterns("explain"))
    out = explain_folder(folder, tiny_bundle[0], parts=("sanity",))
    assert out.sanity.is_file() and not out.regions.exists() and not out.population_figure("sex_male").exists()
    assert "Not run" in out.report.read_text()
    assert brainage(["explain", str(folder), "--model", str(tiny_bundle[0]), "--only", "maps,heatmaps"]) != 0
    with pytest.raises(InputError, match="unknown part.*heatmaps"):
        explain_folder(folder, tiny_bundle[0], parts=("maps", "heatmaps"))
