"""jumba.distributed: run one program over several processes (as `jax.distributed`).

Launch the same script in N processes with MPI and call `initialize()` first:

    mpiexec -n 2 python script.py

Each process owns its local CPU devices; `jumba.devices()` lists all of them
(`process_count() x local_device_count()`), `pmap` maps the local devices' share of the
global axis (each process passes its local slice), and collectives (`psum`, `all_gather`,
...) span every device of every process. Needs mpi4py: `pip install 'jumba[mpi]'`.
"""

from __future__ import annotations

from jumba._src.runtime import mpi as _mpi


def initialize(coordinator_address=None, num_processes=None, process_id=None,
               local_device_ids=None, **kwargs) -> None:
    """Join the MPI world this process was launched in (by `mpiexec`).

    The arguments of `jax.distributed.initialize` are accepted; MPI already knows the
    processes, so they are only checked against it.

    Raises:
      ImportError: mpi4py is not installed (the message says how to install it).
      ValueError: `num_processes` or `process_id` disagree with the MPI launch.
    """
    comm = _mpi.initialize()
    if num_processes is not None and num_processes != comm.Get_size():
        raise ValueError(f"initialize(num_processes={num_processes}) but mpiexec started "
                         f"{comm.Get_size()} processes; launch with mpiexec -n "
                         f"{num_processes}, or drop the argument.")
    if process_id is not None and process_id != comm.Get_rank():
        raise ValueError(f"initialize(process_id={process_id}) but MPI gave this process "
                         f"rank {comm.Get_rank()}; drop the argument (MPI assigns ranks).")


def shutdown() -> None:
    """Leave the multi-process world: later collectives stay within this process."""
    _mpi.shutdown()


def is_initialized() -> bool:
    """Whether `initialize()` has been called."""
    return _mpi.is_initialized()


__all__ = ["initialize", "is_initialized", "shutdown"]
