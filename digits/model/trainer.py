"""The training loop behind `python -m digits.tools.train`.

One iteration (Caffe's sense) is one optimizer step over `batch_accumulation` mini-batches; the LR
policy steps per iteration. Train loss/LR are reported ~10 times per epoch, validation every
`val_interval` epochs (and at the end), snapshots every `snapshot_interval` epochs (and at the end).
Losses are accumulated on the device and read back only at report points, so the loop does not
wait for the GPU every step.
"""
import contextlib
import math
import os
import sys
import time

import torch
from torch.nn.parallel import DistributedDataParallel

from digits.model import preprocess as prep
from digits.model import early_stopping, snapshot, trainer_setup
from digits.model.augment import Augment
from digits.model.lr_policy import make_scheduler
from digits.model.solver import make_optimizer
from digits.model.trainer_data import (ImageView, SeededTrainSampler, ShardSampler, TensorRecords, default_workers,
                                       make_loader)
from digits.model.tasks import TaskTypeError, check_labels, get_task_type
from digits.model.trainer_setup import TrainingError

REPORTS_PER_EPOCH = 10


def due(epoch, interval):
    """True when a multiple of `interval` (epochs, may be fractional) falls in (epoch-1, epoch]."""
    if interval <= 0:
        return False
    return math.floor(epoch / interval + 1e-9) > math.floor((epoch - 1) / interval + 1e-9)


