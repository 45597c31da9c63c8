"""The inference worker: `python -m digits.inference.worker`, started and fed by the server.

Protocol: one JSON request per line on stdin, one JSON response per line on the original stdout:
    → {"id": 7, "op": "classify", "model": {spec, see loader.py}, "images": ["/tmp/x.png"], ...}
    ← {"id": 7, "ok": true, "result": {...}}   or   {"id": 7, "ok": false, "error": {message, status, type}}
Anything else printed (by torch, a user's network code, the ONNX exporter) goes to stderr, so it can
never corrupt the protocol. The worker exits when stdin closes (the server went away).
"""
import functools
import json
import os
import sys
import time
import traceback

from digits.inference.errors import ImageError, InferenceError

DEFAULT_BATCH = 32


def _chunks(items, size):
    for start in range(0, len(items), size):
        yield start, items[start:start + size]


def _prepared(model, paths, load=None):
    """[(index, what load(item, pre) makes of it: by default the resized array)] and [(index, error
    message)] for a list of image paths (or of what `load` reads: database records)."""
    from digits.inference.images import load_resized
    load = load or load_resized
    ok, failed = [], []
    for index, path in enumerate(paths):
        try:
            ok.append((index, load(path, model.pre)))
        except ImageError as exc:
            failed.append((index, str(exc)))
    return ok, failed


def _probabilities(model, images, batch_size):
    """Probabilities (torch N×K) for [(index, array)], in batches."""
    import torch
    from digits.inference.images import network_input
    parts = [model.probabilities(network_input([a for _, a in chunk], model.pre))
             for _, chunk in _chunks(images, batch_size)]
    return torch.cat(parts) if parts else torch.zeros(0, model.num_classes)


def op_classify(cache, req):
    from digits.inference.images import network_input, thumbnail
    model = cache.get(req["model"])
    paths = req.get("images") or []
    topk = min(int(req.get("topk", 5)), model.num_classes)
    batch_size = max(1, int(req.get("batch_size") or DEFAULT_BATCH))
    started = time.perf_counter()
    results = [None] * len(paths)
    for start, chunk in _chunks(paths, batch_size * 4):   # bounded memory for long lists
        images, failed = _prepared(model, chunk)
        for index, message in failed:
            results[start + index] = {"error": message}
        probs = _probabilities(model, images, batch_size)
        values, indices = probs.topk(topk, dim=1) if len(images) else (probs, probs)
        for row, (index, arr) in enumerate(images):
            entry = {"top": [[int(i), float(p)] for i, p in zip(indices[row].tolist(), values[row].tolist())]}
            if req.get("thumbnails"):
                entry["thumbnail"] = thumbnail(arr)
            results[start + index] = entry
    out = {"results": results, "seconds": time.perf_counter() - started}
    if req.get("visualize") and paths and "top" in results[0]:
        from digits.inference.images import load_resized
        from digits.inference.visualize import visualizations
        out["visualizations"] = visualizations(model, network_input([load_resized(paths[0], model.pre)], model.pre))
    return out


def _infer_chunks(model, req, chunks, load=None):
    """A generic model's answer per item of an iterable of item lists: {"outputs": {blob: values}, ...the
    task type's keys} (with "input_image" when asked: the network-sized input as a PNG — for a model with a
    geometry, the original image its boxes refer to; for a segmentation model, the original its mask is
    at), or {"error"}. load(item, pre, original) → detections.Prepared.

    A segmentation model's outputs (K·H·W scores per image) are answered only when the request says
    raw_outputs (else "outputs" is {}); its answers are masks.segment's."""
    from digits.inference.detections import parse_threshold
    from digits.inference.images import load_input, network_input, png_data_uri
    from digits.inference.masks import per_pixel
    from digits.model.tasks import get_task_type
    task = get_task_type(req.get("task_type"))
    maps = per_pixel(task)
    threshold = parse_threshold(req.get("threshold"))
    labels = req.get("labels") or req["model"].get("labels") or []
    raw = not maps or _asked(req.get("raw_outputs"))
    colormap = req["model"].get("colormap")   # a segmentation model's (its dataset's), else None
    batch_size = max(1, int(req.get("batch_size") or DEFAULT_BATCH))
    blob = model.network.output_blob or "output"
    load = functools.partial(load or load_input, original=maps)
    results = []
    for chunk in chunks:
        inputs, failed = _prepared(model, chunk, load)
        answers = [None] * len(chunk)
        for index, message in failed:
            answers[index] = {"error": message}
        for _, part in _chunks(inputs, batch_size):   # answered per batch: a batch of score maps is large
            prepared = [p for _, p in part]
            outputs = model.outputs(network_input([p.array for p in prepared], model.pre), maps=maps).numpy()
            keys = _task_answers(model, task, outputs, labels, prepared, threshold, colormap, maps)
            for row, (index, item) in enumerate(part):
                answers[index] = {"outputs": {blob: outputs[row].tolist()} if raw else {}, **keys[row]}
                if req.get("input_images"):
                    answers[index]["input_image"] = png_data_uri(item.image)
        results.extend(answers)
    return {"results": results, "task_type": task.name, "input_shape": list(model.pre.output_shape)}


