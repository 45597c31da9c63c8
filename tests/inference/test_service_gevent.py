"""The inference service under gevent, as the real server runs it: big requests arrive whole."""
import subprocess
import sys
import textwrap

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
