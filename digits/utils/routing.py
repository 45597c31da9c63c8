"""Request helpers shared by views: JSON or HTML, errors in API.md's shape, the app's scheduler."""
from flask import abort, current_app, jsonify, request


def wants_json():
    # /status and downloads have no HTML twin: scripts use them and expect JSON errors.
    if request.path.endswith((".json", "/status")) or "/download" in request.path or request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def wants_json_reply():
    """REST clients (curl, DIGITS scripts, .json URLs) get JSON; a browser form post gets pages.
    Browsers always send Sec-Fetch-Site; scripts do not."""
    return wants_json() or not request.headers.get("Sec-Fetch-Site")


def json_error(message, status=400, type_=None):
    response = jsonify({"error": {"message": message, "type": type_ or error_type(status)}})
    response.status_code = status
    return response


def error_type(status):
    return {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
            405: "MethodNotAllowed", 409: "Conflict", 413: "RequestEntityTooLarge", 429: "TooManyRequests",
            503: "ServiceUnavailable", 504: "Timeout", 507: "InsufficientStorage"}.get(status, "Error")


def scheduler():
    return current_app.extensions["digits"]["scheduler"]


def config():
    return current_app.extensions["digits"]["config"]


def get_job_or_404(job_id, category=None):
    job = scheduler().get_job(job_id)
    if job is None or (category and category != "jobs" and job.category != category):
        abort(404, description=f"job {job_id} not found")
    return job


def job_from_query(category=None):
    """The job named by ?job_id= (DIGITS' job_from_request): 400 when it is missing, 404 when unknown."""
    job_id = request.args.get("job_id")
    if not job_id:
        abort(400, description="job_id not given")
    return get_job_or_404(job_id, category)


def form_errors_response(form):
    response = jsonify({"errors": form.errors})
    response.status_code = 400
    return response
