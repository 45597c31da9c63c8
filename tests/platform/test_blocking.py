"""run_blocking: under gevent, heavy work in a view lets other greenlets (other users' pages) run."""
import subprocess
import sys
import textwrap

from tests.helpers import ROOT

SCRIPT = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()
    import os, zlib, gevent, sys
    from digits.utils.blocking import run_blocking
    ticks = []
    def ticker():
        while True:
            ticks.append(1)
            gevent.sleep(0.01)
    gevent.spawn(ticker)
    gevent.sleep(0.05)
    data = os.urandom(8 << 20)
    def work():   # about a second of zlib on this data, which releases the GIL
        for _ in range(4):
            zlib.compress(data, 9)
    mode = sys.argv[1]
    before = len(ticks)
    run_blocking(work) if mode == "pool" else work()
    print(len(ticks) - before)
""")


def _ticks_during(mode):
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return int(out.stdout.strip())


def test_heavy_work_leaves_the_event_loop_running():
    assert _ticks_during("inline") <= 1        # the loop is frozen while the work runs inline
    assert _ticks_during("pool") >= 5          # other greenlets kept running
