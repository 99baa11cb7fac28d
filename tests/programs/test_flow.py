"""flow.validate on every kind of bad flow the issue names, and flow.render of variables."""

import copy

import pytest

from app.programs import flow
from tests.programs.conftest import coaching_flow

BADGE = "7f9c2b1e-0000-4000-8000-000000000001"


def node(node_id, kind, **data):
    return {"id": node_id, "type": kind, "position": {"x": 0, "y": 0}, "data": data}


def edge(edge_id, source, target, branch=None):
    out = {"id": edge_id, "source": source, "target": target}
    if branch:
        out["branch"] = branch
    return out


def line(*nodes) -> dict:
    """Nodes joined one after the other."""
    edges = [edge(f"e{i}", a["id"], b["id"]) for i, (a, b) in enumerate(zip(nodes, nodes[1:], strict=False))]
    return {"nodes": list(nodes), "edges": edges}


def errors_of(definition, **kwargs) -> list[dict]:
    return [p.as_dict() for p in flow.validate(definition, **kwargs).errors]


def test_the_coaching_flow_is_valid():
    report = flow.validate(coaching_flow(BADGE), known_badges={BADGE}, known_variables=set())
    assert report.valid and report.errors == []


def test_exactly_one_start():
    none = line(node("m", "send_message", message="Hi"), node("end", "end"))
    two = line(node("s1", "start"), node("s2", "start"), node("end", "end"))
    for definition, count in ((none, 0), (two, 2)):
        messages = [p["message"] for p in errors_of(definition)]
        assert f"A flow has exactly one start node; this one has {count}." in messages


@pytest.mark.parametrize(
    "last",
    [
        node("last", "send_message", message="Welcome to the program!", delay_hours=0),
        node("last", "ask_question", question="How did it go?"),
        node("last", "award_badge", badge_id=BADGE),
        node("last", "ai_coach", goal="A tip for the week"),
    ],
    ids=["message", "question", "badge", "ai coach"],
)
def test_a_step_with_no_way_out_is_the_last_one_not_an_error(last):
    """As in the source's example program: start -> message, and the program is done."""
    definition = line(node("start", "start"), last)
    assert errors_of(definition, known_badges={BADGE}) == []
    graph = flow.Graph(definition)
    assert graph.next("last") is None and graph.progress("start") == 0.0


def test_the_start_must_lead_somewhere():
    [problem] = errors_of({"nodes": [node("start", "start")], "edges": []})
    assert problem == {"field": "node:start", "message": "Connect this step to the next one.", "node_id": "start"}


def test_a_wait_must_lead_somewhere():
    """Ending on a wait would complete the program at once, not after the wait."""
    definition = line(node("start", "start"), node("pause", "wait", hours=24))
    messages = [p["message"] for p in errors_of(definition)]
    assert "Connect this wait to the step that follows it." in messages


def test_a_flow_that_never_ends_is_still_an_error():
    definition = line(node("start", "start"), node("ask", "ask_question", question="Again?"))
    definition["edges"].append(edge("back", "ask", "ask"))
    assert [p["message"] for p in errors_of(definition)] == ["No path from the start reaches an end."]


def test_an_unreachable_node_is_named():
    definition = line(node("start", "start"), node("end", "end"))
    definition["nodes"].append(node("orphan", "send_message", message="Nobody gets here"))
    definition["edges"].append(edge("e_orphan", "orphan", "end"))
    [problem] = errors_of(definition)
    assert problem["node_id"] == "orphan" and "No path from the start" in problem["message"]


def test_a_dangling_edge_is_named_with_its_edge_and_source():
    definition = line(node("start", "start"), node("end", "end"))
    definition["edges"].append(edge("e_ghost", "start", "ghost"))
    problems = errors_of(definition)
    dangling = [p for p in problems if p.get("edge_id") == "e_ghost"]
    assert dangling == [
        {
            "field": "flow_definition.edges.1.target",
            "message": "This edge's target 'ghost' is not a node of the flow.",
            "node_id": "start",
            "edge_id": "e_ghost",
        }
    ]


def test_duplicate_node_and_edge_ids():
    definition = line(node("start", "start"), node("m", "send_message", message="Hi"), node("end", "end"))
    definition["nodes"].append(node("m", "send_message", message="Again"))
    definition["edges"].append(edge("e0", "m", "end"))
    problems = errors_of(definition)
    assert {
        "field": "flow_definition.nodes.3.id",
        "message": "The node id 'm' is used twice.",
        "node_id": "m",
    } in problems
    assert {
        "field": "flow_definition.edges.2.id",
        "message": "The edge id 'e0' is used twice.",
        "edge_id": "e0",
    } in problems


