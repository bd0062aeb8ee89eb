"""Image array helpers shared by the image sources: Pillow resizing of uint8 stacks."""

from __future__ import annotations

import numpy as np
from PIL import Image

from core.datasets.base import DatasetError


def check_image_size(image_size: int | None) -> None:
    if image_size is not None and (not isinstance(image_size, int) or isinstance(image_size, bool)
                                   or not 8 <= image_size <= 512):
        raise DatasetError(f"image_size must be an integer in [8, 512]; got {image_size!r}")


def resize_image(image: Image.Image, size: int) -> Image.Image:
    """Square `size` x `size`; the whole image is kept (aspect ratio is not preserved)."""
    if image.size == (size, size):
        return image
    return image.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)


def resize_stack(images: np.ndarray, size: int | None) -> np.ndarray:
    """uint8 (n, h, w, c) -> uint8 (n, size, size, c) with Pillow; unchanged when already that size."""
    if size is None or images.shape[1:3] == (size, size):
        return images
    out = np.empty((len(images), size, size, images.shape[3]), dtype=np.uint8)
    for i, image in enumerate(images):
        pil = Image.fromarray(image[..., 0] if images.shape[3] == 1 else image)
        out[i] = np.asarray(resize_image(pil, size)).reshape(size, size, images.shape[3])
    return out
