"""Framework adapters, installed as ``lc_hpo.integrations``.

Each adapter translates its framework's state into curves for the core decision rule
(:mod:`lc_hpo.decision`) and acts on the decision; none of them decides anything itself.

* :mod:`lc_hpo.integrations.optuna`: ``LCPruner`` for ``optuna.create_study(pruner=...)``
* :mod:`lc_hpo.integrations.ray_tune`: ``LCScheduler`` for ``tune.TuneConfig(scheduler=...)``
"""
