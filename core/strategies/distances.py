"""The one pairwise-distance kernel of the strategies: nearest squared distance to a few centres."""

from __future__ import annotations

import numpy as np

BLOCK_ROWS = 4096  # 4096 x 512 float32 = 8 MB: the row norms reuse the block the product just read


def sq_norms(X: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", X, X)


def min_sq_distance(X: np.ndarray, C: np.ndarray, x_sq: np.ndarray | None = None,
                    rows: np.ndarray | None = None) -> np.ndarray:
    """min_c ||x - c||^2 for every row of X (or of X[rows]) over the rows of C, float32, in blocks.

    ||x||^2 + min_c (||c||^2 - 2 x.c): one BLAS product per block of rows, clipped at 0 against
    rounding. Without `x_sq` the row norms are computed from the block the product just read, so X
    (1M x 512 float32 is 2 GB) is read once. X may be a float16 memory map: each block is converted
    on its own, so memory stays at one block whatever the pool's size.
    """
    C = np.asarray(C, dtype=np.float32)
    c_sq = sq_norms(C)
    m2ct = -2.0 * C.T
    n = len(X) if rows is None else len(rows)
    out = np.empty(n, dtype=np.float32)
    for start in range(0, n, BLOCK_ROWS):
        sl = slice(start, start + BLOCK_ROWS)
        block = X[sl] if rows is None else X[rows[sl]]
        block = np.asarray(block, dtype=np.float32)
        cross = block @ m2ct
        cross += c_sq
        norms = sq_norms(block) if x_sq is None else (x_sq[sl] if rows is None else x_sq[rows[sl]])
        out[sl] = cross.min(axis=1) + norms
    return np.maximum(out, 0.0, out=out)