class Trainer:
    def __init__(self, job_dir, config, runtime):
        self.job_dir = os.path.abspath(job_dir)
        self.config = config
        self.rt = runtime
        self.nan_warned = False
        self.history = []   # every metric point sent, kept in snapshots for replay on resume
        self.eval_results = {}   # phase -> the task type's non-chart figures of its last evaluation
        self.loss_parts = []     # names of the loss components the task type reports

    # ---- set-up -------------------------------------------------------------------------------
    def setup(self):
        cfg, rt = self.config, self.rt
        from digits.dataset.reader import read_dataset_info
        try:
            self.info = read_dataset_info(cfg["dataset_dir"])
        except (OSError, ValueError, KeyError) as exc:
            raise TrainingError(f"cannot read the dataset in {cfg['dataset_dir']}: {exc}") from None
        if not self.info.get("splits", {}).get("train", {}).get("count"):
            raise TrainingError("the dataset has no training images")
        try:
            self.task = get_task_type(cfg.get("task_type"))
            check_labels(self.task, self.info)
            if self.info.get("kind") == "generic":   # the outputs are the label vector's (or its classes)
                self.info["num_classes"] = self.task.output_size(self.info)
        except TaskTypeError as exc:
            raise TrainingError(str(exc)) from None
        problem = self.task.check_config(cfg)
        if problem:
            raise TrainingError(problem)
        try:
            self.task = self.task.configured(cfg)
            self.task.check_classes(int(self.info["num_classes"]))
        except TaskTypeError as exc:
            raise TrainingError(str(exc)) from None
        try:
            self.best = early_stopping.tracker_for(cfg, self.task.name)   # None: no best epoch is kept
        except early_stopping.SettingsError as exc:
            raise TrainingError(str(exc)) from None
        self.resume_state = snapshot.load_latest(self.job_dir, warn=lambda m: rt.emit("warning", message=m))
        seed = self.resume_state.get("random_seed") if self.resume_state else cfg["random_seed"]
        if seed is None:
            seed = trainer_setup.new_seed() if rt.is_main else None
        self.seed = rt.broadcast_int(seed)
        trainer_setup.seed_everything(self.seed)

        module = self._build_network()
        self.transferred = set()
        if self.resume_state:  # the same parameter groups as when the snapshot was taken
            self.transferred = set(self.resume_state.get("transferred") or [])
        elif cfg["pretrained"]:
            self.transferred, loaded, fresh = trainer_setup.transfer_pretrained(
                module, cfg["pretrained"]["file"], warn=lambda m: rt.emit("warning", message=m))
            if not loaded:
                rt.emit("warning", message="no layer of the pretrained model matched this network (names/shapes)")
            rt.emit("result", pretrained_file=cfg["pretrained"]["file"], pretrained_loaded_layers=loaded,
                    pretrained_fresh_layers=fresh)
        self.module = module.to(rt.device)
        if rt.cuda:
            self.module = self.module.to(memory_format=torch.channels_last)
            torch.backends.cudnn.benchmark = True
        self.optimizer = make_optimizer(self.module, cfg, self.transferred,
                                        getattr(self.network, "param_specs", None))
        self.model = self.module
        if rt.distributed:
            self.model = DistributedDataParallel(self.module, device_ids=[rt.device.index] if rt.cuda else None)
        self._make_loaders()
        if self.best and self.best.patience and "val" not in self.eval_loaders:
            raise TrainingError("early stopping needs validation images: this dataset has none (leave "
                                "early_stopping_patience empty)")

        self.batches_per_epoch = len(self.train_loader)
        self.steps_per_epoch = math.ceil(self.batches_per_epoch / cfg["batch_accumulation"])
        self.max_iter = self.steps_per_epoch * cfg["train_epochs"]
        try:
            self.scheduler = make_scheduler(self.optimizer, cfg["lr_policy"], self.max_iter)
        except ValueError as exc:
            raise TrainingError(str(exc)) from None
        self.lr_factor = self.scheduler.lr_lambdas[0]
        self.scaler = torch.amp.GradScaler("cuda", enabled=rt.amp)
        self.start_epoch = 1
        if self.resume_state:
            self._resume(self.resume_state)
        self.resume_state = None  # free the memory

    def _build_network(self):
        """Builds the network for the (cropped) image size, writes preprocess.json; returns the module."""
        cfg, rt = self.config, self.rt
        height, width, channels = self.info["image_dims"]
        num_classes = int(self.info["num_classes"])
        crop = cfg["crop_size"]
        source = trainer_setup.read_source(cfg)
        self.network, module = trainer_setup.build(cfg, source, (channels, crop or height, crop or width),
                                                   num_classes)
        if not crop and getattr(self.network, "crop_size", None):  # the network's own data-layer crop
            crop = self.network.crop_size
            # the task type refuses a crop wherever it comes from (a prototxt's transform_param too)
            problem = self.task.check_config(dict(cfg, crop_size=crop))
            if problem:
                raise TrainingError(f"the network's data layer asks for crop_size {crop}: {problem}")
            self.network, module = trainer_setup.build(cfg, source, (channels, crop, crop), num_classes)
        try:
            self.pre = prep.from_training(self.info, cfg, self.network, cfg["network"]["framework"])
        except ValueError as exc:
            raise TrainingError(str(exc)) from None
        trainer_setup.check_task(self.network, self.task)
        trainer_setup.check_fit(module, self.pre.output_shape, num_classes, source, self.task)
        for message in getattr(self.network, "warnings", None) or []:
            rt.emit("warning", message=message)
        if rt.is_main:
            prep.write_model_files(self.pre, self.job_dir, cfg["dataset_dir"])
        return module

    def _make_loaders(self):
        cfg, rt = self.config, self.rt
        splits = self.info["splits"]
        options = dict(cfg["augmentation"])
        if getattr(self.network, "mirror", False) and options.get("flip", "none") == "none":
            options["flip"] = "fliplr"  # Caffe's transform_param { mirror: true }
        augment = Augment(options)
        if augment.quad_rot in ("rot90", "rotall") and self.pre.height != self.pre.width:
            rt.emit("warning", message="quadrant rotation by 90° needs square images; only 180° turns are used")
        self.batch_size = trainer_setup.batch_size_for(cfg, self.network)
        workers = default_workers(rt.cuda, rt.world_size)
        records = self._records(splits["train"], "train")
        self.train_sampler = SeededTrainSampler(len(records), self.seed, cfg["shuffle"], rt.rank, rt.world_size)
        joint = self.task.label_follows_image
        view = ImageView(records, self.pre, augment if augment.active else None, joint)
        self.train_loader = make_loader(view, self.train_sampler, self.batch_size, workers, rt.cuda,
                                        collate=self.task.collate)
        self.eval_loaders = {}
        for phase in ("val", "test"):
            split = splits.get(phase) or {}
            db = os.path.join(cfg["dataset_dir"], split.get("db", f"{phase}_db"))
            if split.get("count") and os.path.isdir(db):
                records = self._records(split, phase)
                self.eval_loaders[phase] = make_loader(ImageView(records, self.pre, joint=joint),
                                                       ShardSampler(len(records), rt.rank, rt.world_size),
                                                       self.batch_size, workers, rt.cuda, collate=self.task.collate,
                                                       persistent=phase == "val")  # test runs once

    def _records(self, split, phase):
        """The split's records: images with class ids, or (generic datasets) images with label vectors
        from a second LMDB."""
        from digits.dataset.reader import LmdbDataset
        db = os.path.join(self.config["dataset_dir"], split.get("db", f"{phase}_db"))
        if self.info.get("kind") != "generic":
            return LmdbDataset(db)
        from digits.dataset.generic_reader import GenericLmdbDataset
        labels = os.path.join(self.config["dataset_dir"], split["labels_db"])   # relative to the dataset, like "db"
        return TensorRecords(GenericLmdbDataset(db, labels, label_kind=self.info.get("label_kind")))

    def _resume(self, state):
        epoch = int(state["epoch"])
        try:
            snapshot.load_model_state(self.module, state, warn=lambda m: self.rt.emit("warning", message=m))
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["lr_scheduler"])
            if state.get("scaler"):
                self.scaler.load_state_dict(state["scaler"])
        except (RuntimeError, ValueError, KeyError) as exc:
            raise TrainingError(f"snapshot of epoch {epoch} does not match this network/solver: {exc}") from None
        snapshot.restore_rng(state["rng"])
        self.start_epoch = epoch + 1
        self.rt.emit("resumed", epoch=epoch)
        # Replayed so the server's history is whole even if it died before saving what it was sent.
        for phase, name, point, value in state.get("metrics") or []:
            self.metric(phase, name, point, value)
        if self.best and self.best.restore(state.get("best")) and self.best.epoch is not None:
            self.rt.emit("result", **self.best.result())   # patience goes on counting from here
        if self.best and self.best.stop_epoch is not None:
            self.start_epoch = self.config["train_epochs"] + 1   # killed after stopping: nothing left to do

    def metric(self, phase, name, epoch, value):
        self.history.append([phase, name, epoch, value])
        self.rt.emit("metric", phase=phase, name=name, epoch=epoch, value=value)

    # ---- loop ---------------------------------------------------------------------------------
    def run(self):
        cfg, rt = self.config, self.rt
        self.setup()
        epochs = cfg["train_epochs"]
        params = sum(p.numel() for p in self.module.parameters())
        rt.emit("result", batch_size=self.batch_size, iterations_per_epoch=self.steps_per_epoch,
                max_iter=self.max_iter, random_seed=self.seed, device=rt.describe(), parameters=params,
                world_size=rt.world_size)
        rt.emit("progress", value=(self.start_epoch - 1) / epochs, epoch=float(self.start_epoch - 1))
        last_val, last_train, speeds = {}, None, []
        self.last_val, self.validated_at = {}, None
        # DIGITS' test_interval: val_interval epochs in iterations, so 0.5 validates twice an epoch
        self.val_every = max(1, round(cfg["val_interval"] * self.steps_per_epoch)) if cfg["val_interval"] > 0 else 0
        end = self.best.stop_epoch if self.best and self.best.stop_epoch is not None else epochs
        for epoch in range(self.start_epoch, epochs + 1):
            started = time.perf_counter()
            last_train, images = self.train_epoch(epoch)
            speeds.append(images / max(1e-9, time.perf_counter() - started))
            print(f"epoch {epoch}: {speeds[-1]:.1f} images/s (this rank)", file=sys.stderr, flush=True)
            stopped = self.best is not None and self.best.stop_epoch is not None   # maybe mid-epoch
            final = epoch == epochs or stopped
            if "val" in self.eval_loaders and final and not stopped and self.validated_at != epoch:
                self.validate(epoch)
            last_val = self.last_val
            end = self.best.stop_epoch if stopped else epoch
            if final or due(epoch, cfg["snapshot_interval"]) or (self.best and self.best.epoch == epoch):
                self.save_snapshot(end)
            if stopped:
                break
        results = {"final_epoch": end}
        if self.best and self.best.stop_epoch is not None and self.best.stop_epoch < epochs:
            results.update(stopped_early=True, stop_reason=self.best.stop_reason())
        if last_train is not None:
            results["train_loss"] = last_train
        results.update({f"val_{k}": v for k, v in {**last_val, **self.eval_results.get("val", {})}.items()})
        if speeds:
            steady = speeds[1:] or speeds
            results["train_images_per_sec"] = rt.world_size * sum(steady) / len(steady)
        if "test" in self.eval_loaders:
            test = self.evaluate("test")
            results.update({f"test_{k}": v for k, v in {**test, **self.eval_results.get("test", {})}.items()})
        rt.emit("progress", value=1.0, epoch=float(end))
        rt.emit("result", **results)
        return results

    def train_epoch(self, epoch):
        cfg, rt = self.config, self.rt
        self.model.train()
        self.train_sampler.set_epoch(epoch)
        accum = cfg["batch_accumulation"]
        n = self.batches_per_epoch
        report_every = max(1, self.steps_per_epoch // REPORTS_PER_EPOCH)
        running = torch.zeros(2, dtype=torch.float64, device=rt.device)  # loss sum, images
        parts = None   # sums of the loss components the task type reports (detection), if any
        epoch_loss = torch.zeros(2, dtype=torch.float64, device=rt.device)
        steps, images, group_size, last_report = 0, 0, 1, None
        for i, (x, y) in enumerate(self.train_loader):
            pos = i % accum
            if pos == 0:
                group_size = min(accum, n - i)
            last_in_group = pos == group_size - 1
            x = x.to(rt.device, non_blocking=True)
            if rt.cuda:
                x = x.contiguous(memory_format=torch.channels_last)
            y = y.to(rt.device, non_blocking=True)
            sync = self.model.no_sync() if rt.distributed and not last_in_group else contextlib.nullcontext()
            with sync:
                with torch.autocast(rt.device.type, dtype=torch.float16, enabled=rt.amp):
                    loss, components = self.task.train_loss(self.model, self.network, self.module, x, y)
                self.scaler.scale(loss / group_size).backward()
            running[0] += loss.detach().double() * x.shape[0]
            running[1] += x.shape[0]
            images += x.shape[0]
            if components:
                self.loss_parts = list(components)
                values = torch.stack([v.detach().double() for v in components.values()]) * x.shape[0]
                parts = values if parts is None else parts + values
            if not last_in_group:
                continue
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.optimizer.zero_grad(set_to_none=True)
            used_iteration = self.scheduler.last_epoch
            self.scheduler.step()
            steps += 1
            if steps % report_every == 0 or i == n - 1:
                last_report = self._report(epoch, (i + 1) / n, running, used_iteration, parts)
                epoch_loss += running
                running.zero_()
                parts = None
            if "val" in self.eval_loaders and self.val_every and self.scheduler.last_epoch % self.val_every == 0:
                self.validate(round(self.scheduler.last_epoch / self.steps_per_epoch, 6))
                if self.best and self.best.stop_epoch is not None:
                    break   # patience used up: the run loop ends the training here
        epoch_loss = rt.all_sum(epoch_loss) if rt.distributed else epoch_loss
        return (float(epoch_loss[0] / epoch_loss[1]) if epoch_loss[1] else last_report), images

    def _report(self, epoch, fraction, running, iteration, parts=None):
        rt = self.rt
        totals = rt.all_sum(running.clone() if parts is None else torch.cat([running, parts])).tolist()
        loss = totals[0] / totals[1] if totals[1] else float("nan")
        point = round(epoch - 1 + fraction, 6)
        lr = float(self.config["learning_rate"]) * self.lr_factor(iteration)
        if not math.isfinite(loss) and not self.nan_warned:
            self.nan_warned = True
            # The base rate, not this step's: a policy may have lowered it since the run blew up.
            rt.emit("warning", message=f"training loss is {loss} at epoch {point:g}; the base learning rate "
                                       f"({float(self.config['learning_rate']):g}) is probably too high for "
                                       f"batch size {self.batch_size}")
        rt.emit("progress", value=point / self.config["train_epochs"], epoch=point)
        self.metric("train", "loss", point, loss)
        for name, value in zip(self.loss_parts, totals[2:]):
            self.metric("train", f"loss_{name}", point, value / totals[1] if totals[1] else float("nan"))
        self.metric("train", "learning_rate", point, lr)
        return loss

    def validate(self, point):
        """Validation at `point` epochs (fractional when val_interval is)."""
        point = int(point) if float(point).is_integer() else point
        self.last_val, self.validated_at = self.evaluate("val"), point
        for name, value in self.last_val.items():
            self.metric("val", name, point, value)
        if self.best and self.best.update(point, self.last_val) and not float(point).is_integer():
            self.save_snapshot(point)   # a mid-epoch best: its weights are gone by the end of the epoch

    @torch.no_grad()
    def evaluate(self, phase):
        rt = self.rt
        self.model.eval()
        rt.sync_buffers(self.module)
        evaluator = self.task.evaluator(int(self.info["num_classes"]), rt)
        for x, y in self.eval_loaders[phase]:
            x = x.to(rt.device, non_blocking=True)
            if rt.cuda:
                x = x.contiguous(memory_format=torch.channels_last)
            y = y.to(rt.device, non_blocking=True)
            with torch.autocast(rt.device.type, dtype=torch.float16, enabled=rt.amp):
                out = self.module(x)  # the bare module: DDP's forward would try to sync buffers
            evaluator.update(out, y)
        self.model.train()
        metrics, results = evaluator.compute()
        if metrics:
            self.eval_results[phase] = results
        return metrics

    def save_snapshot(self, epoch):
        rt = self.rt
        if not rt.is_main:
            return
        name = snapshot.snapshot_name(epoch)
        has_aux = bool(getattr(self.network, "aux", None))
        model, aux = snapshot.split_aux(snapshot.model_state(self.module), has_aux)
        state = {"epoch": epoch, "model": model, "aux_model": aux,
                 "optimizer": self.optimizer.state_dict(), "lr_scheduler": self.scheduler.state_dict(),
                 "scaler": self.scaler.state_dict() if rt.amp else None, "rng": snapshot.capture_rng(),
                 "random_seed": self.seed, "iteration": self.scheduler.last_epoch,
                 "transferred": sorted(self.transferred),
                 "framework": self.config["network"]["framework"], "preprocess": self.pre.to_json(),
                 "metrics": list(self.history), "best": self.best.state() if self.best else None}
        snapshot.save(os.path.join(self.job_dir, name), state)
        rt.emit("snapshot", epoch=epoch, file=name)
        best = self.best.epoch if self.best else None
        if best == epoch:   # announced once its snapshot exists: the server picks it for inference
            rt.emit("result", **self.best.result())
        early_stopping.prune(self.job_dir, self.config.get("snapshots_to_keep"), best)


def oom_message(batch_size):
    return (f"CUDA out of memory at batch size {batch_size}; try a smaller batch size "
            f"(e.g. {max(1, batch_size // 2)})")
