"""The OpenAPI document of the REST API (served at /openapi.json, fuzzed by schemathesis in CI)."""
from flask import Blueprint, jsonify

from digits import __version__
from digits.model.tasks import TASK_TYPES

GENERIC_TASK_TYPES = list(TASK_TYPES)   # classification: a generic dataset of class ids (a data extension's)

blueprint = Blueprint("openapi", __name__)

OBJ = {"type": "object"}
ERROR = {"type": "object", "required": ["error"],
         "properties": {"error": {"type": "object", "required": ["message", "type"],
                                  "properties": {"message": {"type": "string"}, "type": {"type": "string"}}}}}
FORM_ERRORS = {"type": "object", "required": ["errors"], "properties": {"errors": OBJ}}
JOB_REF = {"type": "object", "required": ["id", "name", "status"],
           "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "status": {"type": "string"}}}
STATUS = {"type": "object", "required": ["status", "name", "type"],
          "properties": {"status": {"type": "string"}, "name": {"type": "string"}, "type": {"type": "string"},
                         "error": {"type": "string", "nullable": True}, "progress": {"type": "number"}}}
JOB_ID = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"}}


def _json(schema, description="OK"):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes):
    texts = {400: "bad input", 401: "login required", 403: "not the owner / in use", 404: "no such job",
             409: "not possible in the job's state", 413: "upload too large",
             429: "too many of the user's jobs waiting (Retry-After says when to try again)",
             507: "the jobs disk is full"}
    # A 400 is a form error ({"errors": ...}) or a plain one ({"error": ...}).
    bad = {"anyOf": [FORM_ERRORS, ERROR]}
    return {str(c): _json(bad if c == 400 else ERROR, texts[c]) for c in codes}


def _form(properties, required=()):
    schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return {"required": True, "content": {"multipart/form-data": {"schema": schema},
                                          "application/x-www-form-urlencoded": {"schema": schema}}}


def _op(summary, ok=OBJ, errors=(), params=(), body=None, ok_code="200"):
    op = {"summary": summary, "responses": {ok_code: _json(ok), **_errors(*errors)}}
    if params:
        op["parameters"] = list(params)
    if body:
        op["requestBody"] = body
    return op


def _job_routes(prefix):
    paths = {
        f"/{prefix}/{{job_id}}.json": {
            "get": _op("Job details", params=[JOB_ID], errors=[404]),
            "delete": _op("Delete a job (owner only)", params=[JOB_ID], errors=[401, 403, 404]),
        },
        f"/{prefix}/{{job_id}}/status": {"get": _op("Job status", STATUS, params=[JOB_ID], errors=[404])},
        f"/{prefix}/{{job_id}}/abort": {"post": _op("Abort a job (owner only)", params=[JOB_ID],
                                                    errors=[401, 403, 404, 409])},
        f"/{prefix}/{{job_id}}/resume.json": {"post": _op(
            "Resume an aborted or failed job from its newest snapshot (owner only)", params=[JOB_ID],
            errors=[401, 403, 404, 409])},
    }
    return paths


def _store_routes():
    """The model store (DIGITS' format): listing, push, publish."""
    s = {"type": "string"}
    push = _op("Push a model store's model (an id from /store/models) in as a pretrained model", JOB_REF,
               params=[{"name": "id", "in": "query", "required": True, "schema": s}], errors=[400, 401, 404, 507])
    push["responses"]["502"] = _json(ERROR, "the model store cannot be reached, or lacks a file")
    return {
        "/store/models": {"get": _op(
            "The configured model stores' models: {base_url: {base_url, welcome_msg, model_list: [{id, dir_name, "
            "info, aux?, error?}], error?}}, cached until refresh=1",
            params=[{"name": "refresh", "in": "query", "schema": {"type": "string", "enum": ["0", "1"]}}])},
        "/store/push.json": {"get": push},
        "/models/{job_id}/publish.json": {"post": _op(
            "Publish a snapshot into a file:// model store, in its format (owner only)",
            {"type": "object", "required": ["store", "dir_name", "id", "info"]}, params=[JOB_ID],
            errors=[400, 401, 403, 404, 409, 507],
            body=_form({"store": s, "snapshot_epoch": {"type": "integer"}, "dir_name": s, "overwrite": s}))},
    }


BULK = {"type": "object", "required": ["action", "done", "not_done", "message"],
        "properties": {"action": {"type": "string"}, "done": {"type": "array", "items": {"type": "string"}},
                       "not_done": {"type": "array", "items": {
                           "type": "object", "required": ["id", "reason"],
                           "properties": {"id": {"type": "string"}, "reason": {"type": "string"},
                                          "name": {"type": "string"}}}},
                       "message": {"type": "string"}, "error": ERROR["properties"]["error"]}}
