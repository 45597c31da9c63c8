"""Front-end libraries from npm packages (package.json at the repo root), never from a CDN.

`npm ci` fills node_modules/; setup.py copies the files named in VENDOR_FILES into the installed
package (digits/static/vendor/), and a source checkout serves them straight from node_modules/.
"""
import os

from flask import Blueprint, abort, send_from_directory

from digits.vendor_files import VENDOR_FILES


HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGED_DIR = os.path.join(HERE, "static", "vendor")
NODE_MODULES = os.path.join(os.path.dirname(HERE), "node_modules")


def vendor_path(name):
    """Where a vendor file is on this installation, or None if the assets were not installed."""
    packaged = os.path.join(PACKAGED_DIR, name)
    if os.path.isfile(packaged):
        return packaged
    source = os.path.join(NODE_MODULES, VENDOR_FILES[name])
    return source if os.path.isfile(source) else None


def missing():
    return [name for name in VENDOR_FILES if vendor_path(name) is None]


def url(name):
    return f"/vendor/{name}"


def register(app):
    bp = Blueprint("vendor", __name__)

    @bp.route("/vendor/<name>")
    def vendor(name):
        if name not in VENDOR_FILES:
            abort(404)
        path = vendor_path(name)
        if path is None:
            abort(404, description=f"front-end asset {name} is not installed: run `npm ci` in the source tree")
        return send_from_directory(os.path.dirname(path), os.path.basename(path), max_age=3600)

    app.register_blueprint(bp)
