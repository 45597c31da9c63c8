"""Object detection datasets (DIGITS' image-object-detection data extension): KITTI label folders or COCO
instances files → images padded/resized to one size with their boxes, class 0 being DontCare.

The contracts with training and inference are in docs/detection.md. Modules, by noun:
    geometry   how an original image becomes a stored one and back (the inference side calls it too)
    boxes      the box label records ([class_id, x1, y1, x2, y2] rows) and their statistics
    kitti      KITTI label files;  coco  COCO instances files;  classes  class names → ids
    extension  the data extension;  forms  its form;  views  the Explore page with boxes drawn
"""