@pytest.mark.parametrize("branches", [["yes"], ["no"], ["yes", "yes"], [None, None]])
def test_a_condition_needs_both_branches(branches):
    definition = {
        "nodes": [
            node("start", "start"),
            node("check", "condition", field="profile.goal", operator="exists"),
            node("a", "send_message", message="A"),
            node("b", "send_message", message="B"),
            node("end", "end"),
        ],
        "edges": [edge("e0", "start", "check"), edge("ea", "a", "end"), edge("eb", "b", "end")]
        + [edge(f"c{i}", "check", "ab"[i], branch) for i, branch in enumerate(branches)],
    }
    problems = errors_of(definition)
    assert {
        "field": "node:check",
        "message": "A condition needs one 'yes' and one 'no' way out.",
        "node_id": "check",
    } in problems


def test_a_condition_with_both_branches_is_valid():
    definition = {
        "nodes": [
            node("start", "start"),
            node("check", "condition", field="tag", operator="equals", value="vip"),
            node("a", "send_message", message="A"),
            node("end", "end"),
        ],
        "edges": [
            edge("e0", "start", "check"),
            edge("y", "check", "a", "yes"),
            edge("n", "check", "end", "no"),
            edge("ea", "a", "end"),
        ],
    }
    assert errors_of(definition) == []


def _loop(pause) -> dict:
    """start -> a -> b -> c -> a (and c -> end through a condition), with `pause` as node b."""
    return {
        "nodes": [
            node("start", "start"),
            node("a", "send_message", message="Keep going"),
            pause,
            node("c", "condition", field="answer.b", operator="equals", value="done"),
            node("end", "end"),
        ],
        "edges": [
            edge("e0", "start", "a"),
            edge("e1", "a", "b"),
            edge("e2", "b", "c"),
            edge("e3", "c", "a", "no"),
            edge("e4", "c", "end", "yes"),
        ],
    }


def test_a_cycle_without_a_wait_is_an_error_on_each_of_its_nodes():
    problems = errors_of(_loop(node("b", "send_message", message="Again")))
    looped = sorted(p["node_id"] for p in problems if "loop with no wait" in p["message"])
    assert looped == ["a", "b", "c"]
    assert all(p["field"] == f"node:{p['node_id']}" for p in problems)


@pytest.mark.parametrize(
    "pause",
    [
        node("b", "ask_question", question="Done yet?"),
        node("b", "wait", hours=24),
        node("b", "wait", until_time="08:00", weekday="monday"),
        node("b", "send_message", message="Tomorrow", delay_hours=24),
    ],
    ids=["question", "wait hours", "wait weekday", "delayed message"],
)
def test_a_loop_through_a_pause_is_valid(pause):
    assert errors_of(_loop(pause)) == []


def test_a_node_looping_on_itself_is_an_error():
    definition = line(
        node("start", "start"), node("spin", "condition", field="tag", operator="exists"), node("end", "end")
    )
    definition["edges"] = [
        edge("e0", "start", "spin"),
        edge("y", "spin", "spin", "yes"),
        edge("n", "spin", "end", "no"),
    ]
    problems = errors_of(definition)
    assert [p["node_id"] for p in problems if "loop" in p["message"]] == ["spin"]


@pytest.mark.parametrize(
    "bad",
    [
        node("m", "send_message", message="Hi", delay_hours=-1),
        node("m", "wait", hours=-1),
        node("m", "wait", hours=0),
        node("m", "send_message", message="Hi", delay_hours="soon"),
        node("m", "send_message", message="Hi", delay_hours=24 * 366),
        node("m", "wait", until_time="25:00"),
        node("m", "wait", until_time="08:00", weekday="someday"),
        node("m", "wait", weekday="monday"),
        node("m", "wait", hours=2, until_time="08:00"),
    ],
    ids=[
        "delay -1",
        "wait -1",
        "wait 0",
        "delay text",
        "delay > a year",
        "bad time",
        "bad weekday",
        "weekday without time",
        "both",
    ],
)
def test_insane_delays_and_waits_are_errors_on_the_node(bad):
    problems = errors_of(line(node("start", "start"), bad, node("end", "end")))
    assert problems and all(p["node_id"] == "m" for p in problems)
    assert all(p["field"].startswith("flow_definition.nodes.1.data.") for p in problems)


def test_a_negative_delay_says_what_is_wrong():
    [problem] = errors_of(
        line(node("start", "start"), node("m", "send_message", message="Hi", delay_hours=-1), node("end", "end"))
    )
    assert problem == {
        "field": "flow_definition.nodes.1.data.delay_hours",
        "message": "Must not be negative.",
        "node_id": "m",
    }


