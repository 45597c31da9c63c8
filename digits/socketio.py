"""Socket.IO namespace /jobs: rooms per job id plus `job_management` for the home page."""
from flask import request
from flask_socketio import join_room, leave_room

from digits.utils.finite_json import finite

NAMESPACE = "/jobs"
HOME_ROOM = "job_management"


class SocketEmitter:
    """Turns scheduler events into `job update` / `task update` messages."""

    def __init__(self, socketio):
        self.socketio = socketio

    def job_update(self, job, update, **data):
        payload = {"job_id": job.id, "update": update}
        if update in ("status", "added"):
            payload.update(job.summary())
            payload["error"] = job.error()
        payload.update(data)
        for room in (job.id, HOME_ROOM):
            self.socketio.emit("job update", finite(payload), namespace=NAMESPACE, to=room)

    def task_update(self, job, task, update, **data):
        payload = {"job_id": job.id, "task": task.name, "update": update}
        if update == "status":
            payload.update(task.summary())
        payload.update(data)
        self.socketio.emit("task update", finite(payload), namespace=NAMESPACE, to=job.id)


def register_handlers(socketio, config):
    @socketio.on("connect", namespace=NAMESPACE)
    def on_connect(auth_data=None):
        # Live updates carry job names, errors and metrics: as private as the pages in password mode.
        from digits.auth import current_user
        return config["auth"] != "password" or current_user() is not None

    @socketio.on("join", namespace=NAMESPACE)
    def on_join(data):
        room = (data or {}).get("room") if isinstance(data, dict) else None
        if isinstance(room, str) and room:
            join_room(room, sid=request.sid, namespace=NAMESPACE)

    @socketio.on("leave", namespace=NAMESPACE)
    def on_leave(data):
        room = (data or {}).get("room") if isinstance(data, dict) else None
        if isinstance(room, str) and room:
            leave_room(room, sid=request.sid, namespace=NAMESPACE)
