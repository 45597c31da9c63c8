"""What every task type (digits.model.tasks) answers, with the behaviour of the vector and class-id
task types as the default: the trainer, the network checks and the inference worker call these hooks
and hold no per-task code.

    output_size(info)                         outputs per image the network must give
    label_kind                                the dataset.json "label_kind" it trains on (None: class
                                              ids or label vectors, a dataset without one)
    label_follows_image                       True when a label is an image of its own (a mask): crops and
                                              geometric augmentations move it with its image
    collate(batch)                            the DataLoader's collate_fn
    check_config(config)                      why the train config's settings do not suit it (or None)
    configured(config)                        the task type with the train config's own settings (the
                                              training run's; segmentation's class_weights)
    check_classes(num_classes)                TaskTypeError when those settings do not fit the dataset
    train_loss(model, network, module, x, y)  (loss, {component: loss} or None) of a batch
    evaluator(outputs, runtime)               update(output, labels) per batch, compute() → (metrics, results)
    check_output(output, num_classes, input_shape=None)   why an eval-mode output for 2 images of that
                                              (C, H, W) does not fit (or None)
    check_training(module, input_shape, num_classes)   the same for a train-mode forward
    infer(outputs, labels, transforms=None)   one JSON-ready answer per image

Torch-free at import, like tasks.py: the web process lists the task types.
"""


class TaskTypeError(ValueError):
    """A network and a task type that cannot work together; the message says why."""


def _torch():
    import torch
    import torch.nn.functional as F
    return torch, F


def main_output(output):
    # torchvision's GoogLeNet/Inception return a named tuple in train mode
    return output.logits if isinstance(output, tuple) and hasattr(output, "logits") else output


class SingleProcess:
    """The runtime an evaluator gets outside the training tool (tests, tools): one process on the CPU."""

    def __init__(self, device="cpu"):
        self.device = device

    def all_sum(self, tensor):
        return tensor

    def gather_objects(self, value):
        return [value]


class SumsEvaluator:
    """The task type's eval_sums added over batches, then over ranks (runtime.all_sum)."""

    def __init__(self, task, outputs, runtime):
        torch, _ = _torch()
        self.task, self.runtime = task, runtime
        self.sums = torch.zeros(task.sums_size(outputs), dtype=torch.float64, device=runtime.device)

    def update(self, output, labels):
        self.sums += self.task.eval_sums(output.float(), labels)

    def compute(self):
        """(metrics, results) over every rank; ({}, {}) when no rank saw an image."""
        totals = self.runtime.all_sum(self.sums).tolist()
        if not totals[self.task.count_index]:
            return {}, {}
        return self.task.summarize(totals), self.task.results(totals)


class TaskType:
    name = ""
    title = ""
    metric_names = ()     # what evaluate() reports, in chart order
    meaning = {}          # what an archive's info.json says of the outputs ("apply", "meaning")
    default_view = "all-raw-data"   # the view extension (digits.extensions.view) its answers show in
    count_index = 3       # where eval_sums keeps the number of images
    label_kind = None
    label_follows_image = False
    network_hint = ""     # what network a task type with labels of its own kind needs (check_declared)

    def output_size(self, info):
        """Scores the network must output per image, from the dataset's info."""
        return int(info["num_classes"])

    def default_loss(self, module, output, labels):
        raise NotImplementedError

    def loss(self, network, module, output, labels):
        """The training loss of one batch: the network's own loss when it declares one."""
        if getattr(network, "loss_fn", None) is not None:
            return network.loss_fn(output, labels)
        spec = getattr(network, "loss_spec", None)
        if spec and not self.is_default_loss(spec):
            from digits.model.tasks import spec_loss
            return spec_loss(spec, main_output(output), labels)
        return self.default_loss(module, output, labels)

    def is_default_loss(self, spec):
        return False

    def check_config(self, config):
        """Why train_config.json's settings cannot train this task type (a message), or None."""
        return None

    def configured(self, config):
        """This task type as the train config sets it up (a new object when it has settings of its own)."""
        return self

    def check_classes(self, num_classes):
        """Raises TaskTypeError when the configured settings do not fit a dataset of num_classes."""

    def train_loss(self, model, network, module, x, y):
        """(training loss of a batch, {component: loss tensor} charted as train loss_<component>, or None).
        `model` runs the batch (DDP's wrapper when distributed), `module` is the bare network."""
        return self.loss(network, module, model(x), y), None

    def collate(self, batch):
        from torch.utils.data import default_collate
        return default_collate(batch)

    def evaluator(self, outputs, runtime=None):
        """Collects a validation/test pass for a network with `outputs` scores; runtime: where it runs
        (device, all_sum and gather_objects over ranks; trainer_runtime.Runtime), one CPU process if None."""
        return SumsEvaluator(self, outputs, runtime or SingleProcess())

    def check_output(self, output, num_classes, input_shape=None):
        """Why the eval-mode output of a 2-image batch does not suit this task type, or None
        (num_classes None: any number of scores; input_shape: the images' (C, H, W), when known)."""
        torch, _ = _torch()
        if not isinstance(output, torch.Tensor):
            return (f"The network returned {type(output).__name__}; forward() must return one tensor of scores "
                    f"(N × {num_classes or 'number of classes'})")
        if num_classes and tuple(output.shape) != (2, num_classes):
            return (f"The network's output has shape {tuple(output.shape)} for 2 images; it must be "
                    f"(2, {num_classes}) — one score per class")
        return None

    def check_training(self, module, input_shape, num_classes):
        """Why a train-mode forward does not suit this task type, or None (here the loss says it)."""
        return None

    def eval_sums(self, output, labels):
        """1-D float64 tensor of sums over the batch; evaluate() adds them over batches and ranks."""
        raise NotImplementedError

    def sums_size(self, outputs):
        """Length of eval_sums' tensor for a network with `outputs` scores (a rank may see no batch)."""
        return 4

    def summarize(self, sums):
        raise NotImplementedError

    def results(self, sums):
        """Extra (non-chart) results of the last evaluation, e.g. per-label figures."""
        return {}

    def infer(self, outputs, labels=(), transforms=None):
        """One JSON-ready answer per image from the float64 outputs (numpy); transforms: each image's
        geometry transform, for task types whose answers are in the original image's pixels."""
        raise NotImplementedError
