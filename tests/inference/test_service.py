"""The inference service: big requests arrive whole under gevent (as the real server runs it), and a
request stuck behind others gets a clear 503 instead of waiting without end."""
import subprocess
import sys
import textwrap

import pytest

from digits.inference import service as service_module
from digits.inference.errors import InferenceError
from tests.helpers import ROOT

SCRIPT = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()
    from digits.inference.service import InferenceService
    service = InferenceService()
    try:
        for size in (1_000, 70_000, 3_000_000):   # a photo upload travels inline, base64 in one line
            reply = service.call("ping", timeout=60, pad="x" * size)
            assert "pid" in reply, reply
            print("ok", size, flush=True)
    finally:
        service.close()
""")


def test_requests_bigger_than_a_pipe_buffer_reach_the_worker():
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["ok", "1000", "ok", "70000", "ok", "3000000"]


def test_a_request_waiting_too_long_for_the_worker_is_told_it_is_busy(monkeypatch):
    monkeypatch.setattr(service_module, "QUEUE_TIMEOUT", 0.2)
    service = service_module.InferenceService(command=[sys.executable, "-c", "pass"])
    service._lock.acquire()   # another request is in flight
    try:
        with pytest.raises(InferenceError) as caught:
            service.call("ping")
    finally:
        service._lock.release()
    assert caught.value.status == 503 and "busy" in str(caught.value)
