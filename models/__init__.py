"""Online River models for the zone engine's seats (see docs/models.md).

- :mod:`models.eta`: leg travel-time correction (log ratio to the provider);
- :mod:`models.intervals`: calibrated 80/95 % arrival intervals (adaptive conformal);
- :mod:`models.risk`: late-risk and failure-risk logistic regressions;
- :mod:`models.monitor`: ADWIN drift detection on progressive errors;
- :mod:`models.seats`: the learned seat set, drift polling, per-zone metrics;
- :mod:`models.store`: export/import of snapshots with version checks.

Snapshots are pickles: never load one from an untrusted source.
"""
