"""What training one (fold, seed) gives back: the one type every fitter returns.

Under DDP every process trains, and only rank 0 predicts and reports; the others return ``None``
(:data:`OTHER_PROCESS`), which the caller passes up instead of decoding an empty table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass
class FoldFit:
    """Predictions of one trained (fold, seed) and what the fitter found.

    ``predictions``: one row per subject with ``role`` ``val`` or ``inner`` (held-out training
    subjects: the age-bias correction and the ensemble's stack are fitted on them) or ``test``;
    ``info``: numbers worth keeping beside them (the chosen checkpoint, epochs run, ridge alphas),
    recorded in the fold's ``done.json``.

    Example:
        >>> fit = FoldFit(pd.DataFrame({"subject_id": ["a"], "role": ["test"]}), {"epochs_run": 3})
        >>> fit.predictions.role.tolist(), fit.info
        (['test'], {'epochs_run': 3})
    """

    predictions: pd.DataFrame
    info: dict = field(default_factory=dict)


#: What a fitter returns in a DDP process other than rank 0: it trained, and reports nothing.
OTHER_PROCESS = None
