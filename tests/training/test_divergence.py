"""A run that blows up says so once, quoting what the user set: the base learning rate (the policy may
have lowered this step's since) and the batch size."""
from tests.training.trainkit import make_dataset, make_job, of_type, run_in_process


def test_a_diverged_run_warns_with_the_base_rate_and_batch_size(tmp_path):
    dataset = make_dataset(str(tmp_path / "data"), counts={"train": 32, "val": 8})
    job = make_job(str(tmp_path / "job"), dataset, train_epochs=1, batch_size=4, learning_rate=1e12,
                   lr_policy={"policy": "step", "step_size": 1, "gamma": 0.1})
    code, messages = run_in_process(job)
    warnings = [m["message"] for m in of_type(messages, "warning") if "training loss is" in m["message"]]
    assert len(warnings) == 1, warnings
    assert "base learning rate (1e+12) is probably too high for batch size 4" in warnings[0]
