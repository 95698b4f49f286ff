"""The model file (``.brainage``): its record, its members, its intervals, and how a run is packed
into one. ``brainage predict`` and ``brainage explain`` both read it; it reads the training stage."""
