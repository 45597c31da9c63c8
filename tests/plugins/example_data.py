"""Small generated inputs for the example plugins (examples/plugins/): a text corpus, medical images with
contour and mask files (PNG, or DICOM written with pydicom)."""
import csv
import os

import numpy as np
from PIL import Image

TOPICS = {
    "sports": "football goal match team player coach league score stadium referee",
    "food": "pizza pasta bread cheese recipe kitchen soup salad dinner baker",
    "tech": "computer software laptop keyboard network server program code chip robot",
    "weather": "rain snow storm cloud sunny wind forecast thunder frost humid",
}
FILLER = "the a of and today with very some new this that we they".split()


def sentence(rng, topic, words=7):
    own = TOPICS[topic].split()
    picked = [own[i] for i in rng.integers(0, len(own), 3)] + [FILLER[i] for i in rng.integers(0, len(FILLER), words - 3)]
    return " ".join(picked[i] for i in rng.permutation(len(picked)))


def write_corpus(path, rows, seed):
    """A label,text CSV (with a header) of `rows` sentences spread over the topics; returns its path."""
    rng = np.random.default_rng(seed)
    topics = sorted(TOPICS)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["label", "text"])
        for i in range(rows):
            topic = topics[i % len(topics)]
            writer.writerow([topic, sentence(rng, topic)])
    return str(path)


def gradient(a, b, width, height):
    """The image-gradients plugin's picture of slopes (a, b) (its docstring's formula)."""
    x, y = np.linspace(-1.0, 1.0, width)[None, :], np.linspace(-1.0, 1.0, height)[:, None]
    return np.clip(np.rint(127.5 + 63.75 * (a * x + b * y)), 0, 255).astype(np.uint8)


def disc(rng, size):
    """(uint8 image of a bright disc on dark noise, the disc's (cx, cy, r))."""
    cx, cy = rng.uniform(size * 0.35, size * 0.65, 2)
    r = rng.uniform(size * 0.15, size * 0.28)
    yy, xx = np.mgrid[0:size, 0:size]
    inside = (xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2 <= r ** 2
    image = rng.integers(0, 60, (size, size)) + inside * 150
    return image.astype(np.uint8), (cx, cy, r)


def write_contour(path, circle, points=24):
    cx, cy, r = circle
    angles = np.linspace(0, 2 * np.pi, points, endpoint=False)
    with open(path, "w") as f:
        f.writelines(f"{cx + r * np.cos(a):.2f} {cy + r * np.sin(a):.2f}\n" for a in angles)


def write_dicom(path, pixels):
    """A one-frame MONOCHROME2 DICOM file of 12-bit values (pixels × 16)."""
    from pydicom.dataset import FileMetaDataset, Dataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = SecondaryCaptureImageStorage, generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = (pixels.astype(np.uint16) * 16).tobytes()
    ds.save_as(path, enforce_file_format=True)


def write_medical(root, count, size=32, dicom=False, seed=0):
    """images/ and contours/ folders as the medical-imaging plugin reads them: even images get a
    Sunnybrook-style contour file, odd ones a mask PNG, and one image has neither (left out)."""
    images, labels = os.path.join(root, "images"), os.path.join(root, "contours")
    os.makedirs(images)
    os.makedirs(labels)
    rng = np.random.default_rng(seed)
    for i in range(count + 1):
        image, circle = disc(rng, size)
        stem = f"IM-0001-{i:04d}"
        if dicom:
            write_dicom(os.path.join(images, stem + ".dcm"), image)
        else:
            Image.fromarray(image).save(os.path.join(images, stem + ".png"))
        if i == count:
            continue   # no label: not in the dataset
        if i % 2 == 0:
            write_contour(os.path.join(labels, f"{stem}-icontour-manual.txt"), circle)
        else:
            Image.fromarray(((image > 100) * 255).astype(np.uint8)).save(os.path.join(labels, stem + ".png"))
    return images, labels
