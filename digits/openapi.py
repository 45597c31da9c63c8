"""The OpenAPI document of the REST API (served at /openapi.json, fuzzed by schemathesis in CI)."""
from flask import Blueprint, jsonify

from digits import __version__
from digits.model.tasks import TASK_TYPES

GENERIC_TASK_TYPES = [name for name in TASK_TYPES if name != "classification"]

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


def build_spec():
    s = {"type": "string"}
    paths = {
        "/index.json": {"get": _op("Datasets and models")},
        "/completed_jobs.json": {"get": _op("Finished datasets and models")},
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
                        "train_epochs": {"type": "integer"}, "learning_rate": s, "batch_size": s},
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
            "summary": "Deploy archive (network, weights, TorchScript, ONNX, labels, mean, preprocess.json)",
            "parameters": [JOB_ID, {"name": "epoch", "in": "query", "schema": {"type": "integer"}}],
            "responses": {"200": {"description": "archive (.tar.gz without an extension)", "content": {
                kind: {"schema": {"type": "string", "format": "binary"}}
                for kind in ("application/gzip", "application/x-tar", "application/zip")}},
                **_errors(400, 404, 409)}}},
        "/models/{job_id}/to_pretrained.json": {"post": _op(
            "Make a pretrained model from a snapshot", JOB_REF, params=[JOB_ID], errors=[400, 401, 403, 404, 409],
            body=_form({"snapshot_epoch": {"type": "integer"}}))},
    })
    generic = "/models/images/generic"
    generic_fields = dict(inference_fields, view_extension_id=s)   # a view extension id (digits.extensions.view)
    paths.update({
        "/datasets/images/generic.json": {"post": _op(
            "New generic dataset from prebuilt LMDBs (Caffe Datums; labels as float_data or uint8 data)", JOB_REF,
            errors=[400, 401, 429, 507], body=_form({
                "dataset_name": s, "prebuilt_train_images": s, "prebuilt_train_labels": s, "prebuilt_val_images": s,
                "prebuilt_val_labels": s, "prebuilt_mean_file": s}, ["dataset_name"]))},
        f"{generic}.json": {"post": _op(
            "New generic model(s): the classification model fields plus task_type (regression, multilabel, detection, "
            "segmentation) and class_weights (segmentation)",
            JOB_REF, errors=[400, 401, 429, 507],
            body=_form({"model_name": s, "dataset": s, "method": s, "framework": s, "custom_network": s,
                        "task_type": {"type": "string", "enum": GENERIC_TASK_TYPES}, "class_weights": s,
                        "train_epochs": {"type": "integer"}, "learning_rate": s}, ["model_name", "dataset"]))},
        f"{generic}/infer_one.json": {"post": _op(
            "A generic model's outputs for one image, plus its task type's keys (values / labels) and its view's",
            {"type": "object", "required": ["outputs", "view"]}, errors=[400, 404, 409, 413],
            body=_form(generic_fields, ["job_id"]))},
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
    return {"openapi": "3.0.3",
            "info": {"title": "DIGITS REST API", "version": __version__,
                     "description": "Every page has a JSON twin; form fields are those of the HTML forms."},
            "paths": paths}


@blueprint.route("/openapi.json")
def openapi():
    return jsonify(build_spec())
