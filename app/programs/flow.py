"""The flow of a program: nodes and edges as in creator-hub-api "Program Builder API",
how it is validated, and how it is walked.

A node is {"id", "type", "position": {"x", "y"}, "data": {...}}; an edge is
{"id", "source", "target"} plus "branch": "yes"|"no" on the two edges out of a
condition. Node types and their data:

- start: {}
- send_message: {"message", "delay_hours"?}: the text may hold {variables}
- ask_question: {"question", "choices"?: [..], "save_to"?: "profile"|"memory", "save_as"?: key}
- condition: {"field", "operator", "value"?}: field is answer.<node id>, profile.<key>,
  attribute.<key>, memory.<key> or tag; the "yes" edge is taken when it holds
- ai_coach: {"goal"}: one AI message towards the goal, from the creator's knowledge
- wait: {"hours"} or {"until_time": "HH:MM", "weekday"?: "monday"…} in the user's time zone
- award_badge: {"badge_id", "message"?}
- end: {"message"?}

A step with no edge out is the last one: the program is complete once it has run (as the
source's example program, start -> message, ends after its message). Only the start, a
condition and a wait must lead somewhere; an edge to a node that is not there is an error.

`validate` returns every problem as {"node_id"?, "edge_id"?, "field", "message"}
so the API can answer 422 with them and the builder can show each on its node.
"""

import re
from collections import deque
from dataclasses import dataclass, field

NODE_TYPES = ("start", "send_message", "ask_question", "condition", "ai_coach", "wait", "award_badge", "end")
MAX_NODES = 200
MAX_EDGES = 400
MAX_TEXT = 1600  # ten SMS segments
MAX_DELAY_HOURS = 24 * 365
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
TIME_PATTERN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
OPERATORS = ("equals", "not_equals", "contains", "in", "exists", "not_exists", "greater_than", "less_than")
FIELD_PATTERN = re.compile(r"^(answer\.[A-Za-z0-9_-]{1,64}|(profile|attribute|memory)\.[A-Za-z0-9_]{1,60}|tag)$")
SAVE_AS_PATTERN = re.compile(r"^[A-Za-z0-9_]{1,60}$")
VARIABLE = re.compile(r"\{([^{}]*)\}")
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_-]+)?$")
BRANCHES = ("yes", "no")
# Nodes after which the flow stops until time passes or the user answers: a cycle needs one.
_PAUSING = ("wait", "ask_question")


@dataclass
class Problem:
    message: str
    field: str
    node_id: str | None = None
    edge_id: str | None = None

    def as_dict(self) -> dict:
        out = {"field": self.field, "message": self.message}
        if self.node_id is not None:
            out["node_id"] = self.node_id
        if self.edge_id is not None:
            out["edge_id"] = self.edge_id
        return out


@dataclass
class Report:
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors

    def for_node(self, node_id: str) -> list[Problem]:
        return [p for p in self.errors + self.warnings if p.node_id == node_id]

    def as_dict(self) -> dict:
        return {
            "valid": self.valid,
            "errors": [p.as_dict() for p in self.errors],
            "warnings": [p.as_dict() for p in self.warnings],
        }