def _asked(value):
    """A request's yes/no field: true, 1, "1", "true", "yes", "on"."""
    return value is True or str(value).strip().lower() in ("1", "true", "yes", "on")


def _task_answers(model, task, outputs, labels, prepared, threshold, colormap=None, maps=False):
    """The task type's answers; a model with a geometry also gives it each image's transform, and its
    detections scoring below the request's threshold are left out; a segmentation model's (maps) are
    masks.segment's."""
    from digits.inference.detections import above
    if maps:
        from digits.inference.masks import segment
        return segment(task, outputs, labels, prepared, colormap)
    if model.pre.geometry is None:
        return task.infer(outputs, labels)
    return above(task.infer(outputs, labels, transforms=[p.transform for p in prepared]), threshold)


def op_infer(cache, req):
    """A generic model's raw outputs per image, plus what its task type makes of them."""
    model = cache.get(req["model"])
    paths = req.get("images") or []
    batch_size = max(1, int(req.get("batch_size") or DEFAULT_BATCH))
    chunks = (chunk for _, chunk in _chunks(paths, batch_size * 4))   # bounded memory for long lists
    return _infer_chunks(model, req, chunks)


def op_infer_db(cache, req):
    """op_infer for the records of an LMDB of Datums (db_path, checked by the server), in key order:
    "keys" names each result. A segmentation dataset's images LMDB brings its labels LMDB: each record's
    answer then has the IoU of its mask against the record's label."""
    from digits.inference.masks import per_pixel
    from digits.inference.records import paired_labels, record_chunks, record_input
    from digits.model.tasks import get_task_type
    model = cache.get(req["model"])
    labels_db = paired_labels(req["db_path"]) if per_pixel(get_task_type(req.get("task_type"))) else None
    keys = []

    def chunks():   # streamed: a large database is never all in memory
        for chunk in record_chunks(req["db_path"], req.get("limit"), labels_db=labels_db):
            keys.extend(record[0] for record in chunk)
            yield chunk
    return dict(_infer_chunks(model, req, chunks(), record_input), keys=keys)


def op_top_n(cache, req):
    """For each class, the n images that score highest for it."""
    from digits.inference.images import thumbnail
    model = cache.get(req["model"])
    paths = req.get("images") or []
    n = max(1, int(req.get("n", 9)))
    batch_size = max(1, int(req.get("batch_size") or DEFAULT_BATCH))
    images, failed = _prepared(model, paths)
    probs = _probabilities(model, images, batch_size)
    classes = []
    if len(images):
        values, rows = probs.topk(min(n, len(images)), dim=0)   # per column (class): best rows
        by_row = dict(enumerate(images))
        for k in range(model.num_classes):
            best = []
            for value, row in zip(values[:, k].tolist(), rows[:, k].tolist()):
                index, arr = by_row[row]
                best.append({"index": index, "path": paths[index], "probability": float(value),
                             "thumbnail": thumbnail(arr) if req.get("thumbnails", True) else None})
            classes.append(best)
    return {"classes": classes, "count": len(images),
            "errors": [{"path": paths[i], "error": m} for i, m in failed]}


def op_export(cache, req):
    from digits.inference.export import export
    model = cache.get(req["model"])
    return {"files": export(model, req["out_dir"], tuple(req.get("formats") or ("weights", "torchscript", "onnx")),
                            optional=tuple(req.get("optional") or ()), spec=req["model"])}


def op_check(cache, req):
    """Loads a model (building the network and fitting the weights) and describes it."""
    if req.get("complete_preprocess"):
        from digits.inference.loader import complete_preprocess
        complete_preprocess(req["model"])
    model = cache.get(req["model"])
    layers = [{"name": i.name, "type": i.type, "status": i.status, "weights": bool(i.params)}
              for i in (model.network.layers or [])]
    return {"num_classes": model.num_classes, "input_shape": list(model.pre.output_shape), "layers": layers,
            "parameters": sum(p.numel() for p in model.module.parameters())}


