"""Test-only tool: records the environment and identity it runs with in its job folder, then reads
the paths it is given (as a tool reads a dataset's image folder)."""
import argparse
import json
import os
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--job-dir", required=True)
    parser.add_argument("paths", nargs="*")
    args = parser.parse_args()
    for path in args.paths:
        os.listdir(path) if os.path.isdir(path) else open(path).close()
    with open(os.path.join(args.job_dir, "identity.json"), "w") as f:
        json.dump({"environ": dict(os.environ), "uid": os.getuid(), "gid": os.getgid()}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