def empty_flow() -> dict:
    return {
        "nodes": [
            {"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
            {"id": "end", "type": "end", "position": {"x": 0, "y": 200}, "data": {}},
        ],
        "edges": [{"id": "e_start_end", "source": "start", "target": "end"}],
    }


# --- Validation ------------------------------------------------------------------


def validate(flow, known_badges: set[str] | None = None, known_variables: set[str] | None = None) -> Report:
    """Every problem of `flow`. `known_badges` (ids) checks award_badge nodes; `known_variables`
    (keys some user has) turns a variable nobody has into a warning."""
    report = Report()
    if not isinstance(flow, dict) or not isinstance(flow.get("nodes"), list) or not isinstance(flow.get("edges"), list):
        report.errors.append(
            Problem("A flow is an object with a list of nodes and a list of edges.", "flow_definition")
        )
        return report
    nodes, edges = flow["nodes"], flow["edges"]
    if len(nodes) > MAX_NODES or len(edges) > MAX_EDGES:
        report.errors.append(
            Problem(
                f"A program has at most {MAX_NODES} nodes and {MAX_EDGES} edges; this one has "
                f"{len(nodes)} and {len(edges)}. Split it into several programs.",
                "flow_definition.nodes",
            )
        )
        return report
    by_id = _check_nodes(nodes, report, known_badges, known_variables)
    outgoing = _check_edges(edges, by_id, report)
    if report.errors:
        return report  # the graph checks need well-formed nodes and edges
    _check_shape(by_id, outgoing, report)
    return report


def _check_nodes(nodes, report, known_badges, known_variables) -> dict:
    by_id: dict[str, dict] = {}
    starts = 0
    saved_keys = {
        n.get("data", {}).get("save_as") for n in nodes if isinstance(n, dict) and isinstance(n.get("data"), dict)
    }
    for index, node in enumerate(nodes):
        where = f"flow_definition.nodes.{index}"
        if not isinstance(node, dict):
            report.errors.append(Problem("A node is an object.", where))
            continue
        node_id = node.get("id")
        if not isinstance(node_id, str) or not ID_PATTERN.match(node_id):
            report.errors.append(Problem("A node id is 1 to 64 letters, digits, _ or -.", f"{where}.id"))
            continue
        if node_id in by_id:
            report.errors.append(Problem(f"The node id {node_id!r} is used twice.", f"{where}.id", node_id))
            continue
        by_id[node_id] = node
        kind = node.get("type")
        if kind not in NODE_TYPES:
            report.errors.append(
                Problem(f"Unknown node type {kind!r}; use one of {', '.join(NODE_TYPES)}.", f"{where}.type", node_id)
            )
            continue
        starts += kind == "start"
        data = node.get("data") if node.get("data") is not None else {}
        if not isinstance(data, dict):
            report.errors.append(Problem("A node's data is an object.", f"{where}.data", node_id))
            continue
        position = node.get("position")
        if position is not None and not (
            isinstance(position, dict) and all(isinstance(position.get(k, 0), int | float) for k in ("x", "y"))
        ):
            report.errors.append(Problem("A position is {x, y} numbers.", f"{where}.position", node_id))
        for problem in _check_data(kind, data, known_badges):
            problem.field, problem.node_id = f"{where}.data.{problem.field}", node_id
            report.errors.append(problem)
        text_key, text = _template_of(kind, data)
        for name in _variables_in(text):
            if not VARIABLE_NAME.match(name):
                report.errors.append(
                    Problem(
                        f"{{{name}}} is not a variable; use names like {{first_name}} or {{profile.goal}}.",
                        f"{where}.data.{text_key}",
                        node_id,
                    )
                )
            elif name not in NODE_VARIABLES.get(kind, ()) and not _someone_has(name, known_variables, saved_keys):
                report.warnings.append(
                    Problem(
                        f"No user has {{{name}}} yet: it is left blank unless you give a fallback "
                        f"like {{{name}|there}}.",
                        f"{where}.data.{text_key}",
                        node_id,
                    )
                )
    if starts != 1:
        report.errors.append(
            Problem(f"A flow has exactly one start node; this one has {starts}.", "flow_definition.nodes")
        )
    return by_id


def _text(data, key, problems, required=True, limit=MAX_TEXT):
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.append(Problem("Write something here.", key))
        return
    if not isinstance(value, str):
        problems.append(Problem("Must be text.", key))
    elif len(value) > limit:
        problems.append(Problem(f"At most {limit} characters ({len(value)} now).", key))


def _hours(data, key, problems, required=False, minimum=0.0):
    value = data.get(key)
    if value is None:
        if required:
            problems.append(Problem("Give a number of hours.", key))
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.append(Problem("Must be a number of hours.", key))
    elif value < minimum or (minimum > 0 and value == 0):
        problems.append(Problem("Must be more than 0 hours." if minimum else "Must not be negative.", key))
    elif value > MAX_DELAY_HOURS:
        problems.append(Problem(f"At most {MAX_DELAY_HOURS} hours (a year).", key))


def _check_data(kind: str, data: dict, known_badges) -> list[Problem]:
    problems: list[Problem] = []
    if kind == "send_message":
        _text(data, "message", problems)
        _hours(data, "delay_hours", problems)
    elif kind == "ask_question":
        _text(data, "question", problems)
        choices = data.get("choices")
        if choices is not None and (
            not isinstance(choices, list)
            or not all(isinstance(c, str) and c.strip() and len(c) <= 100 for c in choices)
            or len(choices) > 10
            or len({c.strip().lower() for c in choices}) != len(choices)
        ):
            problems.append(Problem("Choices are up to 10 different texts of at most 100 characters.", "choices"))
        if data.get("save_to") not in (None, "", "profile", "memory"):
            problems.append(Problem("Save answers to the profile or to memory.", "save_to"))
        save_as = data.get("save_as")
        if save_as not in (None, "") and not (isinstance(save_as, str) and SAVE_AS_PATTERN.match(save_as)):
            problems.append(Problem("A key is letters, digits and _ (like goal or weekly_km).", "save_as"))
        if data.get("save_to") and not save_as:
            problems.append(Problem("Name the key the answer is saved as.", "save_as"))
    elif kind == "condition":
        if not isinstance(data.get("field"), str) or not FIELD_PATTERN.match(data["field"]):
            problems.append(
                Problem("Branch on answer.<node id>, profile.<key>, attribute.<key>, memory.<key> or tag.", "field")
            )
        if data.get("operator") not in OPERATORS:
            problems.append(Problem(f"Use one of {', '.join(OPERATORS)}.", "operator"))
        elif data["operator"] not in ("exists", "not_exists") and data.get("value") in (None, ""):
            problems.append(Problem("Give the value to compare with.", "value"))
        elif data["operator"] in ("greater_than", "less_than") and not _is_number(data.get("value")):
            problems.append(Problem("Compare with a number.", "value"))
    elif kind == "ai_coach":
        _text(data, "goal", problems, limit=500)
    elif kind == "wait":
        if data.get("hours") is None and not data.get("until_time"):
            problems.append(Problem("Wait a number of hours, or until a time of day.", "hours"))
        if data.get("hours") is not None and data.get("until_time"):
            problems.append(Problem("Wait either a number of hours or until a time, not both.", "until_time"))
        _hours(data, "hours", problems, minimum=0.0001)
        if data.get("until_time") and not (
            isinstance(data["until_time"], str) and TIME_PATTERN.match(data["until_time"])
        ):
            problems.append(Problem("A time of day like 08:30.", "until_time"))
        if data.get("weekday") not in (None, "") and data.get("weekday") not in WEEKDAYS:
            problems.append(Problem("A weekday like monday.", "weekday"))
        if data.get("weekday") and not data.get("until_time"):
            problems.append(Problem("Give the time of day on that weekday.", "until_time"))
    elif kind == "award_badge":
        badge_id = data.get("badge_id")
        if not badge_id:
            problems.append(Problem("Choose the badge to award.", "badge_id"))
        elif known_badges is not None and str(badge_id) not in known_badges:
            problems.append(Problem("This badge does not exist (it may have been deleted).", "badge_id"))
        _text(data, "message", problems, required=False)
    elif kind == "end":
        _text(data, "message", problems, required=False)
    return problems


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, bool)


