"""DetectNet's heads on any backbone (DIGITS' DetectNet: Tao, Barker and Sarathy, 2016), shared by the
standard networks detectnet and detectnet_small (digits/networks/torch_sources). The module follows the
detection network contract (docs/detection.md §2): forward(x, targets) in training returns
{"coverage": loss, "bbox": loss}; in eval mode it returns N×D×6 detections.

The backbone maps the image to a grid of cells. Per cell the network predicts
    coverage  one logit per object class (1..K-1): is the cell part of an object of that class
    bbox      the object's corners relative to the cell's centre, (x1 - cx, y1 - cy, x2 - cx, y2 - cy),
              in cells (DIGITS predicted pixels; cells keep the numbers near 1 for any stride)

Targets (DIGITS' DetectNetTransformation, simplified): a box covers the cells whose centre lies in
the box shrunk about its centre to COVERAGE_SCALE of its size, and always the cell holding the box's
centre, so small boxes are never lost between cell centres. Where boxes overlap, the smaller one gives
the cell's bbox target. Cells whose centre lies in a DontCare box (class 0) and not in an object count
for nothing in either loss; padding rows (class -1) are no boxes at all.

Losses: coverage — binary cross-entropy (DIGITS: L2 on the sigmoid), the object cells and the others
each averaged, so the few object cells weigh as much as the background; bbox — L1 of the corners over
the covered cells, each divided by its object's width/height (DIGITS' "obj-norm"), weight BBOX_WEIGHT
(DIGITS' loss_weight 2).

Inference: DIGITS clustered the candidate boxes of the covered cells with OpenCV's groupRectangles
(gridbox_min_cvg, min_height, eps parameters to tune per dataset). Here every cell and class whose
coverage exceeds CANDIDATE_THRESHOLD gives a box scored by the coverage, and torchvision's batched_nms
(per class, IoU nms_iou) keeps the best: nothing to tune, several classes for free, and traceable into
TorchScript/ONNX with a fixed N×D×6 output (the max_detections best per image, unused rows
[0, 0, 0, 0, 0, -1]). Written without a per-image loop so a trace works for any batch size.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import batched_nms

# the networks of older models import it from here
from digits.networks.local_weights import load_matching  # noqa: F401

COVERAGE_SCALE = 0.5
BBOX_WEIGHT = 2.0
PRIOR = 0.01                 # initial coverage probability (the background is most of the grid)
CANDIDATE_THRESHOLD = 0.01   # coverage a cell needs to become a candidate box
PRE_NMS = 1000               # candidates per image that go into NMS


class DetectNet(nn.Module):
    def __init__(self, backbone, channels, input_shape, num_classes, max_detections=100):
        super().__init__()
        self.backbone = backbone
        self.object_classes = max(1, int(num_classes) - 1)   # class 0 is DontCare: never predicted
        self.coverage = nn.Conv2d(channels, self.object_classes, kernel_size=1)
        self.bbox = nn.Conv2d(channels, 4, kernel_size=1)
        nn.init.normal_(self.coverage.weight, std=0.01)
        nn.init.constant_(self.coverage.bias, -math.log((1 - PRIOR) / PRIOR))
        nn.init.normal_(self.bbox.weight, std=0.01)
        nn.init.zeros_(self.bbox.bias)
        self.image_size = tuple(input_shape[1:])   # (H, W)
        # what preprocess.json's "postprocess" reports (digits.model.preprocess.network_postprocess)
        self.max_detections, self.score_threshold, self.nms_iou = int(max_detections), 0.5, 0.5

    def forward(self, x, targets=None):
        features = self.backbone(x)
        coverage, bbox = self.coverage(features), self.bbox(features)
        if self.training and targets is not None:
            return self.loss(coverage, bbox, targets)
        return self.detect(coverage, bbox)

    def _cells(self, grid, like):
        """Cell size (sy, sx) in pixels and cell centres cy (H'), cx (W')."""
        (height, width), (rows, cols) = self.image_size, grid
        sy, sx = height / rows, width / cols
        cy = (torch.arange(rows, dtype=like.dtype, device=like.device) + 0.5) * sy
        cx = (torch.arange(cols, dtype=like.dtype, device=like.device) + 0.5) * sx
        return sy, sx, cy, cx

    # ---- training ---------------------------------------------------------------------------
    def loss(self, coverage, bbox, targets):
        coverage, bbox, targets = coverage.float(), bbox.float(), targets.float()
        if targets.shape[1] == 0:   # no image of the batch has a box: one padding row keeps the shapes
            targets = torch.cat([targets, targets.new_tensor([-1.0, 0, 0, 0, 0]).expand(len(targets), 1, 5)], 1)
        sy, sx, cy, cx = self._cells(coverage.shape[-2:], coverage)
        cls = targets[..., 0].round().long()                               # N×M
        x1, y1, x2, y2 = targets[..., 1], targets[..., 2], targets[..., 3], targets[..., 4]
        px, py = cx[None, None, None, :], cy[None, None, :, None]          # 1×1×1×W', 1×1×H'×1
        edge = lambda a: a[..., None, None]                                # noqa: E731 (N×M → N×M×1×1)
        inside = (px >= edge(x1)) & (px <= edge(x2)) & (py >= edge(y1)) & (py <= edge(y2))
        half_w, half_h = edge((x2 - x1) * COVERAGE_SCALE / 2), edge((y2 - y1) * COVERAGE_SCALE / 2)
        mid_x, mid_y = edge((x1 + x2) / 2), edge((y1 + y2) / 2)
        central = ((px - mid_x).abs() <= half_w) & ((py - mid_y).abs() <= half_h)
        own_cell = ((px - mid_x).abs() <= sx / 2) & ((py - mid_y).abs() <= sy / 2)
        objects = edge(cls >= 1)
        cover = objects & (central | own_cell)                             # N×M×H'×W'
        ignored = (edge(cls == 0) & inside).any(1) & ~cover.any(1)         # DontCare cells: N×H'×W'

        classes = torch.arange(1, self.object_classes + 1, device=cls.device)
        of_class = cls[..., None] == classes                               # N×M×C
        target = (cover[:, :, None] & of_class[..., None, None]).any(1).float()   # N×C×H'×W'
        weight = (~ignored)[:, None].float().expand_as(target)
        bce = F.binary_cross_entropy_with_logits(coverage, target, reduction="none") * weight
        positive = target * weight
        negative = weight - positive
        coverage_loss = ((bce * positive).sum() / positive.sum().clamp(min=1)
                         + (bce * negative).sum() / negative.sum().clamp(min=1))

        area = torch.where(cover, edge((x2 - x1) * (y2 - y1)), math.inf)
        owner = area.argmin(1)                                             # N×H'×W': the smallest covering box
        covered = cover.any(1)
        pick = lambda v: v.gather(1, owner.flatten(1)).view_as(owner)      # noqa: E731 (N×M → N×H'×W')
        bx1, by1, bx2, by2 = pick(x1), pick(y1), pick(x2), pick(y2)
        gx, gy = cx.expand_as(owner), cy[:, None].expand_as(owner)
        truth = torch.stack([(bx1 - gx) / sx, (by1 - gy) / sy, (bx2 - gx) / sx, (by2 - gy) / sy], 1)
        size = torch.stack([(bx2 - bx1) / sx, (by2 - by1) / sy] * 2, 1).clamp(min=1e-3)
        l1 = ((bbox - truth).abs() / size).sum(1)                          # N×H'×W'
        bbox_loss = (l1 * covered).sum() / covered.sum().clamp(min=1) * BBOX_WEIGHT
        return {"coverage": coverage_loss, "bbox": bbox_loss}

    # ---- inference --------------------------------------------------------------------------
    def detect(self, coverage, bbox):
        coverage, bbox = coverage.float(), bbox.float()
        sy, sx, cy, cx = self._cells(coverage.shape[-2:], coverage)
        height, width = self.image_size
        gx, gy = cx[None, :].expand(len(cy), -1), cy[:, None].expand(-1, len(cx))
        boxes = torch.stack([(gx + bbox[:, 0] * sx).clamp(0, width), (gy + bbox[:, 1] * sy).clamp(0, height),
                             (gx + bbox[:, 2] * sx).clamp(0, width), (gy + bbox[:, 3] * sy).clamp(0, height)], -1)
        boxes = boxes.flatten(1, 2)                                        # N×(H'W')×4
        scores = torch.sigmoid(coverage).flatten(2)                        # N×C×(H'W')
        cells = scores.shape[2]
        candidates = min(PRE_NMS, scores.shape[1] * cells)
        top, index = scores.flatten(1).topk(candidates, dim=1)             # N×P, best first
        labels = (index // cells + 1).float()
        top_boxes = boxes.gather(1, (index % cells)[..., None].expand(-1, -1, 4))
        # image number of each candidate, made from the batch itself so a trace works for any batch size
        image = (torch.ones_like(top[:, :1]).cumsum(0) - 1).expand_as(top)
        groups = (image * (self.object_classes + 1) + labels).long().flatten()
        keep = batched_nms(top_boxes.flatten(0, 1), top.flatten(), groups, self.nms_iou)
        kept = torch.zeros_like(top.flatten(), dtype=torch.bool)
        kept[keep] = True
        top = torch.where(kept.view_as(top) & (top > CANDIDATE_THRESHOLD), top, torch.zeros_like(top))
        count = min(self.max_detections, candidates)
        best, order = top.topk(count, dim=1)
        used = (best > 0)[..., None]
        rows = torch.cat([top_boxes.gather(1, order[..., None].expand(-1, -1, 4)), best[..., None],
                          labels.gather(1, order)[..., None]], -1)
        unused = torch.tensor([0.0, 0.0, 0.0, 0.0, 0.0, -1.0], dtype=rows.dtype, device=rows.device)
        rows = torch.where(used, rows, unused)
        if count < self.max_detections:
            rows = torch.cat([rows, unused.expand(rows.shape[0], self.max_detections - count, 6)], 1)
        return rows
