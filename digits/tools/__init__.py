"""Subprocess entry points run by the scheduler (`python -m digits.tools.<name> --job-dir DIR`).

Contract: inputs come from the job folder and arguments, outputs go into the job folder, progress
goes to stdout as one JSON object per line (see digits.tools.common.emit); exit code 0 means Done.
"""