TEMPLATE_KEYS = {"send_message": "message", "ask_question": "question", "award_badge": "message", "end": "message"}
BUILTIN_VARIABLES = ("first_name", "name", "program_name", "creator_name")
# Variables a node type supplies itself: an award's message can name the badge it gives.
NODE_VARIABLES = {"award_badge": ("badge",)}


def _template_of(kind: str, data: dict) -> tuple[str | None, str]:
    key = TEMPLATE_KEYS.get(kind)
    text = data.get(key) if key else None
    return key, text if isinstance(text, str) else ""


def _variables_in(text: str) -> list[str]:
    """Variable names in a template, without their |fallback."""
    return [m.group(1).split("|")[0].strip() for m in VARIABLE.finditer(text)]


def _someone_has(name: str, known_variables, saved_keys) -> bool:
    """Whether some user has a value for `name` (None: not checked), or the flow itself asks for it."""
    if known_variables is None or name in BUILTIN_VARIABLES:
        return True
    key = name.split(".")[-1]
    return key in saved_keys or key in known_variables or name in known_variables


def _check_edges(edges, by_id: dict, report: Report) -> dict[str, list[dict]]:
    outgoing: dict[str, list[dict]] = {node_id: [] for node_id in by_id}
    seen: set[str] = set()
    for index, edge in enumerate(edges):
        where = f"flow_definition.edges.{index}"
        if not isinstance(edge, dict):
            report.errors.append(Problem("An edge is an object.", where))
            continue
        edge_id, source, target = edge.get("id"), edge.get("source"), edge.get("target")
        if not isinstance(edge_id, str) or not ID_PATTERN.match(edge_id):
            report.errors.append(Problem("An edge id is 1 to 64 letters, digits, _ or -.", f"{where}.id"))
            continue
        if edge_id in seen:
            report.errors.append(Problem(f"The edge id {edge_id!r} is used twice.", f"{where}.id", edge_id=edge_id))
            continue
        seen.add(edge_id)
        for end, value in (("source", source), ("target", target)):
            if value not in by_id:
                report.errors.append(
                    Problem(
                        f"This edge's {end} {value!r} is not a node of the flow.",
                        f"{where}.{end}",
                        node_id=source if end == "target" and source in by_id else None,
                        edge_id=edge_id,
                    )
                )
        if source in by_id and target in by_id:
            if edge.get("branch") not in (None, *BRANCHES):
                report.errors.append(Problem("A branch is yes or no.", f"{where}.branch", source, edge_id))
            outgoing[source].append(edge)
    return outgoing


