"""The model form: DIGITS' field names, so scripts written for DIGITS post the same fields.

Everything training would refuse is refused here, with the same limits (digits.model.solver's
check_settings), so a bad value is a form error on its field rather than a job that fails later.
"""
import math

from flask import has_app_context
from flask_wtf import FlaskForm
from wtforms import BooleanField, FloatField, IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import Length, NumberRange, Optional, ValidationError

from digits.frameworks import registry
from digits.model import early_stopping
from digits.model.preprocess_spec import MAX_SIDE, MEAN_MODES
from digits.model.solver import SolverError, check_settings
from digits.status import Status
from digits.utils.checks import FLOAT32_MAX, too_large_for_float32
from digits.utils.forms import DataRequired, float_list, int_list
from digits.utils.routing import scheduler

MAX_SWEEP_JOBS = 100     # one job per (batch size, learning rate): a typo must not queue thousands
MAX_NAME_LENGTH = 200
FALSE_VALUES = ("false", "False", "0", "", "off", "no")   # an unticked box sends nothing; REST clients may send these

SOLVERS = [("SGD", "SGD (stochastic gradient descent)"), ("NESTEROV", "Nesterov's accelerated gradient"),
           ("ADAGRAD", "AdaGrad"), ("RMSPROP", "RMSprop"), ("ADADELTA", "AdaDelta"), ("ADAM", "Adam")]
LR_POLICIES = [("fixed", "Fixed"), ("step", "Step down"), ("multistep", "Step down (arbitrary steps)"),
               ("exp", "Exponential decay"), ("inv", "Inverse decay"), ("poly", "Polynomial decay"),
               ("sigmoid", "Sigmoid decay")]
# Fields that only matter for one choice of another field. The page hides them for the other choices,
# so a value left there (a typo, an earlier policy's) must not block Create: they are not validated then.
POLICY_FIELDS = {"step": ("lr_step_size", "lr_step_gamma"), "multistep": ("lr_multistep_values", "lr_multistep_gamma"),
                 "exp": ("lr_exp_gamma",), "inv": ("lr_inv_gamma", "lr_inv_power"), "poly": ("lr_poly_power",),
                 "sigmoid": ("lr_sigmoid_step", "lr_sigmoid_gamma")}
SOLVER_FIELDS = {"RMSPROP": ("rms_decay",)}
HSV_FIELDS = ("aug_hsv_h", "aug_hsv_s", "aug_hsv_v")
CONDITIONAL_FIELDS = frozenset(n for names in (*POLICY_FIELDS.values(), *SOLVER_FIELDS.values(), HSV_FIELDS)
                               for n in names)
METHODS = [("standard", "Standard network"), ("previous", "Previous network"), ("pretrained", "Pretrained model"),
           ("custom", "Custom network")]


def pretrained_models():
    """The server's usable pretrained models, newest first ([] outside a request, e.g. in scripts)."""
    if not has_app_context():
        return []
    jobs = scheduler().jobs.values()
    return sorted((j for j in jobs if j.category == "pretrained_models" and j.status == Status.DONE),
                  key=lambda j: j.created, reverse=True)


def _list_of(parse, minimum, name, maximum=None):
    def check(form, field):
        try:
            values = parse(field.data)
        except ValueError:
            raise ValidationError(f"{name}: comma-separated numbers expected") from None
        if not all(math.isfinite(v) for v in values):
            raise ValidationError(f"{name} must be finite numbers, got {field.data!r}")
        too_large = [v for v in values if abs(v) > FLOAT32_MAX]
        if too_large:
            raise ValidationError(too_large_for_float32(name, too_large[0]))
        if any(v < minimum or (minimum == 0 and v <= 0) for v in values):
            raise ValidationError(f"{name} must be {'positive' if minimum == 0 else f'at least {minimum}'}")
        if maximum is not None and any(v > maximum for v in values):
            raise ValidationError(f"{name} must be at most {maximum}")
    return check


