"""``brainage demo``: every stage on a synthetic cohort, end to end."""
