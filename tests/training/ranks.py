"""A task type's evaluator run on 2 gloo ranks (spawned processes, CPU), each on its own shard of
batches, as the trainer runs it under DDP: every rank must compute what one process computes."""
import os
import socket


def _rank(rank, world, port, task_name, classes, shards, queue):
    os.environ.update(WORLD_SIZE=str(world), RANK=str(rank), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port), CUDA_VISIBLE_DEVICES="", DIGITS_TRAIN_THREADS="1")
    from digits.model.tasks import get_task_type
    from digits.model.trainer_runtime import Runtime
    runtime = Runtime()
    try:
        evaluator = get_task_type(task_name).evaluator(classes, runtime)
        for output, labels in shards[rank]:
            evaluator.update(output, labels)
        queue.put((rank, evaluator.compute()))
    finally:
        runtime.close()


def evaluate_on_ranks(task_name, classes, shards):
    """{rank: (metrics, results)} of the task type's evaluator with shards[rank] = [(output, labels)]."""
    import torch.multiprocessing as mp
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    context = mp.get_context("spawn")
    queue = context.Queue()
    procs = [context.Process(target=_rank, args=(r, len(shards), port, task_name, classes, shards, queue))
             for r in range(len(shards))]
    for p in procs:
        p.start()
    got = dict(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    return got
