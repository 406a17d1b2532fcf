"""The large-buffer pool: reuse only when no array or view refers to a buffer."""

import numpy as np

from jumba._src.runtime import buffers


def test_buffer_is_reused_only_when_free():
    shape = (1024, 1024)  # 4 MiB of float32: pooled
    a = buffers.empty(shape, np.float32)
    a[:] = 1.0
    view = a[10:20]
    addr = a.__array_interface__["data"][0]
    del a
    b = buffers.empty(shape, np.float32)  # `view` keeps the first buffer alive
    assert b.__array_interface__["data"][0] != addr
    assert np.all(view == 1.0)
    b[:] = 2.0
    assert np.all(view == 1.0)
    del view
    c = buffers.empty(shape, np.float32)  # the first buffer is free again; `b` is not
    assert c.__array_interface__["data"][0] == addr
    b_addr = b.__array_interface__["data"][0]
    del b
    d = buffers.empty(shape, np.float32)
    assert d.__array_interface__["data"][0] == b_addr


def test_small_arrays_are_not_pooled():
    x = buffers.empty((10,), np.float32)
    assert x.base is None


def test_pool_is_bounded(monkeypatch):
    monkeypatch.setattr(buffers, "MAX_POOLED_BYTES", 8 << 20)
    buffers.clear()
    held = [buffers.empty((1 << 20,), np.float32) for _ in range(4)]  # 16 MiB in use
    assert buffers._pooled_bytes <= 8 << 20
    del held
    buffers.clear()
