"""The laboratory: what measures lc-hpo, kept apart from the product.

Benchmark commands (``lc-hpo bench ...``), the replay runners that push recorded curves through real
Optuna studies and Ray Tune experiments (:mod:`.replay_optuna`, :mod:`.replay_ray`), the data sources
that make curve sets (:mod:`.sources`) and the small real training tasks (:mod:`.tasks`).  The product
modules (``curve``, ``forecast``, ``predictors``, ``learned``, ``decision``, ``integrations``) never
import this package; ``tests/test_layout.py`` checks it.  Measurements live in ``docs/measurements.md``.
"""
