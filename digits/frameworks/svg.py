"""A network graph drawn as a self-contained SVG: nodes in layers top to bottom (longest path from
the inputs), edges as curves with arrowheads. No graphviz needed."""
from xml.sax.saxutils import escape

BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 190, 44, 24, 34, 20

_COLORS = [  # (type keywords, fill)
    (("Convolution", "Conv", "Deconvolution"), "#cfe2ff"),
    (("Pooling", "Pool"), "#d1e7dd"),
    (("InnerProduct", "Linear"), "#ffe5d0"),
    (("ReLU", "Sigmoid", "TanH", "Tanh", "ELU", "Clip", "Hardtanh", "PReLU", "Swish", "SiLU"), "#fff3cd"),
    (("BatchNorm", "Scale", "Bias", "LRN", "LocalResponseNorm"), "#e2d9f3"),
    (("Concat", "Eltwise", "add", "cat"), "#f8d7da"),
    (("Data", "Input"), "#e9ecef"),
    (("Loss", "Accuracy", "Softmax"), "#f5c2c7"),
]


def _fill(kind):
    for keywords, color in _COLORS:
        if any(word in kind for word in keywords):
            return color
    return "#ffffff"


def _ranks(graph):
    ids = [n["id"] for n in graph["nodes"]]
    rank = {node_id: 0 for node_id in ids}
    incoming = {node_id: [] for node_id in ids}
    for a, b in graph["edges"]:
        if a in rank and b in rank:
            incoming[b].append(a)
    for node_id in ids:  # nodes come in execution order, so one pass settles the longest path
        if incoming[node_id]:
            rank[node_id] = max(rank[a] for a in incoming[node_id]) + 1
    return rank


def _shape_text(shape):
    return "×".join(str(d) for d in shape) if shape else ""


def render_svg(graph):
    rank = _ranks(graph)
    rows = {}
    for node in graph["nodes"]:
        rows.setdefault(rank[node["id"]], []).append(node)
    widest = max((len(r) for r in rows.values()), default=1)
    width = MARGIN * 2 + widest * BOX_W + (widest - 1) * GAP_X
    height = MARGIN * 2 + len(rows) * BOX_H + max(len(rows) - 1, 0) * GAP_Y
    pos = {}
    for r, nodes in rows.items():
        row_w = len(nodes) * BOX_W + (len(nodes) - 1) * GAP_X
        x0 = (width - row_w) / 2
        for i, node in enumerate(nodes):
            pos[node["id"]] = (x0 + i * (BOX_W + GAP_X), MARGIN + r * (BOX_H + GAP_Y))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif" font-size="11">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#6c757d"/></marker></defs>']
    for a, b in graph["edges"]:
        if a in pos and b in pos:
            x1, y1 = pos[a][0] + BOX_W / 2, pos[a][1] + BOX_H
            x2, y2 = pos[b][0] + BOX_W / 2, pos[b][1]
            if rank[b] - rank[a] > 1:  # skips rows: swing out to the right instead of crossing boxes
                lane = max(x1, x2) + BOX_W / 2 + GAP_X / 3
                path = (f"M{x1:.1f},{y1:.1f} Q{lane:.1f},{y1:.1f} {lane:.1f},{y1 + GAP_Y:.1f} "
                        f"L{lane:.1f},{y2 - GAP_Y:.1f} Q{lane:.1f},{y2:.1f} {x2:.1f},{y2:.1f}")
            else:
                mid = (y1 + y2) / 2
                path = f"M{x1:.1f},{y1:.1f} C{x1:.1f},{mid:.1f} {x2:.1f},{mid:.1f} {x2:.1f},{y2:.1f}"
            out.append(f'<path d="{path}" fill="none" stroke="#6c757d" marker-end="url(#arrow)"/>')
    for node in graph["nodes"]:
        x, y = pos[node["id"]]
        dashed = ' stroke-dasharray="4,3"' if node.get("status") in ("removed", "unused", "fused") else ""
        title = escape(f'{node["label"]} ({node["type"]}) {_shape_text(node.get("shape"))} {node.get("status", "")}')
        label = escape(node["label"] if len(node["label"]) <= 28 else node["label"][:27] + "…")
        detail = escape(f'{node["type"]}  {_shape_text(node.get("shape"))}'.strip())
        out.append(f'<g><title>{title}</title><rect x="{x:.1f}" y="{y:.1f}" width="{BOX_W}" height="{BOX_H}" rx="6" '
                   f'fill="{_fill(node["type"])}" stroke="#495057"{dashed}/>'
                   f'<text x="{x + BOX_W / 2:.1f}" y="{y + 18:.1f}" text-anchor="middle" font-weight="bold">{label}</text>'
                   f'<text x="{x + BOX_W / 2:.1f}" y="{y + 34:.1f}" text-anchor="middle" fill="#495057">{detail}</text></g>')
    out.append("</svg>")
    return "\n".join(out)
