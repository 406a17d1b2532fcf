"""Per-example gradients with `jumba.vmap(jumba.grad(loss))`.

    python examples/seed/vmap.py
"""

import numpy as np

import jumba as jb
import jumba.numpy as jnp


def predict(w, x):
    return 1.0 / (1.0 + jnp.exp(-jnp.dot(x, w)))  # logistic regression


def loss(w, x, y):
    """Cross-entropy of one example (x, y)."""
    p = predict(w, x)
    return -(y * jnp.log(p) + (1.0 - y) * jnp.log(1.0 - p))


rng = np.random.default_rng(0)
xs = jnp.asarray(rng.standard_normal((8, 3), dtype=np.float32))
ys = jnp.asarray((rng.random(8) > 0.5).astype(np.float32))
w = jnp.asarray(np.array([0.5, -1.0, 0.25], dtype=np.float32))

# One gradient per example: w is shared (None), x and y are mapped over axis 0.
per_example = jb.vmap(jb.grad(loss), in_axes=(None, 0, 0))(w, xs, ys)
print("per-example gradients, shape", per_example.shape)
print(per_example)

# The same, one example at a time with a Python loop.
looped = np.stack([np.asarray(jb.grad(loss)(w, xs[i], ys[i])) for i in range(len(xs))])
assert np.allclose(np.asarray(per_example), looped, atol=1e-6)
print("vmap(grad(loss)) matches a Python loop over the examples")

# Their mean is the gradient of the mean loss.
mean_grad = jb.grad(lambda w: jnp.mean(jb.vmap(loss, in_axes=(None, 0, 0))(w, xs, ys)))(w)
assert np.allclose(np.asarray(mean_grad), looped.mean(0), atol=1e-6)
print("mean of per-example gradients = gradient of the mean loss:", mean_grad)