def test_ten_thousand_nodes_are_refused_with_one_clear_message():
    nodes = (
        [node("start", "start")]
        + [node(f"n{i}", "send_message", message="x") for i in range(9_998)]
        + [node("end", "end")]
    )
    definition = line(*nodes)
    # One message about the size, not 10,000 per-node ones (the check runs before any other).
    assert errors_of(definition) == [
        {
            "field": "flow_definition.nodes",
            "message": "A program has at most 200 nodes and 400 edges; this one has 10000 and 9999. "
            "Split it into several programs.",
        }
    ]


def test_the_largest_allowed_flow_is_valid():
    nodes = [node("start", "start")] + [node(f"n{i}", "send_message", message="x") for i in range(flow.MAX_NODES - 2)]
    assert errors_of(line(*nodes, node("end", "end"))) == []


def test_an_unknown_badge_is_an_error_only_when_badges_are_checked():
    definition = line(node("start", "start"), node("b", "award_badge", badge_id="not-mine"), node("end", "end"))
    [problem] = errors_of(definition, known_badges={BADGE})
    assert problem["node_id"] == "b" and problem["field"].endswith("data.badge_id")
    assert "does not exist" in problem["message"]
    assert errors_of(definition) == []  # no badge list given: not checked


@pytest.mark.parametrize("template", ["Hi {first name}", "Hi {}", "Hi {profile.}", "Hi {9lives}"])
def test_a_malformed_variable_is_an_error(template):
    definition = line(node("start", "start"), node("m", "send_message", message=template), node("end", "end"))
    [problem] = errors_of(definition, known_variables=set())
    assert problem["node_id"] == "m" and problem["field"] == "flow_definition.nodes.1.data.message"
    assert "is not a variable" in problem["message"]


def test_a_variable_no_user_has_is_a_warning_not_an_error():
    definition = line(
        node("start", "start"),
        node("m", "send_message", message="Your shoe size is {profile.shoe_size}; goal {goal}; hi {first_name}"),
        node("end", "end"),
    )
    report = flow.validate(definition, known_variables={"goal"})
    assert report.valid
    assert [(w.node_id, w.message) for w in report.warnings] == [
        (
            "m",
            "No user has {profile.shoe_size} yet: it is left blank unless you give a fallback "
            "like {profile.shoe_size|there}.",
        )
    ]


def test_a_variable_the_flow_asks_for_is_not_warned_about():
    definition = line(
        node("start", "start"),
        node("q", "ask_question", question="Your goal?", save_to="profile", save_as="goal"),
        node("m", "send_message", message="Good luck with {profile.goal}"),
        node("end", "end"),
    )
    report = flow.validate(definition, known_variables=set())
    assert report.valid and report.warnings == []


@pytest.mark.parametrize(
    "definition",
    [None, [], {"nodes": "x", "edges": []}, {"nodes": [], "edges": None}],
    ids=["null", "list", "nodes not a list", "edges not a list"],
)
def test_a_shapeless_flow_is_one_clear_error(definition):
    assert errors_of(definition) == [
        {"field": "flow_definition", "message": "A flow is an object with a list of nodes and a list of edges."}
    ]


def test_validation_does_not_change_the_flow():
    definition = coaching_flow(BADGE)
    before = copy.deepcopy(definition)
    flow.validate(definition, known_badges={BADGE}, known_variables=set())
    assert definition == before


# --- render -----------------------------------------------------------------------


VALUES = {
    "first_name": "Dana",
    "name": "Dana Runner",
    "profile": {"goal": "5k", "empty": ""},
    "attribute": {"plan": "pro"},
    "memory": {"injury": "knee"},
    "answers": {"ready": "Yes"},
    "answer": {"ready": "Yes"},
}


@pytest.mark.parametrize(
    "template, expected",
    [
        ("Hi {first_name}!", "Hi Dana!"),
        ("Goal: {profile.goal}", "Goal: 5k"),
        ("Plan {attribute.plan}, knee: {memory.injury}, ready: {answer.ready}", "Plan pro, knee: knee, ready: Yes"),
        ("Goal: {goal}", "Goal: 5k"),  # a bare key is looked up in answers, profile, attributes, memory
        ("Shoe {profile.shoe_size} size", "Shoe size"),  # nobody has it: blank, never braces
        ("Hi {nickname|friend}!", "Hi friend!"),
        ("Hi {profile.empty|there}!", "Hi there!"),
        ("Hi {first_name|friend}!", "Hi Dana!"),
        ("{unknown}", ""),
    ],
)
def test_render_fills_variables_and_never_leaves_braces(template, expected):
    assert flow.render(template, VALUES) == expected


def test_render_for_a_user_with_no_data_at_all():
    out = flow.render("Welcome {first_name|friend} to {program_name}, {profile.goal}.", {})
    assert out == "Welcome friend to , ." and "{" not in out
