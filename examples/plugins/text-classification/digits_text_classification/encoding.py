"""Text ↔ the character-level tensor the network reads: one row per letter of the alphabet, one column per
character (the first max_length of the lower-cased text), 255 where that column's character is that row's
letter; a character outside the alphabet, and the columns after the text, are all zeros.

As an image it is uint8 H×W with H = len(ALPHABET) and W = max_length (grayscale), which is how the dataset
stores it in its LMDB and how an inference request's text reaches the network (through
DataExtension.inference_input)."""
import numpy as np

# the alphabet of Zhang et al.'s character-level CNNs, as DIGITS' text classification plugin used it
ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-,;.!?:'\"/\\|_@#$%^&*~`+=<>()[]{} "
INDEX = {c: i for i, c in enumerate(ALPHABET)}
ON = 255


def encode(text, max_length):
    """uint8 array len(ALPHABET) × max_length of the text."""
    image = np.zeros((len(ALPHABET), max_length), dtype=np.uint8)
    for column, char in enumerate(text.lower()[:max_length]):
        row = INDEX.get(char)
        if row is not None:
            image[row, column] = ON
    return image


def decode(image):
    """The text an encoded image holds (unknown characters as '?'; trailing empty columns dropped)."""
    image = np.asarray(image)
    if image.ndim == 3:
        image = image[..., 0]
    if image.shape[0] != len(ALPHABET):
        return None
    on = image >= ON // 2
    chars = [ALPHABET[int(np.argmax(column))] if column.any() else "?" for column in on.T]
    return "".join(chars).rstrip("?").rstrip()