def _increasing_percentages(form, field):
    # Caffe's multistep moves to the next step value only once the previous one is passed, and a
    # step at 100% or later never happens: DIGITS' rule, with the reason in the message.
    if field.errors:
        return   # not numbers: already said
    values = float_list(field.data)
    outside = [v for v in values if not 0 < v < 100]
    if outside:
        raise ValidationError(f"step values are percentages of the training: each must be between 0 and 100 "
                              f"(both excluded), got {', '.join(f'{v:g}' for v in outside)}")
    if any(b <= a for a, b in zip(values, values[1:])):
        raise ValidationError(f"step values must increase from one to the next (e.g. 50,85), got {field.data}")


def _open_unit_interval(form, field):
    if field.data is not None and not 0.0 < field.data < 1.0:
        raise ValidationError(f"{field.label.text} must be between 0 and 1 (both excluded), got {field.data}")


class ModelForm(FlaskForm):
    class Meta:
        csrf = False    # enforced for browsers in webapp, before any view runs

    model_name = StringField("Model name", validators=[DataRequired(), Length(max=MAX_NAME_LENGTH)],
                             render_kw={"maxlength": MAX_NAME_LENGTH})
    group_name = StringField("Group name", validators=[Optional(), Length(max=MAX_NAME_LENGTH)],
                             render_kw={"maxlength": MAX_NAME_LENGTH})
    dataset = SelectField("Dataset", validators=[DataRequired()], validate_choice=False)

    train_epochs = IntegerField("Training epochs", default=30, validators=[NumberRange(1, 100000)])
    snapshot_interval = FloatField("Snapshot interval (epochs)", default=1, validators=[NumberRange(0.001, 100000)])
    val_interval = FloatField("Validation interval (epochs)", default=1, validators=[NumberRange(0.001, 100000)])
    random_seed = IntegerField("Random seed", validators=[Optional(), NumberRange(0, 2**31 - 1)])
    # digits.model.early_stopping; empty: train every epoch, the task type's metric, keep every snapshot
    early_stopping_patience = IntegerField("Early stopping patience (validations)", validators=[Optional()],
                                           render_kw={"min": 1})
    best_metric = SelectField("Best snapshot by", choices=[], default="", validate_choice=False)
    snapshots_to_keep = IntegerField("Snapshots to keep", validators=[Optional()], render_kw={"min": 1})
    batch_size = StringField("Batch size", validators=[Optional(), _list_of(int_list, 1, "batch size", 1 << 20)],
                             description="Leave empty for the network's default; several values make a sweep")
    batch_accumulation = IntegerField("Batch accumulation", default=1, validators=[NumberRange(1, 1024)])

    solver_type = SelectField("Solver type", choices=SOLVERS, default="SGD")
    learning_rate = StringField("Base learning rate", default="0.01",
                                validators=[DataRequired(), _list_of(float_list, 0, "learning rate")])
    momentum = FloatField("Momentum", default=0.9, validators=[NumberRange(0, 1)])   # < 1: check_settings
    weight_decay = FloatField("Weight decay", default=0.0005, validators=[NumberRange(min=0)])
    rms_decay = FloatField("RMS decay", default=0.99, validators=[_open_unit_interval])
    lr_policy = SelectField("Policy", choices=LR_POLICIES, default="step")
    lr_step_size = FloatField("Step size (% of training)", default=33, validators=[Optional(), NumberRange(0.001, 100)])
    lr_step_gamma = FloatField("Gamma", default=0.1, validators=[Optional(), NumberRange(min=0)])
    lr_multistep_values = StringField("Step values (% of training)", default="50,85",
                                      validators=[Optional(), _list_of(float_list, 0, "step values"),
                                                  _increasing_percentages])
    lr_multistep_gamma = FloatField("Gamma", default=0.5, validators=[Optional(), NumberRange(min=0)])
    lr_exp_gamma = FloatField("Gamma", default=0.95, validators=[Optional(), NumberRange(min=0)])
    lr_inv_gamma = FloatField("Gamma", default=0.1, validators=[Optional(), NumberRange(min=0)])
    lr_inv_power = FloatField("Power", default=0.5, validators=[Optional(), NumberRange(min=0)])
    lr_poly_power = FloatField("Power", default=3, validators=[Optional(), NumberRange(min=0)])
    lr_sigmoid_step = FloatField("Step (% of training)", default=50, validators=[Optional(), NumberRange(0.001, 100)])
    lr_sigmoid_gamma = FloatField("Gamma", default=0.1, validators=[Optional(), NumberRange(min=0)])

    crop_size = IntegerField("Crop size", validators=[Optional(), NumberRange(1, MAX_SIDE)])
    use_mean = SelectField("Subtract mean", choices=[(mode, mode.capitalize()) for mode in MEAN_MODES],
                           default="image")
    shuffle = BooleanField("Shuffle training data", default=True, false_values=FALSE_VALUES)
    aug_flip = SelectField("Flipping", default="none", choices=[
        ("none", "None"), ("fliplr", "Horizontal"), ("flipud", "Vertical"), ("fliplrud", "Horizontal and/or vertical")])
    aug_quad_rot = SelectField("Quadrilateral rotation", default="none", choices=[
        ("none", "None"), ("rot90", "0, 90 or 270 degrees"), ("rot180", "0 or 180 degrees"), ("rotall", "0, 90, 180 or 270 degrees")])
    aug_rot = FloatField("Rotation (± degrees)", default=0, validators=[Optional(), NumberRange(0, 180)])
    aug_scale = FloatField("Rescale (stddev)", default=0, validators=[Optional(), NumberRange(0, 1)])
    aug_noise = FloatField("Noise (stddev)", default=0, validators=[Optional(), NumberRange(0, 1)])
    aug_contrast = FloatField("Contrast (factor)", default=0, validators=[Optional(), NumberRange(0, 5)])
    aug_whitening = BooleanField("Whitening", default=False, false_values=FALSE_VALUES)
    aug_hsv_use = BooleanField("HSV shifting", default=False, false_values=FALSE_VALUES)
    aug_hsv_h = FloatField("Hue", default=0.02, validators=[Optional(), NumberRange(0, 0.5)])
    aug_hsv_s = FloatField("Saturation", default=0.04, validators=[Optional(), NumberRange(0, 0.5)])
    aug_hsv_v = FloatField("Value", default=0.06, validators=[Optional(), NumberRange(0, 0.5)])

    select_gpu_count = IntegerField("Number of GPUs", default=1, validators=[Optional(), NumberRange(1, 64)])
    select_gpus = SelectMultipleField("Select which GPU(s)", choices=[], validate_choice=False)
    # DIGITS' single-GPU form field: a GPU id, or "next" for whichever is free first.
    select_gpu = StringField("GPU", validators=[Optional()])

    method = SelectField("Network", choices=METHODS, default="standard")
    framework = SelectField("Framework", choices=[], default=registry.DEFAULT)   # choices: __init__ (plugins too)
    standard_networks = SelectField("Standard network", choices=[], default="lenet", validate_choice=False)
    previous_networks = StringField("Previous model (job id)", validators=[Optional()])
    previous_network_snapshot = IntegerField("Snapshot epoch", validators=[Optional(), NumberRange(min=0)])
    # A pick list of the server's pretrained models; any id is still accepted (REST clients post one),
    # the view checks it names a pretrained model.
    pretrained_networks = SelectField("Pretrained model", choices=[], validators=[Optional()], validate_choice=False)
    pretrained_lr_multiplier = FloatField("Learning-rate multiplier for transferred layers", default=1.0,
                                          validators=[Optional(), NumberRange(0, 10)])
    custom_network = TextAreaField("Custom network", validators=[Optional()])
    # DIGITS' starting weights for a custom network: a weights file on the server (allowed roots) or a
    # model's snapshot (as /models/customize answers it); checked by the view.
    custom_network_snapshot = StringField("Pretrained weights (server path)", validators=[Optional()])

    server_gpus = ()   # the scheduler's GPU indices, set by the view

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.framework.choices = [(engine.name, engine.title) for engine in registry.frameworks()]
        task_types = [c[0] for c in self.task_type.choices] if "task_type" in self._fields else ["classification"]
        self.best_metric.choices = early_stopping.metric_choices(task_types)
        self.pretrained_networks.choices = [("", "— choose a pretrained model —")] + [
            (job.id, f"{job.name} ({job.id})") for job in pretrained_models()]

    def validate(self, extra_validators=None):
        super().validate(extra_validators)
        self._check_finite()
        self._forget_unused_fields()
        self._check_solver()
        self._check_lr_policy()
        self._check_sweep()
        return not self.errors

    def _check_finite(self):
        # NumberRange lets inf through ("inf" >= 0); training would refuse it much later.
        for field in self:
            if isinstance(field, FloatField) and field.data is not None and not field.errors \
                    and not math.isfinite(field.data):
                field.errors.append("must be a finite number")

    def _check_lr_policy(self):
        """The policy's curve must stay a finite rate (a huge gamma overflows): said now, not as a job error."""
        if self.learning_rate.errors or any(self[n].errors for n in POLICY_FIELDS.get(self.lr_policy.data, ())):
            return
        from digits.model.lr_policy import LRPolicyError, lr_curve
        for rate in float_list(self.learning_rate.data):
            try:   # lr_curve turns overflows and non-finite rates into LRPolicyError itself
                lr_curve(self.lr_policy_params(), rate, max_iter=1000)
            except LRPolicyError as exc:
                self.lr_policy.errors = list(self.lr_policy.errors) + [str(exc)]
                return

    def unused_fields(self):
        """Names of the fields the chosen LR policy, solver and HSV switch leave unused (hidden on the page)."""
        chosen = set(POLICY_FIELDS.get(self.lr_policy.data, ())) | set(SOLVER_FIELDS.get(self.solver_type.data, ()))
        if self.aug_hsv_use.data:
            chosen.update(HSV_FIELDS)
        return sorted(CONDITIONAL_FIELDS - chosen)

    def _forget_unused_fields(self):
        for name in self.unused_fields():
            field = self[name]
            if field.errors:   # an unusable value nobody will use: back to the default, no error
                field.errors, field.data = [], field.default

    def _check_solver(self):
        """The limits training applies (solver.check_settings), for each learning rate of a sweep."""
        fields = (self.solver_type, self.learning_rate, self.momentum, self.weight_decay, self.rms_decay)
        if any(f.errors for f in fields):
            return   # already reported on the field
        for rate in float_list(self.learning_rate.data):
            try:
                check_settings(self.solver_type.data, rate, self.momentum.data, self.weight_decay.data,
                               self.rms_decay.data)
            except SolverError as exc:
                getattr(self, exc.field or "solver_type").errors.append(str(exc))
                return

    def sweep(self):
        """(batch sizes, learning rates) of the jobs to create: one job per pair."""
        return int_list(self.batch_size.data) or [None], float_list(self.learning_rate.data)

    def _check_sweep(self):
        if self.batch_size.errors or self.learning_rate.errors:
            return
        sizes, rates = self.sweep()
        count = len(sizes) * len(rates)
        if count > MAX_SWEEP_JOBS:
            field = self.learning_rate if len(rates) >= len(sizes) else self.batch_size
            field.errors.append(f"this sweep would create {count} jobs ({len(sizes)} batch sizes × {len(rates)} "
                                f"learning rates); at most {MAX_SWEEP_JOBS}")

    def _task_type(self):
        return self.task_type.data if "task_type" in self._fields else "classification"   # generic forms have one

    def validate_early_stopping_patience(self, field):
        try:
            early_stopping.check_count("early stopping patience", field.data, "no early stopping")
        except early_stopping.SettingsError as exc:
            raise ValidationError(str(exc)) from None

    def validate_snapshots_to_keep(self, field):
        try:
            early_stopping.check_count("snapshots to keep", field.data, "keep every snapshot")
        except early_stopping.SettingsError as exc:
            raise ValidationError(str(exc)) from None

    def validate_best_metric(self, field):
        if not early_stopping.metric_names(self._task_type()):
            return   # an unknown task type: its own field says so
        try:
            early_stopping.resolve_metric(self._task_type(), field.data)
        except early_stopping.SettingsError as exc:
            raise ValidationError(str(exc)) from None

    def best_snapshot_settings(self):
        """The train config's best-snapshot settings (digits.model.early_stopping), best_metric by its name."""
        metric = (self.best_metric.data or "").strip()
        return {"early_stopping_patience": self.early_stopping_patience.data,
                "best_metric": early_stopping.resolve_metric(self._task_type(), metric) if metric else None,
                "snapshots_to_keep": self.snapshots_to_keep.data}

    def validate_select_gpus(self, field):
        wanted = []
        for value in field.data or []:
            try:
                wanted.append(int(str(value).strip()))
            except ValueError:
                raise ValidationError(f"GPU {value!r} is not a GPU number") from None
        if wanted and not self.server_gpus:
            raise ValidationError("this server has no GPU; leave the GPU selection empty to train on the CPU")
        unknown = sorted(set(wanted) - set(self.server_gpus))
        if unknown:
            raise ValidationError(f"no GPU {', '.join(map(str, unknown))} on this server "
                                  f"(it has {', '.join(map(str, self.server_gpus))})")

    def validate_select_gpu(self, field):
        value = (field.data or "").strip()
        if not value or value == "next":
            return
        try:
            gpu = int(value)
        except ValueError:
            raise ValidationError(f"GPU {value!r} is not a GPU number (or \"next\")") from None
        if gpu not in self.server_gpus:
            raise ValidationError(f"no GPU {gpu} on this server" + (
                f" (it has {', '.join(map(str, self.server_gpus))})" if self.server_gpus else
                "; it has none: use \"next\" or leave it empty to train on the CPU"))

    def validate_select_gpu_count(self, field):
        # A CPU-only server ignores the count (DIGITS does too): training takes one CPU slot.
        if self.server_gpus and field.data and field.data > len(self.server_gpus):
            raise ValidationError(f"this server has {len(self.server_gpus)} GPU(s), {field.data} requested")

    def gpu_request(self):
        """The train task's resources: chosen GPU ids, else a count (one CPU slot on a CPU-only server)."""
        if self.select_gpus.data:
            return {"gpu_ids": sorted({int(str(g).strip()) for g in self.select_gpus.data})}
        single = (self.select_gpu.data or "").strip()
        if single == "next":
            return {"gpu": 1}
        if single:
            return {"gpu_ids": [int(single)]}
        return {"gpu": (self.select_gpu_count.data or 1) if self.server_gpus else 1}

    def validate_custom_network(self, field):
        if self.method.data == "custom" and not (field.data or "").strip():
            raise ValidationError("write or paste a network definition")

    def validate_previous_networks(self, field):
        if self.method.data == "previous" and not field.data:
            raise ValidationError("choose the model to start from")

    def validate_pretrained_networks(self, field):
        if self.method.data == "pretrained" and not field.data:
            raise ValidationError("choose the pretrained model")

    def lr_policy_params(self):
        policy = self.lr_policy.data
        params = {"policy": policy}
        if policy == "step":
            params.update(step_size=self.lr_step_size.data, gamma=self.lr_step_gamma.data)
        elif policy == "multistep":
            params.update(step_values=float_list(self.lr_multistep_values.data), gamma=self.lr_multistep_gamma.data)
        elif policy == "exp":
            params.update(gamma=self.lr_exp_gamma.data)
        elif policy == "inv":
            params.update(gamma=self.lr_inv_gamma.data, power=self.lr_inv_power.data)
        elif policy == "poly":
            params.update(power=self.lr_poly_power.data)
        elif policy == "sigmoid":
            params.update(step_size=self.lr_sigmoid_step.data, gamma=self.lr_sigmoid_gamma.data)
        return {k: v for k, v in params.items() if v is not None}

    def augmentation(self):
        return {"flip": self.aug_flip.data, "quad_rot": self.aug_quad_rot.data, "rot": self.aug_rot.data or 0,
                "scale": self.aug_scale.data or 0, "noise": self.aug_noise.data or 0,
                "contrast": self.aug_contrast.data or 0, "whitening": bool(self.aug_whitening.data),
                "hsv_use": bool(self.aug_hsv_use.data), "hsv_h": self.aug_hsv_h.data or 0,
                "hsv_s": self.aug_hsv_s.data or 0, "hsv_v": self.aug_hsv_v.data or 0}
