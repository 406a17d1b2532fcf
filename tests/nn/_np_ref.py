"""Plain NumPy references for the layer tests (float64, loops where that is clearest)."""

import itertools

import numpy as np


def pads(padding, in_shape, window, strides, dilation):
    """Explicit (low, high) pairs for 'SAME'/'VALID'/pairs, as lax computes them."""
    if isinstance(padding, str):
        out = []
        for n, k, s, d in zip(in_shape, window, strides, dilation):
            ke = (k - 1) * d + 1
            if padding == "VALID":
                out.append((0, 0))
            else:
                total = max((-(-n // s) - 1) * s + ke - n, 0)
                out.append((total // 2, total - total // 2))
        return out
    return [tuple(p) for p in padding]


def conv(x, k, strides, padding, dilation=None, groups=1):
    """NHWC x HWIO convolution with any number of spatial axes."""
    x, k = np.asarray(x, np.float64), np.asarray(k, np.float64)
    n_sp = k.ndim - 2
    dilation = dilation or (1,) * n_sp
    window = k.shape[:n_sp]
    p = pads(padding, x.shape[1:-1], window, strides, dilation)
    x = np.pad(x, [(0, 0)] + p + [(0, 0)])
    ke = [(w - 1) * d + 1 for w, d in zip(window, dilation)]
    out_sp = [(x.shape[1 + i] - ke[i]) // strides[i] + 1 for i in range(n_sp)]
    cin_g = k.shape[-2]
    cout = k.shape[-1]
    cout_g = cout // groups
    out = np.zeros((x.shape[0], *out_sp, cout))
    for pos in itertools.product(*[range(o) for o in out_sp]):
        for off in itertools.product(*[range(w) for w in window]):
            idx = tuple(pos[i] * strides[i] + off[i] * dilation[i] for i in range(n_sp))
            xin = x[(slice(None),) + idx]                       # (N, Cin)
            for g in range(groups):
                out[(slice(None),) + pos + (slice(g * cout_g, (g + 1) * cout_g),)] += (
                    xin[:, g * cin_g:(g + 1) * cin_g] @ k[off][:, g * cout_g:(g + 1) * cout_g])
    return out


def patches(x, window, strides, padding):
    """(N, *out, C * prod(window)) channel-major patches."""
    x = np.asarray(x, np.float64)
    n_sp = len(window)
    p = pads(padding, x.shape[1:-1], window, strides, (1,) * n_sp)
    x = np.pad(x, [(0, 0)] + p + [(0, 0)])
    out_sp = [(x.shape[1 + i] - window[i]) // strides[i] + 1 for i in range(n_sp)]
    c = x.shape[-1]
    s = int(np.prod(window))
    out = np.zeros((x.shape[0], *out_sp, c * s))
    for pos in itertools.product(*[range(o) for o in out_sp]):
        for j, off in enumerate(itertools.product(*[range(w) for w in window])):
            idx = tuple(pos[i] * strides[i] + off[i] for i in range(n_sp))
            out[(slice(None),) + pos + (slice(j, None, s),)] = x[(slice(None),) + idx]
    return out


def pool(x, window, strides, padding, fn, init):
    x = np.asarray(x, np.float64)
    n_sp = len(window)
    p = pads(padding, x.shape[1:-1], window, strides, (1,) * n_sp)
    x = np.pad(x, [(0, 0)] + p + [(0, 0)], constant_values=init)
    out_sp = [(x.shape[1 + i] - window[i]) // strides[i] + 1 for i in range(n_sp)]
    out = np.zeros((x.shape[0], *out_sp, x.shape[-1]))
    for pos in itertools.product(*[range(o) for o in out_sp]):
        sl = tuple(slice(pos[i] * strides[i], pos[i] * strides[i] + window[i])
                   for i in range(n_sp))
        block = x[(slice(None),) + sl]
        out[(slice(None),) + pos] = fn(block.reshape(x.shape[0], -1, x.shape[-1]), axis=1)
    return out


def normalize(x, axes, eps, scale=1.0, bias=0.0):
    x = np.asarray(x, np.float64)
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * scale + bias


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def softmax(z, axis=-1):
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def attention(q, k, v, mask=None):
    """q (B, Q, H, D), k/v (B, K, H, D); mask broadcastable to (B, H, Q, K)."""
    w = np.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(q.shape[-1])
    if mask is not None:
        w = np.where(mask, w, np.finfo(np.float32).min)
    return np.einsum("bhqk,bkhd->bqhd", softmax(w), v)
