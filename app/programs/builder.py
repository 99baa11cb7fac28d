"""What the builder page does to a draft flow: add, edit, connect, move and delete nodes.

Pure functions on a copy of the flow dict; the page saves the result as the draft
(services.update_program, validate=False) and shows the problems check_flow finds.
"""

import copy

from app.programs import flow

# Short readable ids: message_1, question_2, …
ID_PREFIX = {
    "send_message": "message",
    "ask_question": "question",
    "condition": "condition",
    "ai_coach": "coach",
    "wait": "wait",
    "award_badge": "badge",
    "end": "end",
}
ADDABLE = tuple(ID_PREFIX)  # one start per flow: it is never added or deleted
STEP_Y = 100  # a node's position follows its place in the list


class EditError(ValueError):
    """A change the builder refuses (an unknown node, deleting the start)."""


def node_ids(definition: dict) -> list[str]:
    return [n["id"] for n in definition.get("nodes") or []]


def find(definition: dict, node_id: str) -> dict:
    for node in definition.get("nodes") or []:
        if node.get("id") == node_id:
            return node
    raise EditError("This step is no longer in the flow (it was deleted).")


def default_data(kind: str, definition: dict, badge_ids: list[str]) -> dict:
    """A new node's data: filled in enough to make sense and pass validation where possible."""
    if kind == "send_message":
        return {"message": "Hi {first_name|there}!", "delay_hours": 0}
    if kind == "ask_question":
        return {"question": "How are you feeling today?", "choices": ["Great", "Okay", "Not great"]}
    if kind == "condition":
        questions = [n for n in definition.get("nodes") or [] if n.get("type") == "ask_question"]
        if questions:  # branch on the latest question's answer
            last = questions[-1]
            choices = (last.get("data") or {}).get("choices") or []
            value = choices[0] if choices else "yes"
            return {"field": f"answer.{last['id']}", "operator": "equals", "value": value}
        return {"field": "profile.goal", "operator": "exists"}
    if kind == "ai_coach":
        return {"goal": "Encourage them to take the next step"}
    if kind == "wait":
        return {"hours": 24}
    if kind == "award_badge":
        return {"badge_id": badge_ids[0] if badge_ids else ""}
    return {}


def add_node(definition: dict, kind: str, badge_ids: list[str]) -> tuple[dict, str]:
    """A copy of the flow with a new `kind` node before the closing end node; returns (flow, new id)."""
    if kind not in ADDABLE:
        raise EditError("Choose the kind of step to add.")
    new = copy.deepcopy(definition)
    nodes = new.setdefault("nodes", [])
    new.setdefault("edges", [])
    taken = set(node_ids(new))
    number = 1
    while f"{ID_PREFIX[kind]}_{number}" in taken:
        number += 1
    node_id = f"{ID_PREFIX[kind]}_{number}"
    at = len(nodes) - 1 if nodes and nodes[-1].get("type") == "end" and kind != "end" else len(nodes)
    nodes.insert(at, {"id": node_id, "type": kind, "position": {}, "data": default_data(kind, new, badge_ids)})
    _reposition(nodes)
    return new, node_id


def set_data(definition: dict, node_id: str, data: dict) -> dict:
    new = copy.deepcopy(definition)
    find(new, node_id)["data"] = data
    return new


def connect(definition: dict, node_id: str, targets: dict[str, str | None]) -> dict:
    """Replace the ways out of `node_id`: {"next": id} for a step, {"yes": id, "no": id} for a
    condition; an empty target removes that way out."""
    new = copy.deepcopy(definition)
    find(new, node_id)
    known = set(node_ids(new))
    edges = [e for e in new.get("edges") or [] if e.get("source") != node_id]
    taken = {e.get("id") for e in edges}
    for branch, target in targets.items():
        if not target:
            continue
        if target not in known:
            raise EditError(f"There is no step {target!r} to connect to.")
        edge_id = _free_id(f"e_{node_id}_{branch}", taken)
        taken.add(edge_id)
        edge = {"id": edge_id, "source": node_id, "target": target}
        if branch in flow.BRANCHES:
            edge["branch"] = branch
        edges.append(edge)
    new["edges"] = edges
    return new


def targets_of(definition: dict, node_id: str) -> dict[str, str]:
    """The current ways out of a node, as `connect` takes them."""
    out = {}
    for edge in definition.get("edges") or []:
        if edge.get("source") == node_id:
            out.setdefault(edge.get("branch") or "next", edge.get("target"))
    return out


def move(definition: dict, node_id: str, direction: str) -> dict:
    """Move a node one place up or down the list (its position follows)."""
    new = copy.deepcopy(definition)
    nodes = new["nodes"]
    index = nodes.index(find(new, node_id))
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(nodes):
        nodes[index], nodes[other] = nodes[other], nodes[index]
        _reposition(nodes)
    return new


def delete(definition: dict, node_id: str) -> dict:
    """Remove a node and every edge to or from it."""
    new = copy.deepcopy(definition)
    if find(new, node_id).get("type") == "start":
        raise EditError("The start step stays: every flow begins with it.")
    new["nodes"] = [n for n in new["nodes"] if n.get("id") != node_id]
    new["edges"] = [e for e in new.get("edges") or [] if node_id not in (e.get("source"), e.get("target"))]
    return new


def data_errors(report: flow.Report, definition: dict, node_id: str) -> dict[str, list[str]]:
    """The problems of one node's data fields, by data key (for the node's form)."""
    try:
        index = node_ids(definition).index(node_id)
    except ValueError:
        return {}
    prefix = f"flow_definition.nodes.{index}.data."
    errors: dict[str, list[str]] = {}
    for problem in report.errors:
        if problem.node_id == node_id and problem.field.startswith(prefix):
            errors.setdefault(problem.field[len(prefix) :], []).append(problem.message)
    return errors


def _free_id(wanted: str, taken: set) -> str:
    candidate, number = wanted[:60], 2
    while candidate in taken:
        candidate, number = f"{wanted[:56]}_{number}", number + 1
    return candidate


def _reposition(nodes: list[dict]) -> None:
    for index, node in enumerate(nodes):
        node["position"] = {"x": 0, "y": index * STEP_Y}
