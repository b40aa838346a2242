"""Old import path of :mod:`lc_hpo.bench.tasks` (the offline training tasks), kept so scripts keep working.

The training tasks are part of the laboratory (``lc_hpo.bench``); import them from there.  This alias
warns once and will go in a later release.
"""

import warnings

from .bench.tasks import *  # noqa: F401,F403
from .bench.tasks import __all__  # noqa: F401

warnings.warn("lc_hpo.tasks moved to lc_hpo.bench.tasks; import it from there",
              DeprecationWarning, stacklevel=2)
