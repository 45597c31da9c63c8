"""Test-only tool speaking the JSON-lines contract: steps with progress, metrics, failure, resume."""
import argparse
import json
import os
import signal
import sys
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--job-dir", required=True)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--sleep", type=float, default=0.01)
    parser.add_argument("--fail-at", type=int, default=-1)
    parser.add_argument("--ignore-term", action="store_true")
    parser.add_argument("--record", default=None, help="file to append start/end times to")
    parser.add_argument("--garbage", action="store_true",
                        help="first print malformed protocol lines and more output than a pipe holds")
    args = parser.parse_args()
    if args.garbage:
        for bad in ({"type": "progress", "value": "half"}, {"type": "metric", "epoch": "x", "value": 1},
                    {"type": "snapshot", "epoch": None}, {"type": "resumed", "epoch": [1]}):
            print(json.dumps(bad), flush=True)
        print("x" * 200_000, flush=True)
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    state_file = os.path.join(args.job_dir, "fake_state.json")
    start = 0
    if os.path.exists(state_file):
        with open(state_file) as f:
            start = json.load(f)["done"]
        print(json.dumps({"type": "resumed", "epoch": start}), flush=True)
        for step in range(start):  # replay the history, as the training tool does from its snapshot
            print(json.dumps({"type": "metric", "phase": "train", "name": "loss", "epoch": step + 1,
                              "value": 1.0 / (step + 1)}), flush=True)
    with open(os.path.join(args.job_dir, "env.json"), "w") as f:
        json.dump({"CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES"), "pid": os.getpid()}, f)
    if args.record:
        with open(args.record, "a") as f:
            f.write(f"start {time.time()}\n")
    print(f"fake tool starting at step {start}", flush=True)
    print("a note on stderr", file=sys.stderr, flush=True)
    for step in range(start, args.steps):
        if step == args.fail_at:
            print(json.dumps({"type": "error", "message": f"failed on purpose at step {step}"}), flush=True)
            return 3
        time.sleep(args.sleep)
        print(f"log line for step {step}", flush=True)
        print(json.dumps({"type": "metric", "phase": "train", "name": "loss", "epoch": step + 1,
                          "value": 1.0 / (step + 1)}), flush=True)
        print(json.dumps({"type": "progress", "value": (step + 1) / args.steps}), flush=True)
        tmp = state_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"done": step + 1}, f)
        os.replace(tmp, state_file)
    print(json.dumps({"type": "result", "steps": args.steps}), flush=True)
    if args.record:
        with open(args.record, "a") as f:
            f.write(f"end {time.time()}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
