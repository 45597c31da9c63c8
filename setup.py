"""Installs the server. Front-end libraries come from npm (package.json) and are copied into the
package at build time, so a plain `pip install .` gives a server that works offline."""
import os
import runpy
import shutil
import subprocess

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


def read_requirements(name):
    with open(os.path.join(HERE, name)) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


class BuildWithAssets(build_py):
    """Runs `npm ci` when node_modules is missing and ships the vendor files inside the package."""

    def run(self):
        super().run()
        node_modules = os.path.join(HERE, "node_modules")
        if not os.path.isdir(node_modules):
            npm = shutil.which("npm")
            if npm is None:
                raise SystemExit("npm is needed to fetch the front-end libraries (apt-get install npm)")
            subprocess.check_call([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE)
        table = runpy.run_path(os.path.join(HERE, "digits", "vendor_files.py"))
        dest = os.path.join(self.build_lib, "digits", "static", "vendor")
        os.makedirs(dest, exist_ok=True)
        for name, rel in table["VENDOR_FILES"].items():
            shutil.copyfile(os.path.join(node_modules, rel), os.path.join(dest, name))


def data_files_under(folder):
    out = []
    for root, _, names in os.walk(os.path.join(HERE, folder)):
        out += [os.path.relpath(os.path.join(root, n), os.path.join(HERE, folder)) for n in names]
    return out


setup(
    name="digits",
    version="0.1.0",
    description="DIGITS-class deep-learning training server on PyTorch",
    packages=find_packages(include=["digits", "digits.*"]) + ["digits.templates", "digits.static"],
    package_dir={"digits.templates": "templates", "digits.static": "static"},
    package_data={"digits.templates": data_files_under("templates"), "digits.static": data_files_under("static"),
                  "digits": ["proto/*.proto", "networks/*/*.prototxt", "networks/*/*.py"]},
    include_package_data=False,
    python_requires=">=3.11",
    install_requires=read_requirements("requirements.txt"),
    extras_require={"test": read_requirements("requirements-test.txt")},
    entry_points={"console_scripts": ["digits-devserver=digits.__main__:main"]},
    scripts=[],
    cmdclass={"build_py": BuildWithAssets},
)
