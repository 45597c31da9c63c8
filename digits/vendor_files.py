"""Front-end files the pages use: name served under /vendor/ -> path inside node_modules.

Kept free of imports so setup.py can read it before anything is installed.
"""
VENDOR_FILES = {
    "bootstrap.min.css": "bootstrap/dist/css/bootstrap.min.css",
    "bootstrap.bundle.min.js": "bootstrap/dist/js/bootstrap.bundle.min.js",
    "chart.umd.min.js": "chart.js/dist/chart.umd.min.js",
    "socket.io.min.js": "socket.io-client/dist/socket.io.min.js",
}
