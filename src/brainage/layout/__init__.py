"""The on-disk layout of every stage: each file and folder name brainage writes, spelled once.

Each stage's names live in a module of its own (:mod:`brainage.layout.preprocess`,
:mod:`brainage.layout.training`, ...), re-exported here. Stages never build a path by hand; they
ask the folder object of the stage whose files they read or write. The whole tree, on one page:

```
COHORT/ (BIDS)   participants.tsv  dataset_description.json  sub-<id>/[ses-*/]anat/sub-<id>_T1w.nii.gz
  derivatives/synth/  subjects.tsv  synth_config.yaml  sub-<id>_desc-brain_mask.nii.gz  (synthetic truth)
INGEST/          manifest.csv  summary.txt  summary.png  excluded.csv  ixi_rows_without_scan.csv
SPLITS/          folds.csv  fold_balance.csv  split_balance.csv  split_config.yaml  manifest_after_qc.csv
PREPROCESSED/    manifest.csv  preprocess_report.csv  preprocess_config.yaml
  subjects/<id>/ steps.json  t1_ras  brain_mask  t1_n4  bias_field  brain_n4  to_mni_affine.mat  tissue_probs
                 t1_mni_<grid>  mask_mni_<grid>  tissue_mni_<grid>  (.nii.gz)  error.txt
  cache/<grid>/  <id>.npy  <id>_tissue.npy  index.csv  grid.json
  qc/            qc_metrics.csv  qc_verdicts.csv  qc_overrides.csv  qc_ratings.sqlite  qc_info.json
                 montages/<id>{,_tile}.png  contact_sheet.png  index.html
  figures/       <id>.png (before/after)
RUN/             train_config.yaml  run_options.yaml  run_info.json  all_predictions.csv  oof_predictions.csv
                 stack_weights.json (ensembles)
  fold<k>/seed<s>/  predictions.csv  done.json  checkpoints/{best,last}.ckpt  logs/metrics.csv  log_attempt<n>.csv
                 checkpoints_<fingerprint>/ (an earlier configuration's, set aside when it changed)
  final/seed<s>/ the same, for the model trained on every subject (`train --final`; what `export` ships)
  evaluation/    metrics.json  metrics.csv  age_error_by_decile.csv  subjects.csv  *.png  index.html
BUNDLE.brainage  (zip) bundle.json  weights.pt  LICENSE.txt
PREDICT/         predictions.csv  predict_info.json  brain_age_gap.png  age_predicted_vs_true.png  index.html
  dicom_nifti/   <series>.nii.gz (converted DICOM)   inputs/manifest.csv   preprocessed/ (as above, with qc/)
RUN/explain/ or PREDICT/explain/  index.html  regions.csv  se_differences.csv  se_pruning.csv  sanity.csv
  maps/<id>_<task>_{mni,native}.nii.gz  figures/<id>_<task>.png  population/<group>_<task>.{nii.gz,png}
SITE/            site_split.csv  site_metrics.csv  site_predictions.csv  site.brainage  index.html
```

Example:
    >>> pre = PreprocessedDir("out")
    >>> pre.subject("sub-01").brain_mask.as_posix()
    'out/subjects/sub-01/brain_mask.nii.gz'
    >>> pre.cache("2mm").volume("sub-01").as_posix()
    'out/cache/2mm/sub-01.npy'
"""

from brainage.layout.base import Folder
from brainage.layout.bundle import BUNDLE_FILES, BUNDLE_SUFFIX
from brainage.layout.data import MANIFEST, CohortDir, IngestDir
from brainage.layout.demo import DemoDir
from brainage.layout.evaluation import EvaluationDir
from brainage.layout.explain import ExplainDir
from brainage.layout.predict import BidsDerivativesDir, PredictDir, SiteDir
from brainage.layout.preprocess import CacheDir, PreprocessedDir, SubjectDir, TemplateCacheDir
from brainage.layout.qc import QCDir
from brainage.layout.training import FINAL_FOLD, FoldDir, RunDir, SplitsDir
from brainage.layout.viewer import RATINGS_EXPORT, VIEWER_FILES, VIEWER_INDEX

__all__ = [
    "BUNDLE_FILES",
    "BUNDLE_SUFFIX",
    "FINAL_FOLD",
    "MANIFEST",
    "RATINGS_EXPORT",
    "VIEWER_FILES",
    "VIEWER_INDEX",
    "BidsDerivativesDir",
    "CacheDir",
    "CohortDir",
    "DemoDir",
    "EvaluationDir",
    "ExplainDir",
    "Folder",
    "FoldDir",
    "IngestDir",
    "PredictDir",
    "PreprocessedDir",
    "QCDir",
    "RunDir",
    "SiteDir",
    "SplitsDir",
    "SubjectDir",
    "TemplateCacheDir",
]
