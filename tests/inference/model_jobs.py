"""A trained generic model job made by hand for the inference tests: a Python network whose weights are its
initial ones, saved as snapshot epoch 1 with its preprocess.json — no training, so the answers are known."""
import os


def saved_model(sched, name, net, task_type, dataset_dir, pre):
    """A Done generic model job of that task type in the scheduler: network.py (the source net), its build's
    state_dict as snapshot_epoch_1.pt, preprocess.json of the Preprocess pre; returns (job, built module)."""
    import torch

    from digits.model.job import GenericImageModelJob
    from digits.model.preprocess import write_model_files
    from digits.status import Status
    from digits.utils.atomic import write_json
    job = GenericImageModelJob(sched.jobs_dir, name, "alice")
    os.makedirs(job.dir)
    with open(job.path("network.py"), "w") as f:
        f.write(net)
    write_json(job.path("train_config.json"), {"task_type": task_type, "dataset_dir": dataset_dir,
                                               "network": {"framework": "torch", "file": "network.py"}})
    namespace = {}
    exec(compile(net, "network.py", "exec"), namespace)  # noqa: S102 - the test's own network
    module = namespace["build"](pre.output_shape, pre.num_classes)
    torch.save(module.state_dict(), job.path("snapshot_epoch_1.pt"))
    write_model_files(pre, job.dir, dataset_dir)
    job.extra.update(dataset_id=None, framework="torch", network_file="network.py")
    job.set_status(Status.DONE)
    job.save()
    sched.jobs[job.id] = job
    return job, module
