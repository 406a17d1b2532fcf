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

# Prints the page faults per round of a chain of eight live 4 MB temporaries, after a
# jitted program has been built (which is when jumba sets malloc up).
_CHAIN = textwrap.dedent("""
    import resource
    import numpy as np
    import jumba as jb
    from jumba._src.runtime import buffers

    jb.jit(lambda x: x * 2)(np.ones(3, np.float32))
    x = np.ones((16384, 64), np.float32)

    def chain():
        ts = [x + np.float32(k) for k in range(8)]
        return sum(float(t[0, 0]) for t in ts)

    for _ in range(3):
        chain()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        chain()
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10
    print(buffers.retain_freed_memory(), faults)
""")


def _run_chain(env_value):
    env = dict(os.environ, JUMBA_RETAIN_FREED_MEMORY=env_value)
    out = subprocess.run([sys.executable, "-c", _CHAIN], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    return out[0] == "True", float(out[1])


def test_building_a_program_retains_freed_memory():
    jb.jit(lambda x: x + 1)(np.ones(2, np.float32))
    assert buffers.retain_freed_memory()


def test_temporaries_stop_faulting_and_the_switch_turns_it_off():
    on, faults_on = _run_chain("1")
    off, faults_off = _run_chain("0")
    assert on and not off
    # 8 x 4 MB = 8,192 pages per round: glibc's defaults fault on most of them (the mapped
    # blocks are returned at each free), the retained heap on almost none.
    assert faults_on < 200, faults_on
    assert faults_off > 2000, faults_off
