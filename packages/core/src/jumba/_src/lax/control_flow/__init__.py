"""Control-flow primitives (cond/switch, scan, while) and the lax functions built on them."""

from jumba._src.lax.control_flow.associative_scan import associative_scan  # noqa: F401
from jumba._src.lax.control_flow.conditionals import cond, cond_p, switch  # noqa: F401
from jumba._src.lax.control_flow.loops import (  # noqa: F401
    fori_loop,
    map,
    scan,
    scan_p,
    while_loop,
    while_p,
)
from jumba._src.lax.control_flow.solves import custom_linear_solve, custom_root  # noqa: F401
