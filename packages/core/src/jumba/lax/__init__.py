"""jumba.lax: the primitives, as jax.lax."""

from jumba._src.lax.ad_util import stop_gradient  # noqa: F401
from jumba._src.lax.complex import complex, conj, imag, real  # noqa: A004, F401
from jumba._src.lax.control_flow import (  # noqa: F401
    associative_scan,
    cond,
    fori_loop,
    map,
    scan,
    switch,
    while_loop,
)
from jumba._src.lax.convolution import (  # noqa: F401
    ConvDimensionNumbers,
    conv,
    conv_dimension_numbers,
    conv_general_dilated,
    conv_general_permutations,
    conv_transpose,
    conv_with_general_padding,
    padtype_to_pads,
)
from jumba._src.lax.cumulative_extrema import (  # noqa: F401
    cumlogsumexp,
    cummax,
    cummin,
    cumprod,
    cumsum,
)
from jumba._src.lax.dot import dot_general  # noqa: F401
from jumba._src.lax.elementwise import (  # noqa: F401
    abs,
    acos,
    acosh,
    add,
    asin,
    asinh,
    atan,
    atan2,
    atanh,
    bitwise_and,
    bitwise_not,
    bitwise_or,
    bitwise_xor,
    cbrt,
    ceil,
    cos,
    cosh,
    div,
    eq,
    erf,
    erf_inv,
    exp,
    exp2,
    expm1,
    floor,
    ge,
    gt,
    integer_pow,
    is_finite,
    le,
    log,
    log1p,
    logistic,
    lt,
    max,
    min,
    mul,
    ne,
    neg,
    nextafter,
    pow,
    rem,
    round,
    rsqrt,
    select_n,
    shift_left,
    shift_right_arithmetic,
    shift_right_logical,
    sign,
    sin,
    sinh,
    sqrt,
    square,
    sub,
    tan,
    tanh,
)
from jumba._src.lax.fft import FftType, fft  # noqa: F401
from jumba._src.lax.reductions import (  # noqa: F401
    argmax,
    argmin,
    reduce_and,
    reduce_max,
    reduce_min,
    reduce_or,
    reduce_prod,
    reduce_sum,
)
from jumba._src.lax.slicing import (  # noqa: F401
    GatherDimensionNumbers,
    GatherScatterMode,
    ScatterDimensionNumbers,
    dynamic_index_in_dim,
    dynamic_slice,
    dynamic_slice_in_dim,
    dynamic_update_index_in_dim,
    dynamic_update_slice,
    dynamic_update_slice_in_dim,
    gather,
    index_in_dim,
    scatter,
    scatter_add,
    scatter_max,
    scatter_min,
    scatter_mul,
    scatter_sub,
    slice_in_dim,
)
from jumba._src.lax.sorting import argsort, sort, sort_key_val, top_k  # noqa: F401
from jumba._src.lax.special import (  # noqa: F401
    bessel_i0e,
    bessel_i1e,
    betainc,
    digamma,
    erfc,
    igamma,
    igamma_grad_a,
    igammac,
    lgamma,
    polygamma,
    random_gamma_grad,
    zeta,
)
from jumba._src.lax.structural import (  # noqa: F401
    broadcast,
    broadcast_in_dim,
    broadcast_to,
    concatenate,
    convert_element_type,
    expand_dims,
    full,
    pad,
    reshape,
    rev,
    slice,
    squeeze,
    transpose,
)
from jumba._src.lax.windowed import (  # noqa: F401
    reduce_window,
    reduce_window_max,
    reduce_window_min,
    reduce_window_shape_tuple,
    reduce_window_sum,
)

not_ = bitwise_not


def select(pred, on_true, on_false):
    """`on_true` where `pred`, else `on_false` (as jax.lax.select)."""
    return select_n(pred, on_false, on_true)


def clamp(min, x, max):  # noqa: A002, F811 (JAX's parameter names)
    """`x` clipped to [min, max] (as jax.lax.clamp)."""
    from jumba._src.lax import elementwise as _ew

    return _ew.min(_ew.max(x, min), max)


from jumba.lax import linalg  # noqa: E402, F401  (as jax.lax.linalg)
