"""A non-editable install must carry the templates, our static files and the npm front-end assets."""
import os
import subprocess
import sys
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_wheel_contains_templates_static_and_vendor_assets(tmp_path):
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                          "-w", str(tmp_path), ROOT], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    wheel = next(p for p in os.listdir(tmp_path) if p.endswith(".whl"))
    names = set(zipfile.ZipFile(tmp_path / wheel).namelist())
    from digits.vendor_files import VENDOR_FILES
    for name in VENDOR_FILES:
        assert f"digits/static/vendor/{name}" in names
    for rel in ("templates/layout.html", "templates/home.html", "templates/job.html", "static/js/digits.js",
                "proto/caffe_pb2.py"):
        assert f"digits/{rel}" in names
    entry = [n for n in names if n.endswith("entry_points.txt")]
    assert entry and "digits-devserver" in zipfile.ZipFile(tmp_path / wheel).read(entry[0]).decode()
    assert not [n for n in names if n.startswith("tests/")]
