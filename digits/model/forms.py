"""The model form: DIGITS' field names, so scripts written for DIGITS post the same fields."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, FloatField, IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import NumberRange, Optional, ValidationError

from digits.utils.forms import DataRequired, float_list, int_list

SOLVERS = [("SGD", "SGD (stochastic gradient descent)"), ("NESTEROV", "Nesterov's accelerated gradient"),
           ("ADAGRAD", "AdaGrad"), ("RMSPROP", "RMSprop"), ("ADADELTA", "AdaDelta"), ("ADAM", "Adam")]
LR_POLICIES = [("fixed", "Fixed"), ("step", "Step down"), ("multistep", "Step down (arbitrary steps)"),
               ("exp", "Exponential decay"), ("inv", "Inverse decay"), ("poly", "Polynomial decay"),
               ("sigmoid", "Sigmoid decay")]
METHODS = [("standard", "Standard network"), ("previous", "Previous network"), ("pretrained", "Pretrained model"),
           ("custom", "Custom network")]


def _list_of(parse, minimum, name):
    def check(form, field):
        try:
            values = parse(field.data)
        except ValueError:
            raise ValidationError(f"{name}: comma-separated numbers expected") from None
        if any(v < minimum or (minimum == 0 and v <= 0) for v in values):
            raise ValidationError(f"{name} must be {'positive' if minimum == 0 else f'at least {minimum}'}")
    return check


class ModelForm(FlaskForm):
    class Meta:
        csrf = False    # enforced for browsers in webapp, before any view runs

    model_name = StringField("Model name", validators=[DataRequired()])
    group_name = StringField("Group name", validators=[Optional()])
    dataset = SelectField("Dataset", validators=[DataRequired()], validate_choice=False)

    train_epochs = IntegerField("Training epochs", default=30, validators=[NumberRange(1, 100000)])
    snapshot_interval = FloatField("Snapshot interval (epochs)", default=1, validators=[NumberRange(min=0.001)])
    val_interval = FloatField("Validation interval (epochs)", default=1, validators=[NumberRange(min=0.001)])
    random_seed = IntegerField("Random seed", validators=[Optional(), NumberRange(0, 2**31 - 1)])
    batch_size = StringField("Batch size", validators=[Optional(), _list_of(int_list, 1, "batch size")],
                             description="Leave empty for the network's default; several values make a sweep")
    batch_accumulation = IntegerField("Batch accumulation", default=1, validators=[NumberRange(1, 1024)])

    solver_type = SelectField("Solver type", choices=SOLVERS, default="SGD")
    learning_rate = StringField("Base learning rate", default="0.01",
                                validators=[DataRequired(), _list_of(float_list, 0, "learning rate")])
    momentum = FloatField("Momentum", default=0.9, validators=[NumberRange(0, 1)])
    weight_decay = FloatField("Weight decay", default=0.0005, validators=[NumberRange(0, 1)])
    rms_decay = FloatField("RMS decay", default=0.99, validators=[NumberRange(0, 1)])
    lr_policy = SelectField("Policy", choices=LR_POLICIES, default="step")
    lr_step_size = FloatField("Step size (% of training)", default=33, validators=[Optional(), NumberRange(0.001, 100)])
    lr_step_gamma = FloatField("Gamma", default=0.1, validators=[Optional(), NumberRange(min=0)])
    lr_multistep_values = StringField("Step values (% of training)", default="50,85",
                                      validators=[Optional(), _list_of(float_list, 0, "step values")])
    lr_multistep_gamma = FloatField("Gamma", default=0.5, validators=[Optional(), NumberRange(min=0)])
    lr_exp_gamma = FloatField("Gamma", default=0.95, validators=[Optional(), NumberRange(min=0)])
    lr_inv_gamma = FloatField("Gamma", default=0.1, validators=[Optional(), NumberRange(min=0)])
    lr_inv_power = FloatField("Power", default=0.5, validators=[Optional(), NumberRange(min=0)])
    lr_poly_power = FloatField("Power", default=3, validators=[Optional(), NumberRange(min=0)])
    lr_sigmoid_step = FloatField("Step (% of training)", default=50, validators=[Optional(), NumberRange(0, 100)])
    lr_sigmoid_gamma = FloatField("Gamma", default=0.1, validators=[Optional(), NumberRange(min=0)])

    crop_size = IntegerField("Crop size", validators=[Optional(), NumberRange(1, 8192)])
    use_mean = SelectField("Subtract mean", choices=[("none", "None"), ("image", "Image"), ("pixel", "Pixel")],
                           default="image")
    shuffle = BooleanField("Shuffle training data", default=True, false_values=("false", "0", "", "off"))
    aug_flip = SelectField("Flipping", default="none", choices=[
        ("none", "None"), ("fliplr", "Horizontal"), ("flipud", "Vertical"), ("fliplrud", "Horizontal and/or vertical")])
    aug_quad_rot = SelectField("Quadrilateral rotation", default="none", choices=[
        ("none", "None"), ("rot90", "0, 90 or 270 degrees"), ("rot180", "0 or 180 degrees"), ("rotall", "0, 90, 180 or 270 degrees")])
    aug_rot = FloatField("Rotation (± degrees)", default=0, validators=[Optional(), NumberRange(0, 180)])
    aug_scale = FloatField("Rescale (stddev)", default=0, validators=[Optional(), NumberRange(0, 1)])
    aug_noise = FloatField("Noise (stddev)", default=0, validators=[Optional(), NumberRange(0, 1)])
    aug_contrast = FloatField("Contrast (factor)", default=0, validators=[Optional(), NumberRange(0, 5)])
    aug_whitening = BooleanField("Whitening", default=False)
    aug_hsv_use = BooleanField("HSV shifting", default=False)
    aug_hsv_h = FloatField("Hue", default=0.02, validators=[Optional(), NumberRange(0, 0.5)])
    aug_hsv_s = FloatField("Saturation", default=0.04, validators=[Optional(), NumberRange(0, 0.5)])
    aug_hsv_v = FloatField("Value", default=0.06, validators=[Optional(), NumberRange(0, 0.5)])

    select_gpu_count = IntegerField("Number of GPUs", default=1, validators=[Optional(), NumberRange(1, 64)])
    select_gpus = SelectMultipleField("Select which GPU(s)", choices=[], validate_choice=False)

    method = SelectField("Network", choices=METHODS, default="standard")
    framework = SelectField("Framework", choices=[("caffe", "Caffe prototxt"), ("torch", "PyTorch (Python)")],
                            default="caffe")
    standard_networks = SelectField("Standard network", choices=[], default="lenet", validate_choice=False)
    previous_networks = StringField("Previous model (job id)", validators=[Optional()])
    previous_network_snapshot = IntegerField("Snapshot epoch", validators=[Optional(), NumberRange(min=0)])
    pretrained_networks = StringField("Pretrained model (job id)", validators=[Optional()])
    pretrained_lr_multiplier = FloatField("Learning-rate multiplier for transferred layers", default=1.0,
                                          validators=[Optional(), NumberRange(0, 10)])
    custom_network = TextAreaField("Custom network", validators=[Optional()])

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
