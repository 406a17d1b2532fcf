"""Programs' large temporaries reuse warm memory (`runtime.buffers.retain_freed_memory`):
once a jitted program is built, a repeated chain of simultaneously live 4 MB arrays (what a
PPO minibatch update allocates) stops page-faulting; JUMBA_RETAIN_FREED_MEMORY=0 leaves
glibc's defaults, under which the same chain faults on every call.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import jumba as jb
from jumba._src.runtime import buffers

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc",
                                reason="mallopt is glibc's")


def _faults_per_round(rounds=6):
    """Page faults per round of a chain of eight live 4 MB temporaries (what a PPO
    minibatch update allocates), after warm-up rounds."""
    import resource

    x = np.ones((16384, 64), np.float32)

    def chain():
        ts = [x + np.float32(k) for k in range(8)]
        return sum(float(t[0, 0]) for t in ts)

    for _ in range(3):
        chain()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(rounds):
        chain()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / rounds


# The same with the switch off, in a fresh process (the setting is per process and kept).
_OFF = textwrap.dedent("""
    import sys
    import numpy as np
    import jumba as jb
    from jumba._src.runtime import buffers
    sys.path.insert(0, {here!r})
    from test_warm_memory import _faults_per_round

    jb.jit(lambda x: x * 2)(np.ones(3, np.float32))
    print(buffers.retain_freed_memory(), _faults_per_round())
""")


def test_temporaries_stop_faulting_and_the_switch_turns_it_off():
    jb.jit(lambda x: x + 1)(np.ones(2, np.float32))  # a program built: memory retained
    assert buffers.retain_freed_memory()
    faults_on = _faults_per_round()
    env = dict(os.environ, JUMBA_RETAIN_FREED_MEMORY="0")
    code = _OFF.format(here=os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    off, faults_off = out[0] == "True", float(out[1])
    assert not off
    # 8 x 4 MB = 8,192 pages per round: glibc's defaults fault on most of them (the blocks
    # go back to the OS at each free), the retained heap on almost none.
    assert faults_on < 200, faults_on
    assert faults_off > 2000, faults_off
