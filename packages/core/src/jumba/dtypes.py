"""jumba.dtypes: dtype utilities, as jax.dtypes."""

from jumba._src.dtypes import (  # noqa: F401
    TypePromotionError,
    bfloat16,
    canonicalize_dtype,
    finfo,
    float0,
    iinfo,
    issubdtype,
    result_type,
    scalar_type_of,
)
