"""Resume after a kill (real SIGKILL of the tool), corrupt snapshots, error reporting, DDP with gloo."""
import io
import os
import shutil
import signal
import subprocess
import sys
from contextlib import redirect_stdout

import pytest
import torch

import trainkit
from trainkit import metrics, of_type, parse_lines, run_in_process

from digits.tools.common import run_main
from digits.tools.train import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNNER = os.path.join(trainkit.HERE, "run_train.py")


def _env():
    env = dict(os.environ, PYTHONUNBUFFERED="1", CUDA_VISIBLE_DEVICES="")
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def after(msgs, epoch):
    """Metric messages past `epoch` (what a resumed run re-emits)."""
    return [(m["phase"], m["name"], m["epoch"], m["value"]) for m in msgs
            if m["type"] == "metric" and m["epoch"] > epoch]


def test_resume_after_kill_continues_with_equal_metrics(tmp_path, dataset_dir):
    settings = dict(train_epochs=3, augmentation={"flip": "fliplr"}, crop_size=14, solver_type="ADAM",
                    learning_rate=0.01, lr_policy={"policy": "exp", "gamma": 0.9})
    reference = trainkit.make_job(str(tmp_path / "ref"), dataset_dir, **settings)
    code, ref_msgs = run_in_process(reference)
    assert code == 0, of_type(ref_msgs, "error")

    job_dir = trainkit.make_job(str(tmp_path / "killed"), dataset_dir, **settings)
    proc = subprocess.Popen([sys.executable, RUNNER, "--job-dir", job_dir], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=_env(), cwd=ROOT)
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if '"type": "snapshot"' in line:
            proc.send_signal(signal.SIGKILL)   # die right after the first snapshot, mid-run
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert os.path.exists(os.path.join(job_dir, "snapshot_epoch_1.pt"))
    assert not os.path.exists(os.path.join(job_dir, "snapshot_epoch_3.pt"))

    code, msgs = run_in_process(job_dir)
    assert code == 0, of_type(msgs, "error")
    resumed = of_type(msgs, "resumed")
    epoch = resumed[0]["epoch"]
    assert epoch >= 1 and msgs.index(resumed[0]) < msgs.index(of_type(msgs, "metric")[0])
    assert after(msgs, epoch) == after(ref_msgs, epoch)
    # the history before the snapshot is replayed: the whole series equals an uninterrupted run's
    assert of_type(msgs, "metric") == of_type(ref_msgs, "metric")
    assert [m["epoch"] for m in of_type(msgs, "snapshot")] == list(range(epoch + 1, 4))
    ref_state = torch.load(os.path.join(reference, "snapshot_epoch_3.pt"), weights_only=True)
    state = torch.load(os.path.join(job_dir, "snapshot_epoch_3.pt"), weights_only=True)
    for key, value in ref_state["model"].items():
        assert torch.equal(value, state["model"][key]), key


def test_corrupt_newest_snapshot_is_skipped(tmp_path, dataset_dir):
    job_dir = trainkit.make_job(str(tmp_path / "job"), dataset_dir, train_epochs=3)
    code, ref_msgs = run_in_process(job_dir)
    assert code == 0
    shutil.copy(os.path.join(job_dir, "snapshot_epoch_3.pt"), tmp_path / "keep.pt")
    with open(os.path.join(job_dir, "snapshot_epoch_3.pt"), "r+b") as f:
        f.truncate(100)                         # a half-written file
    os.remove(os.path.join(job_dir, "snapshot_epoch_2.pt"))
    code, msgs = run_in_process(job_dir)
    assert code == 0, of_type(msgs, "error")
    assert any("snapshot_epoch_3.pt" in m["message"] for m in of_type(msgs, "warning"))
    assert of_type(msgs, "resumed") == [{"type": "resumed", "epoch": 1}]
    assert after(msgs, 1) == after(ref_msgs, 1)


def test_finished_run_resumes_to_nothing(tmp_path, dataset_dir):
    job_dir = trainkit.make_job(str(tmp_path / "job"), dataset_dir, train_epochs=1)
    code, first = run_in_process(job_dir)
    assert code == 0
    code, msgs = run_in_process(job_dir)
    # nothing is trained again: the only metrics are the replayed history of the first run
    assert code == 0 and of_type(msgs, "resumed")[0]["epoch"] == 1
    assert of_type(msgs, "metric") == of_type(first, "metric") and not of_type(msgs, "snapshot")


