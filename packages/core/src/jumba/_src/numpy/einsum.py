"""einsum on dot_general: contract one pair of operands at a time (opt_einsum-style order
from NumPy's einsum_path), with traces and diagonals handled first."""

from __future__ import annotations


def einsum(subscripts, *operands, preferred_element_type=None):
    raise NotImplementedError("einsum is not implemented yet")
