"""Subprocess entry for tests: the train tool, with the test network fallback if frameworks is absent."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import trainkit  # noqa: E402

trainkit.install_network_fallback()

from digits.tools.common import run_main  # noqa: E402
from digits.tools.train import main  # noqa: E402

if __name__ == "__main__":
    run_main(main)