@pytest.mark.parametrize("overrides,needle", [
    ({"batch_size": 0}, "batch_size must be >= 1"),
    ({"learning_rate": -1}, "learning_rate must be > 0"),
    ({"solver_type": "LBFGS"}, "solver_type must be one of"),
    ({"lr_policy": {"policy": "cosine"}}, "lr_policy.policy"),
    ({"crop_size": 64}, "crop_size 64 does not fit"),
    ({"augmentation": {"flip": "sideways"}}, "augmentation.flip"),
    ({"train_epochs": "ten"}, "train_epochs must be an integer"),
    ({"dataset_dir": "/nonexistent"}, "dataset_dir"),
    ({"pretrained": {"file": "/nonexistent.pt"}}, "pretrained.file"),
])
def test_bad_config_names_the_field(job, overrides, needle):
    code, msgs = run_in_process(job(**overrides))
    assert code == 1
    assert needle in of_type(msgs, "error")[0]["message"]


def test_network_that_raises_reports_traceback(job):
    net = "import torch.nn as nn\n\ndef build(input_shape, num_classes):\n    layers = []\n" \
          "    return layers[3]  # broken on purpose\n"
    code, msgs = run_in_process(job(network=net))
    assert code == 1
    message = of_type(msgs, "error")[0]["message"]
    assert "IndexError" in message and "layers[3]" in message


def test_network_that_raises_in_training_says_where(job):
    """Builds and fits fine (eval, 2 images); raises on the first training batch."""
    net = ("import torch.nn as nn\n\nclass Net(nn.Module):\n    def __init__(self, n):\n        super().__init__()\n"
           "        self.fc = nn.Linear(3 * 16 * 16, n)\n    def forward(self, x):\n        if self.training:\n"
           "            raise ValueError('exploded')\n        return self.fc(x.flatten(1))\n\n"
           "def build(input_shape, num_classes):\n    return Net(num_classes)\n")
    job_dir = job(network=net)
    buf = io.StringIO()
    with redirect_stdout(buf), pytest.raises(SystemExit) as exited:
        run_main(lambda: main(["--job-dir", job_dir]))
    assert exited.value.code == 1
    message = of_type(parse_lines(buf.getvalue()), "error")[0]["message"]
    first, *frames = message.splitlines()
    assert first == "ValueError: exploded (at network.py line 9, in forward)"
    assert 1 <= len(frames) <= 3 and frames[-1].endswith("raise ValueError('exploded')")
    assert not any("torch/nn" in line for line in frames)   # library frames are noise to the user


def test_network_that_does_not_fit(job):
    net = trainkit.TINY_NET.replace("6 * (h // 2) * (w // 2)", "123")
    code, msgs = run_in_process(job(network=net))
    assert code == 1
    message = of_type(msgs, "error")[0]["message"]
    assert "does not fit the" in message and "123" in message


def test_network_with_wrong_output_size(job):
    net = trainkit.TINY_NET.replace("num_classes))", "num_classes + 1))")
    code, msgs = run_in_process(job(network=net))
    assert code == 1 and "(2, 4)" in of_type(msgs, "error")[0]["message"]


def test_ddp_two_gloo_ranks(tmp_path, dataset_dir):
    job_dir = trainkit.make_job(str(tmp_path / "ddp"), dataset_dir, train_epochs=3, batch_size=4,
                                batch_accumulation=2)   # exercises DDP's no_sync between accumulated batches
    from digits.tools.train import train_command
    argv = train_command(job_dir, 2)
    assert argv[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    argv = argv[:4] + ["--nproc_per_node=2", RUNNER, "--job-dir", job_dir]   # the test runner script
    out = subprocess.run(argv, capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    msgs = parse_lines(out.stdout)
    assert not of_type(msgs, "error")
    first = of_type(msgs, "result")[0]
    assert first["world_size"] == 2 and first["iterations_per_epoch"] == 6   # 96 / (2 ranks × 4 × 2)
    assert [m["epoch"] for m in of_type(msgs, "snapshot")] == [1, 2, 3]       # rank 0 only speaks
    val_acc = metrics(msgs, "val", "accuracy")
    assert len(val_acc) == 3 and val_acc[-1][1] >= 75.0
    state = torch.load(os.path.join(job_dir, "snapshot_epoch_3.pt"), weights_only=True)
    assert not any(k.startswith("module.") for k in state["model"])


def test_train_command_single_process():
    from digits.tools.train import train_command
    assert train_command("/jobs/x", 1, python="py") == ["py", "-m", "digits.tools.train", "--job-dir", "/jobs/x"]