# A refused bulk action answers 400 with BULK (what was done, and why the rest was not).
BULK_400 = {"anyOf": [FORM_ERRORS, ERROR, BULK]}


def _page(summary, params=(), body=None, method_errors=(400, 404)):
    """A route answering an HTML page (or fragment); its errors are pages or JSON by the Accept header."""
    both = {kind: {"schema": {}} for kind in ("text/html", "application/json")}
    op = {"summary": summary, "responses": {"200": {"description": "HTML", "content": {"text/html": {"schema": {}}}},
                                            **{str(c): {"description": "error", "content": both} for c in method_errors}}}
    if params:
        op["parameters"] = list(params)
    if body:
        op["requestBody"] = body
    return op


def _digits_compat_routes():
    """DIGITS 6's remaining routes: bulk actions, dataset summary, resize example, customize, large graph,
    and the GET forms of classify_one / classify_many."""
    s, i = {"type": "string"}, {"type": "integer"}
    query = lambda name, schema=s, required=False: {"name": name, "in": "query", "required": required,  # noqa: E731
                                                    "schema": schema}
    job_id = query("job_id", required=True)
    ids = {"job_ids[]": {"type": "array", "items": s}}
    bulk = {str(c): _json(BULK_400 if c == 400 else ERROR, t) for c, t in
            ((400, "some jobs unknown, not the user's, in use or in the wrong state: none of those touched"),
             (401, "login required"))}

    def bulk_op(summary, fields):
        return {"summary": summary, "requestBody": _form(dict(ids, **fields)),
                "responses": {"200": _json(BULK), **bulk}}
    resize = _form({"width": i, "height": i, "channels": {"type": "integer", "enum": [1, 3]},
                    "resize_mode": {"type": "string", "enum": ["squash", "crop", "fill", "half_crop"]},
                    "encoding": {"type": "string", "enum": ["none", "png", "jpg"]},
                    "resize_width": i, "resize_height": i, "resize_channels": i})
    customize_params = [query("network", required=True), query("framework"), query("snapshot_epoch")]
    customize = _op("A standard network's text, or a model's network and the weights file of its snapshot_epoch "
                    "(0: none, -1: the weights it started from, latest)",
                    {"type": "object", "required": ["network", "snapshot"]}, errors=[400, 404], params=customize_params)
    one = [job_id, query("image_path", required=True), query("snapshot_epoch", i), query("show_visualizations")]
    many = [job_id, query("image_list"), query("image_folder"), query("num_test_images", i), query("snapshot_epoch", i)]
    classify = "/models/images/classification"
    return {
        "/group": {"post": bulk_op("Put the jobs job_ids[] in the group group_name (owner only; empty: no group)",
                                   {"group_name": s})},
        "/abort_jobs": {"post": bulk_op("Abort the jobs job_ids[] (owner or admin)", {})},
        "/jobs": {"delete": bulk_op("Delete the jobs job_ids[] (owner or admin); a dataset or model in use by a "
                                    "job that stays is not deleted", {})},
        "/datasets/summary.json": {"get": _op("A dataset's short summary (sizes, classes, counts)", params=[job_id],
                                              errors=[400, 404])},
        "/datasets/summary": {"get": _page("A dataset's short summary as an HTML fragment", [job_id])},
        "/datasets/images/resize-example.json": {"post": _op(
            "An example picture resized by resize_mode (none: by every mode), as data: URLs with their stored size",
            {"type": "object", "required": ["examples"]}, errors=[400], body=resize)},
        "/datasets/images/resize-example": {"post": _page("The resize example as an HTML fragment", body=resize,
                                                          method_errors=(400,))},
        "/models/customize": {"get": customize, "post": customize},
        "/models/customize.json": {"get": customize},
        f"{classify}/large_graph.json": {"get": _op("A model's metric series (the large graph's data)",
                                                    params=[job_id], errors=[400, 404])},
        f"{classify}/large_graph": {"get": _page("A model's loss/accuracy graph, large", [job_id])},
        f"{classify}/classify_one.json": {"get": _op(
            "classify_one with the query string (DIGITS' GET): image_path on the server",
            {"type": "object", "required": ["predictions"]}, errors=[400, 404, 409], params=one)},
        f"{classify}/classify_many.json": {"get": _op(
            "classify_many with the query string: image_list is a file on the server ('path [label]' lines)",
            {"type": "object", "required": ["classifications"]}, errors=[400, 404, 409, 413], params=many)},
    }


