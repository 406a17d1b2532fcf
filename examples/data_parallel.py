"""Data-parallel training of an MLP with `jumba.pmap` and `lax.pmean` of the gradients.

    python examples/data_parallel.py [--steps N]                  # 2 thread devices
    mpiexec -n 2 python examples/data_parallel.py [--steps N]     # 2 processes x 2 devices

Each global batch of digits (examples/data/digits.npz) is split over all devices - every
device of every process - and each device computes the gradient of the loss on its
shard; `pmean` averages the gradients (over threads, then over MPI), which equals the
gradient on the whole batch, so every device applies the same update. The script then
trains the same model on one device with the whole batch and checks that both reach the
same parameters (to float32 rounding).

The device count per process is JUMBA_NUM_CPU_DEVICES (2 when unset).
"""

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("JUMBA_NUM_CPU_DEVICES", "2")  # before jumba is imported

import numpy as np  # noqa: E402

import jumba as jb  # noqa: E402
import jumba.numpy as jnp  # noqa: E402
from jumba import lax, nn, random  # noqa: E402
from jumba.tree_util import tree_leaves, tree_map  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "digits.npz"
LEARNING_RATE = 0.1


def init_mlp(key, sizes=(64, 64, 10)):
    params = []
    for k, (m, n) in zip(random.split(key, len(sizes) - 1), zip(sizes[:-1], sizes[1:])):
        params.append({"w": random.normal(k, (m, n)) * np.float32(np.sqrt(2.0 / m)),
                       "b": jnp.zeros(n)})
    return params


def loss_fn(params, x, y):
    """Mean cross-entropy of an MLP (ReLU hidden layers) on a batch."""
    h = x
    for layer in params[:-1]:
        h = nn.relu(h @ layer["w"] + layer["b"])
    logits = h @ params[-1]["w"] + params[-1]["b"]
    return -jnp.mean(jnp.sum(nn.log_softmax(logits) * nn.one_hot(y, 10), axis=-1))


def sgd(params, grads):
    return tree_map(lambda p, g: p - LEARNING_RATE * g, params, grads)


def parallel_step(params, x, y):
    """One step on this device's shard; the gradients are averaged over all devices."""
    loss, grads = jb.value_and_grad(loss_fn)(params, x, y)
    grads = lax.pmean(grads, axis_name="batch")
    return sgd(params, grads), lax.pmean(loss, axis_name="batch")


@jb.jit
def single_step(params, x, y):
    """The same step on one device with the whole global batch."""
    loss, grads = jb.value_and_grad(loss_fn)(params, x, y)
    return sgd(params, grads), loss


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch", type=int, default=128, help="global batch size")
    args = parser.parse_args()

    if "OMPI_COMM_WORLD_SIZE" in os.environ or "PMI_SIZE" in os.environ:
        jb.distributed.initialize()  # launched by mpiexec: join the other processes
    rank, nproc, ndev = jb.process_index(), jb.process_count(), jb.local_device_count()
    world = nproc * ndev
    if args.batch % world:
        raise SystemExit(f"--batch {args.batch} must be a multiple of the {world} devices")
    shard = args.batch // world

    data = np.load(DATA)
    images = (data["images"].reshape(-1, 64) / 16.0).astype(np.float32)
    labels = data["labels"].astype(np.int32)
    rng = np.random.default_rng(0)  # the same batches in every process
    batches = [rng.choice(len(images), args.batch, replace=False) for _ in range(args.steps)]

    params = init_mlp(random.PRNGKey(0))
    reference = params
    step = jb.pmap(parallel_step, axis_name="batch", in_axes=(None, 0, 0), out_axes=None)
    t0 = time.perf_counter()
    for idx in batches:
        # This process's devices take their shards of the global batch.
        local = idx.reshape(nproc, ndev, shard)[rank]
        params, loss = step(params, images[local], labels[local])
    elapsed = time.perf_counter() - t0
    for idx in batches:
        reference, ref_loss = single_step(reference, images[idx], labels[idx])

    diff = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
               for a, b in zip(tree_leaves(params), tree_leaves(reference)))
    if rank == 0:
        print(f"{nproc} process(es) x {ndev} devices, global batch {args.batch} "
              f"({shard} per device), {args.steps} steps in {elapsed:.2f} s")
        print(f"final loss: data-parallel {float(loss):.6f}, single device "
              f"{float(ref_loss):.6f}")
        print(f"max |params - single-device params| = {diff:.2e}")
    if diff > 1e-4:
        raise SystemExit(f"process {rank}: parameters differ from single-device training "
                         f"by {diff:.2e}")
    if rank == 0:
        print("data-parallel training reached the single-device parameters")


if __name__ == "__main__":
    main()
