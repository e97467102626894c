"""RAT-SPNs (Peharz et al. 2018) as a Keras layer: exact marginals, MPE, sampling."""

from rat_spn.layer import RatSpn
from rat_spn.region_graph import RegionGraph

__all__ = ['RatSpn', 'RegionGraph']