def op_caffemodel(cache, req):
    """An uploaded .caffemodel (req "caffemodel") → the model folder's weights.pt, by Caffe layer name into
    the network its preprocess.json sizes; answers the report of digits.frameworks.caffemodel."""
    from digits.frameworks import NetworkError, caffemodel
    from digits.inference.loader import complete_preprocess
    from digits.model import preprocess
    spec = req["model"]
    complete_preprocess(spec)
    pre = preprocess.load(spec["dir"])
    try:
        with open(os.path.join(spec["dir"], spec["network_file"]), encoding="utf-8") as f:
            return caffemodel.convert(req["caffemodel"], f.read(), pre.output_shape, pre.num_classes,
                                      spec["weights"], shown_name=req.get("shown_name"))
    except (caffemodel.CaffemodelError, NetworkError) as exc:
        raise InferenceError(str(exc), 400, "ModelError") from None


def _out_of_memory(exc):
    """Whether exc (or what it was raised while handling: NetworkError wraps the user's exception)
    is an allocation that failed: numpy's MemoryError, or torch's allocator refusing."""
    while exc is not None:
        if isinstance(exc, MemoryError) or "can't allocate memory" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def op_network(cache, req):
    """Builds a network definition for an input shape (running the user's code here, not in the
    server); with "graph", returns its layer graph and SVG drawing too. With "cpu_seconds", the
    process may spend only that much CPU time from here on (it is replaced after this request)."""
    from digits.frameworks import NetworkError, build_network, network_graph, render_svg
    from digits.sandbox import limit_cpu
    args = (req.get("framework"), req.get("text"), req.get("input_shape"), req.get("num_classes"))
    limit_cpu(req.get("cpu_seconds"))
    try:
        if req.get("graph"):
            graph = network_graph(*args)
            return {"graph": graph, "svg": render_svg(graph)}
        network = build_network(*args)
    except (NetworkError, MemoryError) as exc:
        if _out_of_memory(exc):
            limit = f" ({req['memory_mb']} MB)" if req.get("memory_mb") else ""
            raise InferenceError(f"the network needs more memory than a network check may use{limit}: {exc}",
                                 400, "NetworkError") from None
        raise InferenceError(str(exc), 400, "NetworkError") from None
    return {"warnings": list(network.warnings), "loss": network.loss_spec or ("loss()" if network.loss_fn else None),
            "task_type": network.task_type}


def op_ping(cache, req):
    if req.get("crash"):   # tests: a worker that dies in the middle of a request
        os._exit(int(req["crash"]))
    if req.get("sleep"):
        time.sleep(float(req["sleep"]))
    import torch
    return {"pid": os.getpid(), "device": str(cache.device), "cached": len(cache), "loads": cache.loads,
            "threads": torch.get_num_threads()}


OPS = {"classify": op_classify, "infer": op_infer, "infer_db": op_infer_db, "top_n": op_top_n, "export": op_export, "check": op_check,
       "caffemodel": op_caffemodel,
       "network": op_network, "ping": op_ping}


def handle(cache, req):
    op = OPS.get(req.get("op")) if isinstance(req, dict) else None
    if op is None:
        raise InferenceError(f"unknown inference op {req.get('op') if isinstance(req, dict) else req!r}")
    return op(cache, req)


def serve(lines, reply):
    from digits.inference.loader import ModelCache
    cache = ModelCache()
    for line in lines:
        if not line.strip():
            continue
        req_id = None
        try:
            req = json.loads(line)
            req_id = req.get("id") if isinstance(req, dict) else None
            response = {"id": req_id, "ok": True, "result": handle(cache, req)}
        except InferenceError as exc:
            response = {"id": req_id, "ok": False, "error": exc.to_json()}
        except Exception as exc:  # noqa: BLE001 - one bad request must not end the worker
            traceback.print_exc(file=sys.stderr)
            response = {"id": req_id, "ok": False,
                        "error": {"message": f"{type(exc).__name__}: {exc}", "status": 500, "type": "InferenceError"}}
        reply(json.dumps(response))


def main():
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1, encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints (C or Python) go to the log
    sys.stdout = sys.stderr

    def reply(text):
        protocol.write(text + "\n")
        protocol.flush()

    from digits.inference.loader import configure_threads   # torch loads before "ready"
    threads = configure_threads()
    reply(json.dumps({"id": None, "ok": True, "result": {"ready": True, "pid": os.getpid(), "threads": threads}}))
    serve(sys.stdin, reply)


if __name__ == "__main__":
    main()
