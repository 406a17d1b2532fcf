"""The MPI backend: processes joined by mpi4py (`jumba.distributed.initialize()`).

Each process owns its local devices (threads); collectives first combine the local
devices' values and then exchange them over MPI. mpi4py is an optional dependency
(`pip install jumba[mpi]`, which brings the `mpich` wheel and its `mpiexec`).
"""

from __future__ import annotations

import numpy as np

_comm = None  # mpi4py's COMM_WORLD once initialized

INSTALL_HINT = (
    "jumba.distributed needs mpi4py and an MPI library: install them with "
    "`pip install 'jumba[mpi]'` (or `pip install mpi4py mpich`), then launch the script "
    "with `mpiexec -n 2 python script.py`.")


def initialize():
    """Join the MPI world (idempotent). Returns the communicator."""
    global _comm
    if _comm is not None:
        return _comm
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(f"{INSTALL_HINT} ({e})") from None
    _comm = MPI.COMM_WORLD
    from jumba._src.runtime import devices

    devices._local_cache = None  # device ids now depend on the process index
    return _comm


def is_initialized() -> bool:
    return _comm is not None


def shutdown():
    """Forget the MPI world (the process then runs alone again)."""
    global _comm
    _comm = None
    from jumba._src.runtime import devices

    devices._local_cache = None


def process_index() -> int:
    return 0 if _comm is None else _comm.Get_rank()


def process_count() -> int:
    return 1 if _comm is None else _comm.Get_size()


def communicator():
    """The communicator collectives cross, or None when this process is alone."""
    return _comm if _comm is not None and _comm.Get_size() > 1 else None


_BUFFER_KINDS = "fiuc"  # dtypes MPI reduces as buffers


def allreduce(comm, x: np.ndarray, op: str) -> np.ndarray:
    """Reduce `x` elementwise over all processes (op: "SUM", "MAX" or "MIN")."""
    from mpi4py import MPI

    mpi_op = getattr(MPI, op)
    x = np.asarray(x)
    if x.dtype.kind not in _BUFFER_KINDS:  # booleans: reduce as bytes
        return allreduce(comm, x.astype(np.uint8), op).astype(x.dtype)
    send = np.ascontiguousarray(x).reshape(-1)  # 0-d values travel as one element
    out = np.empty_like(send)
    comm.Allreduce(send, out, op=mpi_op)
    return out.reshape(x.shape)


def barrier():
    if _comm is not None:
        _comm.Barrier()
