"""Train an image classification model: `python -m digits.tools.train --job-dir DIR`.

Reads DIR/train_config.json, writes preprocess.json, the mean copy and snapshot_epoch_<N>.pt into
DIR, and streams progress/metrics as JSON lines (digits.tools.common.emit). If DIR already holds
snapshots, training resumes from the newest readable one (a {"type": "resumed", "epoch": N} line
tells the server to drop its history past N).

Several GPUs (or CPU processes): run it under torch.distributed.run — see train_command().
Across several machines, start the same command on every node with a shared rendezvous, e.g.
    python -m torch.distributed.run --nnodes=2 --nproc_per_node=4 --rdzv_backend=c10d \\
        --rdzv_endpoint=HOST0:29500 --rdzv_id=JOB_ID -m digits.tools.train --job-dir DIR
where DIR (dataset and job folder) is on storage every node can read; only global rank 0 writes.
"""
import argparse

from digits.tools.common import run_main


def train_command(job_dir, n_procs=1, python=None):
    """argv the server should run: plain python for one process, torch.distributed.run for more."""
    from digits.task import module_command
    return module_command("digits.tools.train", job_dir, procs=int(n_procs or 1), python=python)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job-dir", required=True, help="model job folder holding train_config.json")
    args = parser.parse_args(argv)

    import torch

    from digits.model import trainer_config
    from digits.model.trainer import Trainer, oom_message
    from digits.model.trainer_runtime import Runtime
    from digits.model.snapshot import SnapshotWriteError
    from digits.model.trainer_setup import TrainingError

    runtime = Runtime()
    trainer = config = None
    try:
        config = trainer_config.load(args.job_dir)
        trainer = Trainer(args.job_dir, config, runtime)
        trainer.run()
        # Ranks leave together: one tearing its process group down while another still talks to it
        # can abort in gloo ("terminate called without an active exception") after a good run.
        runtime.barrier()
        return 0
    except trainer_config.ConfigError as exc:
        runtime.error(f"Bad train_config.json: {exc}")
    except TrainingError as exc:
        fields = {"traceback": exc.detail} if exc.detail else {}
        runtime.error(str(exc), **fields)
    except SnapshotWriteError as exc:
        runtime.error(str(exc))
    except torch.OutOfMemoryError:
        batch = getattr(trainer, "batch_size", None) or (config.get("batch_size") if config else None) or 0
        runtime.error(oom_message(batch))
    finally:
        runtime.close()
    return 1


if __name__ == "__main__":
    run_main(main)