def _check_shape(by_id: dict, outgoing: dict, report: Report) -> None:
    incoming = {node_id: 0 for node_id in by_id}
    for edges in outgoing.values():
        for edge in edges:
            incoming[edge["target"]] += 1
    for node_id, node in by_id.items():
        kind, out = node["type"], outgoing[node_id]
        where = f"node:{node_id}"
        if kind == "start" and incoming[node_id]:
            report.errors.append(Problem("Nothing leads back to the start.", where, node_id))
        if kind == "end":
            if out:
                report.errors.append(Problem("An end node has no way out.", where, node_id))
        elif kind == "condition":
            branches = sorted(edge.get("branch") or "" for edge in out)
            if branches != ["no", "yes"]:
                report.errors.append(Problem("A condition needs one 'yes' and one 'no' way out.", where, node_id))
        elif kind == "start" and not out:
            report.errors.append(Problem("Connect this step to the next one.", where, node_id))
        elif kind == "wait" and not out:  # a last wait would end the program at once, not after waiting
            report.errors.append(Problem("Connect this wait to the step that follows it.", where, node_id))
        elif len(out) > 1:
            report.errors.append(Problem("This step has more than one way out.", where, node_id))
        if kind != "condition" and any(edge.get("branch") for edge in out):
            report.errors.append(Problem("Only a condition's ways out are yes or no.", where, node_id))
    if report.errors:
        return
    start = next(node_id for node_id, node in by_id.items() if node["type"] == "start")
    reachable = _reachable(start, outgoing)
    for node_id in by_id:
        if node_id not in reachable:
            report.errors.append(Problem("No path from the start reaches this step.", f"node:{node_id}", node_id))
    if not any(ends_flow(by_id[n], outgoing[n]) for n in reachable):
        report.errors.append(Problem("No path from the start reaches an end.", "flow_definition.nodes"))
    for loop in _loops_without_pause(by_id, outgoing):
        for node_id in loop:
            report.errors.append(
                Problem(
                    "This step is in a loop with no wait or question: it would repeat forever. "
                    "Add a wait or a question to the loop.",
                    f"node:{node_id}",
                    node_id,
                )
            )


def ends_flow(node: dict, out: list) -> bool:
    """An end node, or a step with no way out: the program is complete after it."""
    return node["type"] == "end" or (not out and node["type"] not in ("start", "condition", "wait"))


def _reachable(start: str, outgoing: dict) -> set[str]:
    seen, todo = {start}, deque([start])
    while todo:
        for edge in outgoing[todo.popleft()]:
            if edge["target"] not in seen:
                seen.add(edge["target"])
                todo.append(edge["target"])
    return seen