def build_spec():
    s = {"type": "string"}
    paths = {
        "/index.json": {"get": _op("Datasets and models")},
        "/completed_jobs.json": {"get": _op("Finished datasets and models by category, the running jobs "
                                             "(\"running\") and the figures finished models report "
                                             "(\"model_output_fields\")")},
        "/system.json": {"get": _op("GPUs, host and resource pools")},
        "/login": {"post": _op("Log in (sets the signed session cookie; password mode needs the password)",
                               {"type": "object"}, errors=[400, 401, 429],
                               body=_form({"username": {"type": "string", "pattern": "^[a-z][a-z0-9._-]+$"},
                                           "password": s}, ["username"]))},
        "/user.json": {"get": _op("The signed-in user: role, API tokens (password mode), jobs", errors=[401])},
        "/user/tokens.json": {"post": _op("New API token (password mode; shown once)", errors=[401, 404, 409],
                                          body=_form({"name": s}))},
        "/user/tokens/{token_id}.json": {"delete": _op(
            "Delete an API token", errors=[401, 404],
            params=[{"name": "token_id", "in": "path", "required": True, "schema": s}])},
        "/user/password.json": {"post": _op("Change the password (password mode)", errors=[400, 401, 403, 404],
                                            body=_form({"current_password": s, "new_password": s}))},
        "/autocomplete/path": {"get": _op("Server path completion inside the allowed roots",
                                          params=[{"name": "query", "in": "query", "schema": s}], errors=[400])},
        "/files/{path}": {"get": {
            "summary": "A file inside the jobs folder (a task log, a mean image ...)",
            "parameters": [{"name": "path", "in": "path", "required": True, "schema": s}],
            # Not JSON-only: the 404 is a page or JSON depending on the Accept header.
            "responses": {"200": {"description": "the file"}, "404": {"description": "no such file"}}}},
        "/jobs/{job_id}": {"put": _op("Rename a job / edit its notes (owner only)", params=[JOB_ID],
                                      errors=[400, 401, 403, 404, 507],
                                      body=_form({"job_name": s, "job_notes": s}))},
        "/datasets/images/classification.json": {"post": _op(
            "New image classification dataset", JOB_REF, errors=[400, 401, 429, 507],
            body=_form({"dataset_name": s, "method": {"type": "string", "enum": ["folder", "textfile"]},
                        "folder_train": s, "resize_channels": {"type": "integer"},
                        "resize_width": {"type": "integer"}, "resize_height": {"type": "integer"},
                        "encoding": s}, ["dataset_name"]))},
        "/models/images/classification.json": {"post": _op(
            "New image classification model(s)", JOB_REF, errors=[400, 401, 429, 507],
            body=_form({"model_name": s, "dataset": s, "method": s, "standard_networks": s, "framework": s,
                        "train_epochs": {"type": "integer"}, "learning_rate": s, "batch_size": s,
                        # DIGITS' fields: "<previous job id>-snapshot" (0 none, -1 its start, N epoch N) goes
                        # with previous_networks; select_gpu is a GPU id or "next"
                        "previous_networks": s, "previous_network_snapshot": {"type": "integer"},
                        "custom_network": s, "custom_network_snapshot": s, "select_gpu": s,
                        "select_gpus": {"type": "array", "items": s},
                        # digits.model.early_stopping: empty = off / the task type's metric / keep all
                        "early_stopping_patience": {"type": "integer", "minimum": 1}, "best_metric": s,
                        "snapshots_to_keep": {"type": "integer", "minimum": 1}},
                       ["model_name", "dataset"]))},
        "/models/visualize-lr.json": {"post": _op("Learning-rate curve preview", errors=[400],
                                                  body=_form({"lr_policy": s, "learning_rate": s}))},
    }
    classify = "/models/images/classification"
    inference_fields = {"job_id": s, "image_path": s, "snapshot_epoch": {"type": "integer"}}
    paths.update({
        f"{classify}/classify_one.json": {"post": _op(
            "Top-5 predictions for one image (upload image_file or give image_path)",
            {"type": "object", "required": ["predictions"], "properties": {"predictions": {"type": "array"}}},
            errors=[400, 404, 409, 413], body=_form(dict(inference_fields, show_visualizations={"type": "boolean"}),
                                                    ["job_id"]))},
        f"{classify}/classify_many.json": {"post": _op(
            "Predictions for a list (image_list: 'path [label]' lines) or a folder of images",
            {"type": "object", "required": ["classifications"]}, errors=[400, 404, 409, 413],
            body=_form(dict(inference_fields, image_folder=s, num_test_images={"type": "integer"}), ["job_id"]))},
        f"{classify}/top_n.json": {"post": _op(
            "Best-scoring images per class", errors=[400, 404, 409, 413],
            body=_form(dict(inference_fields, image_folder=s, top_n={"type": "integer"}), ["job_id"]))},
        "/models/{job_id}/download": {"get": {
            "summary": "Deploy archive (network, weights, TorchScript, ONNX, labels, mean, preprocess.json; a Caffe "
                       "network's also snapshot.caffemodel + deploy.prototxt)",
            # no epoch: the snapshot training marked best, else the newest; also "best" or "latest"
            "parameters": [JOB_ID, {"name": "epoch", "in": "query", "schema": {"type": "integer"}}],
            "responses": {"200": {"description": "archive (.tar.gz without an extension)", "content": {
                kind: {"schema": {"type": "string", "format": "binary"}}
                for kind in ("application/gzip", "application/x-tar", "application/x-bzip2", "application/zip")}},
                **_errors(400, 404, 409)}}},
        "/models/{job_id}/to_pretrained.json": {"post": _op(
            "Make a pretrained model from a snapshot", JOB_REF, params=[JOB_ID], errors=[400, 401, 403, 404, 409],
            body=_form({"snapshot_epoch": {"type": "integer"}}))},
    })
    download = paths["/models/{job_id}/download"]["get"]
    extension = {"name": "extension", "in": "path", "required": True,
                 "schema": {"type": "string", "enum": ["tar", "tar.gz", "tgz", "tar.bz2", "zip"]}}
    paths["/models/{job_id}/download.{extension}"] = {"get": dict(
        download, summary="The deploy archive as .tar, .tar.gz (.tgz), .tar.bz2 or .zip",
        parameters=[JOB_ID, extension, *download["parameters"][1:]])}
    paths.update(_store_routes())
    generic = "/models/images/generic"
    generic_fields = dict(inference_fields, view_extension_id=s)   # a view extension id (digits.extensions.view)
    one_fields = dict(generic_fields, text=s)   # the text plugin's field, as an example of inference_fields
    paths.update({
        "/datasets/images/generic.json": {"post": _op(
            "New generic dataset from prebuilt LMDBs (Caffe Datums; labels as float_data or uint8 data)", JOB_REF,
            errors=[400, 401, 429, 507], body=_form({
                "dataset_name": s, "prebuilt_train_images": s, "prebuilt_train_labels": s, "prebuilt_val_images": s,
                "prebuilt_val_labels": s, "prebuilt_mean_file": s}, ["dataset_name"]))},
        f"{generic}.json": {"post": _op(
            "New generic model(s): the classification model fields plus task_type (regression, multilabel, detection, "
            "segmentation; classification for a dataset of class ids) and class_weights (segmentation)",
            JOB_REF, errors=[400, 401, 429, 507],
            body=_form({"model_name": s, "dataset": s, "method": s, "framework": s, "custom_network": s,
                        "task_type": {"type": "string", "enum": GENERIC_TASK_TYPES}, "class_weights": s,
                        "train_epochs": {"type": "integer"}, "learning_rate": s}, ["model_name", "dataset"]))},
        f"{generic}/infer_one.json": {"post": _op(
            "A generic model's outputs for one image, plus its task type's keys (values / labels) and its view's. "
            "A model whose data extension takes other input (its inference_fields, e.g. text) takes those fields "
            "instead of an image (docs/plugins.md)",
            {"type": "object", "required": ["outputs", "view"]}, errors=[400, 404, 409, 413],
            body=_form(one_fields, ["job_id"]))},
        f"{generic}/infer_many.json": {"post": _op(
            "A generic model's outputs for a list or a folder of images",
            {"type": "object", "required": ["outputs", "results", "view"]}, errors=[400, 404, 409, 413],
            body=_form(dict(generic_fields, image_folder=s, num_test_images={"type": "integer"}), ["job_id"]))},
        f"{generic}/infer_db.json": {"post": _op(
            "A generic model's outputs for the records of an LMDB of Datums on the server, keyed by record key",
            {"type": "object", "required": ["outputs", "results", "task_type", "view"]}, errors=[400, 404, 409],
            body=_form({"job_id": s, "snapshot_epoch": {"type": "integer"}, "view_extension_id": s, "db_path": s,
                        "num_test_images": {"type": "integer"}}, ["job_id", "db_path"]))},
    })
    for prefix in ("jobs", "datasets", "models"):
        paths.update(_job_routes(prefix))
    for path, operations in _digits_compat_routes().items():   # beside a route's POST, its GET
        paths.setdefault(path, {}).update(operations)
    return {"openapi": "3.0.3",
            "info": {"title": "DIGITS REST API", "version": __version__,
                     "description": "Every page has a JSON twin; form fields are those of the HTML forms."},
            "paths": paths}


@blueprint.route("/openapi.json")
def openapi():
    return jsonify(build_spec())
