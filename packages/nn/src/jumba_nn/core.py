"""``jumba_nn.core``: FrozenDict helpers (as ``flax.core``).

``init`` returns plain dicts (as Flax 0.12 does); freeze them if you want immutability.
"""

from jumba_nn._src.frozen_dict import (  # noqa: F401
    FrozenDict,
    copy,
    freeze,
    pop,
    pretty_repr,
    unfreeze,
)
