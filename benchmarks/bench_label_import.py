"""`label import` of a path,label CSV: seconds for 3,000 labels (one transaction per import, not one per label).

The images are tiny PNGs on the local disk; the time is hashing + SQLite writes. Issue 20.18
measured 17 s for 3,000 labels when every label was its own fsynced transaction.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from core.labels.io import import_csv
from core.labels.store import LabelStore

TITLE = "label import of a CSV (seconds)"


def run(quick: bool) -> list[dict]:
    rows = []
    for n in ([300] if quick else [300, 3000]):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "images"
            root.mkdir()
            rng = np.random.default_rng(0)
            pixels = rng.integers(0, 255, (8, 8), dtype=np.uint8)
            for i in range(n):
                pixels[0, 0] = i % 256
                pixels[0, 1] = i // 256
                Image.fromarray(pixels).save(root / f"{i}.png")
            (root / "labels.csv").write_text("path,label\n" + "".join(f"{i}.png,{'ab'[i % 2]}\n" for i in range(n)))
            store = LabelStore.create(root / "p.db", root)
            t0 = time.perf_counter()
            report = import_csv(store, root / "labels.csv")
            rows.append({"labels": report["labels"], "seconds": round(time.perf_counter() - t0, 2)})
    return rows
