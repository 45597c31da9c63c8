"""Inference: a long-lived worker subprocess keeps trained models warm and answers the server.

    service.py   the server's side: starts/restarts the worker, sends JSON-line requests, timeouts
    pool.py      DIGITS_INFERENCE_WORKERS workers behind one call: warm-model routing, a queue with a timeout
    worker.py    `python -m digits.inference.worker`: the loop, an LRU cache of loaded models, the ops
    loader.py    a model folder (network + preprocess.json + weights) → a ready nn.Module
    images.py    image files → the network's input, exactly as training's validation saw them
    masks.py     segmentation masks: the colour mask PNG, per-class IoU against a label image, colormaps
    visualize.py per-layer weights/activations as image grids with statistics
    export.py    TorchScript / ONNX / state_dict files for the download archive
    evaluate.py  accuracy, confusion matrix, precision/recall from classify-many results
"""