def _loops_without_pause(by_id: dict, outgoing: dict) -> list[list[str]]:
    """Strongly connected parts of the graph without its pausing nodes (Tarjan, iterative):
    each such part of more than one node, or a node with an edge to itself, loops for ever."""
    nodes = [n for n in by_id if by_id[n]["type"] not in _PAUSING and not _delayed(by_id[n])]
    keep = set(nodes)
    graph = {n: [e["target"] for e in outgoing[n] if e["target"] in keep] for n in nodes}
    index, low, on_stack, stack, loops, counter = {}, {}, set(), [], [], [0]
    for root in nodes:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                index[node] = low[node] = counter[0]
                counter[0] += 1
                stack.append(node)
                on_stack.add(node)
            if child < len(graph[node]):
                work.append((node, child + 1))
                nxt = graph[node][child]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                part = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    part.append(member)
                    if member == node:
                        break
                if len(part) > 1 or node in graph[node]:
                    loops.append(sorted(part))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return loops


def _delayed(node: dict) -> bool:
    return node["type"] == "send_message" and (node.get("data") or {}).get("delay_hours", 0) not in (0, None)


# --- Walking a (valid) flow -----------------------------------------------------


class Graph:
    """A validated flow, indexed for the engine."""

    def __init__(self, flow: dict):
        self.nodes = {node["id"]: node for node in flow["nodes"]}
        self.outgoing: dict[str, list[dict]] = {node_id: [] for node_id in self.nodes}
        for edge in flow["edges"]:
            self.outgoing[edge["source"]].append(edge)
        self.start = next(node_id for node_id, node in self.nodes.items() if node["type"] == "start")
        self._to_end = self._distances_to_end()
        self._from_start = self._distances_from_start()

    def node(self, node_id: str) -> dict:
        return self.nodes[node_id]

    def data(self, node_id: str) -> dict:
        return self.nodes[node_id].get("data") or {}

    def next(self, node_id: str, branch: str | None = None) -> str | None:
        """The node after `node_id` (by `branch` out of a condition); None after the last step."""
        for edge in self.outgoing[node_id]:
            if branch is None or edge.get("branch") == branch:
                return edge["target"]
        return None

    def progress(self, node_id: str) -> float:
        """How far along a user at `node_id` is: steps taken over steps taken plus the fewest left."""
        done, left = self._from_start.get(node_id, 0), self._to_end.get(node_id, 0)
        return round(done / (done + left), 3) if done + left else 0.0

    def ordered(self) -> list[str]:
        """Node ids in breadth-first order from the start: the order of the drop-off chart."""
        return sorted(self.nodes, key=lambda n: (self._from_start.get(n, 10**6), n))

    def _distances_from_start(self) -> dict[str, int]:
        distance, todo = {self.start: 0}, deque([self.start])
        while todo:
            node = todo.popleft()
            for edge in self.outgoing[node]:
                if edge["target"] not in distance:
                    distance[edge["target"]] = distance[node] + 1
                    todo.append(edge["target"])
        return distance

    def _distances_to_end(self) -> dict[str, int]:
        incoming: dict[str, list[str]] = {node_id: [] for node_id in self.nodes}
        for source, edges in self.outgoing.items():
            for edge in edges:
                incoming[edge["target"]].append(source)
        ends = [n for n, node in self.nodes.items() if ends_flow(node, self.outgoing[n])]
        distance, todo = {n: 0 for n in ends}, deque(ends)
        while todo:
            node = todo.popleft()
            for source in incoming[node]:
                if source not in distance:
                    distance[source] = distance[node] + 1
                    todo.append(source)
        return distance


# --- Variables -------------------------------------------------------------------


def render(template: str, values: dict) -> str:
    """Fill {variables}: {name|fallback} gives the fallback when the user has no value; a
    variable nobody has renders blank, never as braces."""

    def fill(match) -> str:
        name, _, fallback = match.group(1).partition("|")
        value = lookup(values, name.strip())
        return str(value) if value not in (None, "") else fallback.strip()

    return re.sub(r"  +", " ", VARIABLE.sub(fill, template)).strip()


def lookup(values: dict, name: str):
    if name in values:
        return values[name]
    scope, _, key = name.partition(".")
    if key:
        return (values.get(scope) or {}).get(key)
    for scope in ("answers", "profile", "attribute", "memory"):
        if name in (values.get(scope) or {}):
            return values[scope][name]
    return None
