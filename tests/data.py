"""Real data that ships in a package: scikit-learn's 8x8 handwritten digits, as class folders of PNGs."""
import os

import numpy as np
from PIL import Image


def write_digits_folder(root, size=28, per_class=None):
    """Writes <root>/<digit>/<n>.png (grayscale, size×size) and returns root."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    counts = {}
    for image, label in zip(digits.images, digits.target):
        label = int(label)
        if per_class is not None and counts.get(label, 0) >= per_class:
            continue
        counts[label] = counts.get(label, 0) + 1
        folder = os.path.join(root, str(label))
        os.makedirs(folder, exist_ok=True)
        pixels = (np.asarray(image) * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
        Image.fromarray(pixels, "L").resize((size, size), Image.BILINEAR).save(
            os.path.join(folder, f"{counts[label]:04d}.png"))
    return root
