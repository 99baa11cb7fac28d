"""The flow drawn as an SVG diagram, laid out on the server.

Layers by distance from the start (breadth first), top to bottom; nodes no path
reaches sit in a last row of their own. Within a layer, nodes follow the mean
position of the nodes that lead to them, so branches stay on their side. An edge
going down is a curve from the bottom of its source to the top of its target;
an edge going back up (a loop) runs round the right-hand side.
"""

from collections import deque
from dataclasses import dataclass

from markupsafe import Markup, escape

from app.programs import flow
from app.programs.services import NODE_TITLES, node_label

BOX_W, BOX_H = 200, 56
GAP_X, GAP_Y = 28, 60
PAD = 20
LOOP_MARGIN = 56  # room on the right for edges that go back up
TEXT_CHARS = 25


@dataclass
class Box:
    node_id: str
    kind: str
    title: str
    text: str
    state: str  # "error", "warning" or ""
    x: float = 0
    y: float = 0


def render(definition: dict, report: flow.Report | None = None) -> Markup:
    """The SVG of `definition`; nodes with an error in `report` are outlined red, with a warning amber."""
    nodes = [n for n in definition.get("nodes") or [] if isinstance(n, dict) and isinstance(n.get("id"), str)]
    if not nodes:
        return Markup('<p class="muted">This flow has no steps yet.</p>')
    boxes = {n["id"]: _box(n, report) for n in nodes}
    edges = [
        e
        for e in definition.get("edges") or []
        if isinstance(e, dict) and e.get("source") in boxes and e.get("target") in boxes
    ]
    layers = _layers(nodes, edges)
    width = _place(layers, boxes, edges)
    height = PAD * 2 + len(layers) * BOX_H + (len(layers) - 1) * GAP_Y
    loops = any(boxes[e["target"]].y <= boxes[e["source"]].y for e in edges)
    width += LOOP_MARGIN if loops else 0
    parts = [
        f'<svg class="flow-diagram" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" role="img" aria-label="Diagram of the flow">',
        '<defs><marker id="flow-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="flow-arrowhead"/></marker></defs>',
    ]
    parts += [_edge(e, boxes) for e in edges]
    parts += [_node(box) for box in boxes.values()]
    parts += [_label(e, boxes) for e in edges if e.get("branch") in flow.BRANCHES]
    parts.append("</svg>")
    return Markup("".join(parts))


def _box(node: dict, report: flow.Report | None) -> Box:
    kind = node.get("type") or "?"
    title = NODE_TITLES.get(kind, str(kind))
    label = node_label(node)
    text = label[len(title) + 2 :] if label.startswith(f"{title}: ") else ""
    text = text.rstrip("…")
    text = f"{text[:TEXT_CHARS]}…" if len(text) > TEXT_CHARS or label.endswith("…") else text
    problems = report.for_node(node["id"]) if report else []
    errors = report.errors if report else []
    state = "error" if any(p in errors for p in problems) else "warning" if problems else ""
    return Box(node["id"], kind, title, text, state)


def _layers(nodes: list[dict], edges: list[dict]) -> list[list[str]]:
    """Node ids by distance from the start; the unreached in a last layer, in list order."""
    outgoing: dict[str, list[str]] = {n["id"]: [] for n in nodes}
    for edge in edges:
        outgoing[edge["source"]].append(edge["target"])
    start = next((n["id"] for n in nodes if n.get("type") == "start"), None)
    depth: dict[str, int] = {}
    if start is not None:
        depth[start] = 0
        todo = deque([start])
        while todo:
            current = todo.popleft()
            for target in outgoing[current]:
                if target not in depth:
                    depth[target] = depth[current] + 1
                    todo.append(target)
    layers: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for node in nodes:
        if node["id"] in depth:
            layers[depth[node["id"]]].append(node["id"])
    unreached = [n["id"] for n in nodes if n["id"] not in depth]
    return layers + ([unreached] if unreached else [])


