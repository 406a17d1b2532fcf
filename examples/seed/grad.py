"""Automatic differentiation with `jumba.grad` (the first program of JAX's introduction).

    python examples/seed/grad.py
"""

import jumba as jb
import jumba.numpy as jnp


def logistic(x):
    return jnp.exp(x) / (jnp.exp(x) + 1.0)


# d/dx logistic(x) = logistic(x) * (1 - logistic(x)); at x = 1 that is 0.19661194.
print("grad(logistic)(1.0) =", jb.grad(logistic)(1.0))

# Derivatives compose: grad of grad is the second derivative.
def f(x):
    return x**3 + 2.0 * x**2 - 3.0 * x

df = jb.grad(f)    # 3x^2 + 4x - 3
d2f = jb.grad(df)  # 6x + 4
d3f = jb.grad(d2f)  # 6
print("f(x) = x^3 + 2x^2 - 3x at x = 2.0:")
print("  f'(2)   =", df(2.0), "  (expected 17)")
print("  f''(2)  =", d2f(2.0), "  (expected 16)")
print("  f'''(2) =", d3f(2.0), "  (expected 6)")

# Gradients of functions of several arrays: argnums picks the arguments.
def loss(w, b, x):
    return jnp.sum(jnp.tanh(x @ w + b) ** 2)

w, b = jnp.array([0.5, -0.25]), 0.1
x = jnp.array([[1.0, 2.0], [3.0, -1.0]])
dw, db = jb.grad(loss, argnums=(0, 1))(w, b, x)
print("grad of a tanh loss w.r.t. (w, b):", dw, db)
