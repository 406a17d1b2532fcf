"""A jitted function run on each tier, for tests of the compiler: tier 0 (the NumPy
executor) and tier 1 (compiled in the foreground), the latter with its generated text."""

import jumba as jb


def run_tier0(f, *args):
    with jb.config_context(jumba_compile="never"):
        return jb.jit(f)(*args)


def run_tier1(f, *args):
    """`jit(f)(*args)` on tier 1, and `jit(f).lower(*args).as_text()`."""
    with jb.config_context(jumba_compile="eager"):
        jf = jb.jit(f)
        out = jf(*args)
        text = jf.lower(*args).as_text()
    return out, text