def _place(layers: list[list[str]], boxes: dict[str, Box], edges: list[dict]) -> float:
    """Set each box's x and y; returns the drawing's width."""
    parents: dict[str, list[str]] = {}
    for edge in sorted(edges, key=lambda e: e.get("branch") != "yes"):  # yes to the left of no
        parents.setdefault(edge["target"], []).append(edge["source"])
    widest = max(len(layer) for layer in layers)
    width = PAD * 2 + widest * BOX_W + (widest - 1) * GAP_X
    placed: dict[str, float] = {}
    for depth, layer in enumerate(layers):
        order = {node_id: i for i, node_id in enumerate(layer)}

        def pull(node_id, order=order):
            above = [placed[p] for p in parents.get(node_id, []) if p in placed]
            return (sum(above) / len(above) if above else float("inf"), order[node_id])

        if depth:
            layer.sort(key=pull)
        row = len(layer) * BOX_W + (len(layer) - 1) * GAP_X
        left = (width - row) / 2
        for i, node_id in enumerate(layer):
            box = boxes[node_id]
            box.x, box.y = left + i * (BOX_W + GAP_X), PAD + depth * (BOX_H + GAP_Y)
            placed[node_id] = box.x
    return width


def _edge(edge: dict, boxes: dict[str, Box]) -> str:
    source, target = boxes[edge["source"]], boxes[edge["target"]]
    branch = edge.get("branch") or ""
    if target.y > source.y:
        x1, y1 = source.x + BOX_W / 2 + _branch_shift(branch), source.y + BOX_H
        x2, y2 = target.x + BOX_W / 2, target.y
        bend = (y2 - y1) / 2
        path = f"M{x1:.0f},{y1:.0f} C{x1:.0f},{y1 + bend:.0f} {x2:.0f},{y2 - bend:.0f} {x2:.0f},{y2:.0f}"
    else:  # back up (a loop) or along the same row: round the right-hand side
        x1, y1 = source.x + BOX_W, source.y + BOX_H / 2
        x2, y2 = target.x + BOX_W, target.y + BOX_H / 2
        reach = max(x1, x2) + LOOP_MARGIN - 12
        path = f"M{x1:.0f},{y1:.0f} C{reach:.0f},{y1:.0f} {reach:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
    css = f"flow-edge flow-edge-{branch}" if branch else "flow-edge"
    ends = f'data-source="{escape(edge["source"])}" data-target="{escape(edge["target"])}"'
    return f'<path class="{css}" {ends} d="{path}" marker-end="url(#flow-arrow)"/>'


def _branch_shift(branch: str) -> float:
    """A condition's yes leaves from the left of its bottom edge, its no from the right."""
    return {"yes": -BOX_W / 5, "no": BOX_W / 5}.get(branch, 0)


def _label(edge: dict, boxes: dict[str, Box]) -> str:
    source, target = boxes[edge["source"]], boxes[edge["target"]]
    branch = edge["branch"]
    if target.y > source.y:
        x, y = source.x + BOX_W / 2 + _branch_shift(branch), source.y + BOX_H + 16
    else:
        x, y = source.x + BOX_W + 18, source.y + BOX_H / 2 - 12
    return (
        f'<g class="flow-branch flow-branch-{branch}"><rect x="{x - 15:.0f}" y="{y - 9:.0f}" width="30" height="17" '
        f'rx="8"/><text x="{x:.0f}" y="{y + 4:.0f}" text-anchor="middle">{branch}</text></g>'
    )


def _node(box: Box) -> str:
    state = f" flow-node-{box.state}" if box.state else ""
    title = escape(box.title)
    text = escape(box.text) if box.text else ""
    tip = escape(f"{box.title} ({box.node_id}){' — ' + box.text if box.text else ''}")
    return (
        f'<a href="#node-{escape(box.node_id)}" class="flow-node flow-node-{escape(box.kind)}{state}" '
        f'data-node-id="{escape(box.node_id)}"><title>{tip}</title>'
        f'<rect x="{box.x:.0f}" y="{box.y:.0f}" width="{BOX_W}" height="{BOX_H}" rx="9"/>'
        f'<rect class="flow-node-band" x="{box.x:.0f}" y="{box.y:.0f}" width="6" height="{BOX_H}" rx="3"/>'
        f'<text class="flow-node-title" x="{box.x + 16:.0f}" y="{box.y + 22:.0f}">{title}'
        f'<tspan class="flow-node-id" dx="6">{escape(box.node_id)}</tspan></text>'
        f'<text class="flow-node-text" x="{box.x + 16:.0f}" y="{box.y + 42:.0f}">{text}</text></a>'
    )
