"""Segmentation datasets (DIGITS' image-segmentation data extension): a folder of feature images and a folder
of label images of the same names → images of one size with their labels as class ids (uint8, 255 = ignore).

The contracts with training and inference are in docs/segmentation.md. Modules, by noun:
    labels       label images → class ids (palette index, gray level, RGB colour through a colormap)
    class_files  the class labels file and the colormap file (line i is class i−1)
    sources      feature and label images paired by name, and the seeded validation split
    extension    the data extension;  forms  its form;  views  the Explore page with labels painted
"""
