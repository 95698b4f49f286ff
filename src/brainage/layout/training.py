"""What ``brainage split`` and ``brainage train`` write: folds, runs, their (fold, seed) folders."""

from __future__ import annotations

from pathlib import Path

from brainage.errors import InputError
from brainage.layout.base import Folder
from brainage.layout.evaluation import EvaluationDir
from brainage.layout.explain import ExplainDir


class SplitsDir(Folder):
    """``brainage split`` output."""

    @property
    def folds(self) -> Path:
        return self.root / "folds.csv"

    @property
    def fold_balance(self) -> Path:
        return self.root / "fold_balance.csv"

    @property
    def split_balance(self) -> Path:
        return self.root / "split_balance.csv"

    @property
    def config(self) -> Path:
        return self.root / "split_config.yaml"

    @property
    def manifest_after_qc(self) -> Path:
        return self.root / "manifest_after_qc.csv"

    @staticmethod
    def folds_csv(path: str | Path) -> Path:
        """``folds.csv`` given the file itself or the folder holding it, or a clear error."""
        path = Path(path)
        candidate = SplitsDir(path).folds if path.is_dir() else path
        if not candidate.is_file():
            problem = "folder holds no folds.csv" if path.is_dir() else "does not exist"
            raise InputError(path, f"{problem} (make the folds with `brainage split MANIFEST --out FOLDER`)")
        return candidate


#: The "fold" of the model trained on every subject: no test subjects, what ``brainage export`` ships.
FINAL_FOLD = -1


class FoldDir(Folder):
    """One (fold, seed) of a training run."""

    @property
    def fold(self) -> int:
        name = self.root.parent.name
        return FINAL_FOLD if name == "final" else int(name[len("fold") :])

    @property
    def seed(self) -> int:
        return int(self.root.name[len("seed") :])

    @property
    def predictions(self) -> Path:
        return self.root / "predictions.csv"

    @property
    def done(self) -> Path:
        return self.root / "done.json"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def model(self) -> Path:
        """A classical model's fitted estimator (joblib)."""
        return self.root / "model.joblib"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / "last.ckpt"

    @property
    def best_checkpoint(self) -> Path:
        """The checkpoint with the best validation score (``ModelCheckpoint(filename="best")``)."""
        return self.checkpoints / "best.ckpt"

    def set_aside_checkpoints(self, fingerprint: str) -> Path:
        """A free folder for the checkpoints of an earlier configuration (``fingerprint``), which a
        changed one must not resume from: ``checkpoints_<fingerprint>``, numbered if that is taken."""
        candidate, n = self.root / f"checkpoints_{fingerprint}", 1
        while candidate.exists():
            candidate, n = self.root / f"checkpoints_{fingerprint}_{n}", n + 1
        return candidate

    def chosen_checkpoint(self, choice: str = "best") -> Path:
        """The checkpoint a trained fold is used with (``TrainConfig.checkpoint``): the last, or the
        best on validation where there is one, else the last."""
        return self.best_checkpoint if choice == "best" and self.best_checkpoint.is_file() else self.last_checkpoint

    @property
    def log(self) -> Path:
        """Lightning's CSV log of the current attempt."""
        return self.root / "logs" / "metrics.csv"

    def archived_logs(self) -> list[Path]:
        """Logs of earlier, interrupted attempts, oldest first."""
        return sorted(self.root.glob("log_attempt*.csv"), key=lambda p: int(p.stem[len("log_attempt") :]))

    def next_archived_log(self) -> Path:
        return self.root / f"log_attempt{len(self.archived_logs())}.csv"


class RunDir(Folder):
    """``brainage train`` output: config, per-fold folders, out-of-fold predictions."""

    @property
    def config(self) -> Path:
        return self.root / "train_config.yaml"

    @property
    def options(self) -> Path:
        return self.root / "run_options.yaml"

    @property
    def info(self) -> Path:
        return self.root / "run_info.json"

    @property
    def all_predictions(self) -> Path:
        return self.root / "all_predictions.csv"

    @property
    def combination(self) -> Path:
        """An ensemble's stacking weights per fold."""
        return self.root / "stack_weights.json"

    @property
    def oof_predictions(self) -> Path:
        return self.root / "oof_predictions.csv"

    def fold(self, fold: int, seed: int) -> FoldDir:
        """One (fold, seed); fold :data:`FINAL_FOLD` is the model trained on every subject."""
        if fold == FINAL_FOLD:
            return FoldDir(self.root / "final" / f"seed{seed}")
        return FoldDir(self.root / f"fold{fold}" / f"seed{seed}")

    def seed_dirs(self, fold: int) -> list[FoldDir]:
        """The seeds trained for ``fold`` (:data:`FINAL_FOLD`: the model ``train --final`` trained on every
        subject), in seed order."""
        parent = self.fold(fold, 0).root.parent
        return sorted((FoldDir(p) for p in parent.glob("seed*") if p.is_dir()), key=lambda d: d.seed)

    def fold_dirs(self) -> list[FoldDir]:
        return [FoldDir(p) for p in sorted(self.root.glob("fold*/seed*")) if p.is_dir()]

    @property
    def evaluation(self) -> "EvaluationDir":
        return EvaluationDir(self.root / "evaluation")

    @property
    def explain(self) -> "ExplainDir":
        return ExplainDir(self.root / "explain")
