"""pbxstate.Cluster's API: every method, its arguments, its errors and its reprs."""
import math
import threading

import pytest

import pbxstate
from pbxstate import DeviceState
from conftest import run_beside_this_thread

DEV = "Custom:mystate"


@pytest.fixture
def cluster():
    with pbxstate.Cluster(nodes=3, seed=5) as c:
        c.advance(3)  # heartbeats: everyone knows everyone
        yield c


def test_defaults_and_repr():
    with pbxstate.Cluster() as c:
        assert (c.size, len(c), c.now, c.up_nodes) == (3, 3, 0.0, [0, 1, 2])
        assert repr(c) == "<pbxstate.Cluster nodes=3 up=[0, 1, 2] now=0.000s seed=1>"
        c.advance(1.25)
        assert c.now == 1.25
        assert "now=1.250s" in repr(c)


def test_advance_refuses_bad_durations(cluster):
    for bad in (-1, math.nan, math.inf):
        with pytest.raises(ValueError, match="advance: expected a duration in seconds"):
            cluster.advance(bad)
    with pytest.raises(TypeError):
        cluster.advance("1s")


NODE_CALLS = {
    "set_device_state": lambda c, n: c.set_device_state(n, DEV, "INUSE"),
    "set_mwi": lambda c, n: c.set_mwi(n, "1000@default", new=1),
    "register": lambda c, n: c.register(n, "alice", "sip:alice@198.18.0.1"),
    "unregister": lambda c, n: c.unregister(n, "alice"),
    "remove_contact": lambda c, n: c.remove_contact(n, "alice", "sip:alice@198.18.0.1"),
    "device_state": lambda c, n: c.device_state(n, DEV),
    "contributions": lambda c, n: c.contributions(n, DEV),
    "mwi": lambda c, n: c.mwi(n, "1000@default"),
    "registrations": lambda c, n: c.registrations(n, "alice"),
    "members": lambda c, n: c.members(n),
    "stats": lambda c, n: c.stats(n),
    "crash": lambda c, n: c.crash(n),
    "restart": lambda c, n: c.restart(n),
    "is_up": lambda c, n: c.is_up(n),
    "incarnation": lambda c, n: c.incarnation(n),
    "cut": lambda c, n: c.cut(0, n),
    "restore": lambda c, n: c.restore(n, 0),
    "partition": lambda c, n: c.partition([[0], [n]]),
}


@pytest.mark.parametrize("call", sorted(NODE_CALLS))
@pytest.mark.parametrize("node", [3, -1, 10**6])
def test_bad_node_index_raises_index_error(cluster, call, node):
    with pytest.raises(IndexError, match=rf"node {node} out of range: the cluster has 3 nodes \(0 to 2\)"):
        NODE_CALLS[call](cluster, node)


DOWN_CALLS = ["set_device_state", "set_mwi", "register", "unregister", "remove_contact", "device_state", "contributions", "mwi",
              "registrations", "members", "stats", "crash"]


@pytest.mark.parametrize("call", DOWN_CALLS)
def test_calls_on_a_crashed_node_raise_node_down(cluster, call):
    cluster.crash(1)
    with pytest.raises(pbxstate.NodeDownError, match=r"node 1 is down \(crashed\); restart\(1\) brings it back"):
        NODE_CALLS[call](cluster, 1)


def test_restart_of_a_running_node_is_refused(cluster):
    with pytest.raises(RuntimeError, match="restart: node 2 is up; crash it first"):
        cluster.restart(2)


def test_bad_state_names_and_types(cluster):
    with pytest.raises(ValueError, match="unknown device state 'IN_USE'"):
        cluster.set_device_state(0, DEV, "IN_USE")
    with pytest.raises(TypeError, match="expected a DeviceState or a state name"):
        cluster.set_device_state(0, DEV, 2)
    assert cluster.stats(0).local_changes == 0  # nothing was changed by the refused calls


def test_engine_refusals_become_value_errors(cluster):
    with pytest.raises(ValueError):
        cluster.set_device_state(0, "", DeviceState.INUSE)  # empty key
    with pytest.raises(ValueError):
        cluster.set_device_state(0, "x" * 300, DeviceState.INUSE)  # beyond max_key_bytes
    with pytest.raises(TypeError):
        cluster.set_mwi(0, "1000@default", new=-1)


def test_constructor_arguments_are_checked():
    with pytest.raises(ValueError, match="nodes: expected at least 1, got 0"):
        pbxstate.Cluster(nodes=0)
    with pytest.raises(ValueError, match="membership: expected 'heartbeat' or 'transport', got 'cpg'"):
        pbxstate.Cluster(membership="cpg")
    with pytest.raises(ValueError, match="transport_views: expected 'per_node' or 'consistent'"):
        pbxstate.Cluster(transport_views="totem")
    with pytest.raises(ValueError, match="engine: unknown setting 'grace'; expected one of anti_entropy_interval"):
        pbxstate.Cluster(engine={"grace": 1})
    with pytest.raises(ValueError, match="engine.departure_grace: expected a duration in seconds"):
        pbxstate.Cluster(engine={"departure_grace": -1})
    with pytest.raises(ValueError):  # the engine's own validation: suspicion before the first heartbeat
        pbxstate.Cluster(engine={"heartbeat_interval": 2.0, "suspect_after": 1.0})
    with pytest.raises(TypeError, match="network: expected a pbxstate.Network"):
        pbxstate.Cluster(network=5)
    with pytest.raises(TypeError):
        pbxstate.Cluster(3)  # keyword-only: Cluster(nodes=3)


def test_network_values():
    n = pbxstate.Network(delay=0.002, loss=0.1)
    assert (n.delay, n.jitter, n.loss, n.duplicate, n.reorder, n.reorder_delay) == (0.002, 0.0, 0.1, 0.0, 0.0, 0.02)
    assert repr(n) == ("pbxstate.Network(delay=0.002, jitter=0, loss=0.1, duplicate=0, reorder=0, reorder_delay=0.02)")
    assert n == pbxstate.Network(delay=0.002, loss=0.1)
    assert n != pbxstate.Network()
    with pytest.raises(ValueError, match="Network.loss: expected a probability from 0 to 1, got 1.5"):
        pbxstate.Network(loss=1.5)
    with pytest.raises(ValueError, match="Network.delay"):
        pbxstate.Network(delay=-0.001)


def test_network_argument_forms_are_equivalent():
    runs = []
    for network in (pbxstate.Network(delay=0.005, jitter=0.002, loss=0.2), {"delay": 0.005, "jitter": 0.002, "loss": 0.2}):
        with pbxstate.Cluster(nodes=4, seed=9, network=network) as c:
            c.set_device_state(0, DEV, "BUSY")
            c.advance(2)
            runs.append(c.trace_hash)
    assert runs[0] == runs[1]
    with pytest.raises(TypeError):
        pbxstate.Cluster(network={"latency": 0.1})


def test_set_network(cluster):
    with pytest.raises(ValueError, match="give both src and dst, or neither"):
        cluster.set_network(pbxstate.Network(), src=0)
    cluster.set_network({"loss": 1.0}, src=0, dst=1)  # 0 -> 1 loses everything, one way
    cluster.set_device_state(0, DEV, "INUSE")
    cluster.advance(0.05)
    assert [cluster.device_state(i, DEV) for i in range(3)] == [DeviceState.INUSE, None, DeviceState.INUSE]
    cluster.set_network(pbxstate.Network())
    cluster.advance(3)  # anti-entropy repairs what was lost
    assert cluster.device_state(1, DEV) == DeviceState.INUSE


def test_queries_and_values(cluster):
    assert cluster.device_state(0, DEV) is None
    assert cluster.mwi(0, "1000@default") is None
    assert cluster.registrations(0, "alice") == []
    assert cluster.members(0) == [0, 1, 2]
    cluster.set_device_state(0, DEV, DeviceState.RINGING)
    cluster.set_device_state(2, DEV, "inuse")
    cluster.set_mwi(1, "1000@default", new=2, old=3, urgent=1)
    cluster.register(2, "alice", "sip:alice@198.18.0.7:5060", expires=60)
    cluster.advance(0.1)
    for i in range(3):
        assert cluster.device_state(i, DEV) == DeviceState.RINGINUSE  # Asterisk: RINGING + INUSE
        assert cluster.contributions(i, DEV) == {0: DeviceState.RINGING, 2: DeviceState.INUSE}
        mb = cluster.mwi(i, "1000@default")
        assert (mb.new, mb.old, mb.urgent, mb.writer) == (2, 3, 1, 1)
        assert repr(mb) == "<pbxstate.Mailbox new=2 old=3 urgent=1 writer=1>"
        (reg,) = cluster.registrations(i, "alice")
        assert (reg.node, reg.contact, reg.reachable) == (2, "sip:alice@198.18.0.7:5060", True)
        assert 59.8 < reg.expires_in <= 60
        assert repr(reg).startswith("<pbxstate.Registration node=2 contact='sip:alice@198.18.0.7:5060' expires_in=")
    assert cluster.mwi(0, "1000@default") == cluster.mwi(2, "1000@default")
    cluster.unregister(2, "alice")
    cluster.advance(0.1)
    assert all(cluster.registrations(i, "alice") == [] for i in range(3))


def test_contacts_of_one_aor_with_path_and_user_agent(cluster):
    desk = ("sip:bob@198.18.0.10:5060", "<sip:edge1.example.net;lr>", "Yealink SIP-T54W")
    soft = ("sip:bob@198.18.0.11:5062", "<sip:edge2.example.net;lr>,<sip:core.example.net;lr>", "Linphone/5.2")
    for contact, path, ua in (desk, soft):
        cluster.register(0, "bob", contact, expires=60, path=path, user_agent=ua)
    cluster.advance(0.1)
    for i in range(3):
        regs = cluster.registrations(i, "bob")
        assert sorted((r.node, r.contact, r.path, r.user_agent) for r in regs) == [(0, *desk), (0, *soft)]
    cluster.remove_contact(0, "bob", desk[0])
    cluster.remove_contact(0, "bob", "sip:never@registered")  # not held: not an error
    cluster.advance(0.1)
    for i in range(3):
        assert [(r.contact, r.path, r.user_agent) for r in cluster.registrations(i, "bob")] == [soft]
    # The engine's bound (max_contact_bytes, default 512) is the answer to an oversized one.
    with pytest.raises(ValueError, match="contact, path and user agent are longer together than max_contact_bytes"):
        cluster.register(0, "bob", "sip:bob@x", user_agent="u" * 512)


def test_stats(cluster):
    before = cluster.stats(0)
    cluster.set_device_state(0, DEV, "BUSY")
    cluster.advance(0.1)
    s = cluster.stats(0)
    assert s.local_changes == before.local_changes + 1
    assert s.frames_out > before.frames_out and s.heartbeats_sent > 0
    assert cluster.stats(1).records_applied >= 1
    assert s.device_entries == 1
    assert list(s.dropped) == ["truncated", "bad_magic", "bad_version", "unknown_type", "oversize", "malformed",
                               "from_self", "stale_incarnation", "not_member", "too_many_nodes", "unexpected",
                               "store_full", "bad_mac", "unknown_key", "replayed", "unauthenticated",
                               "auth_not_configured", "session_closed"]
    assert s.total_dropped == sum(s.dropped.values())
    assert repr(s).startswith(f"<pbxstate.EngineStats frames_out={s.frames_out} ")


def test_crash_restart_and_incarnation(cluster):
    inc = cluster.incarnation(1)
    cluster.crash(1)
    assert not cluster.is_up(1) and cluster.up_nodes == [0, 2]
    assert "up=[0, 2]" in repr(cluster)
    cluster.restart(1)
    assert cluster.is_up(1) and cluster.incarnation(1) > inc


def test_add_node(cluster):
    assert cluster.add_node() == 3
    assert cluster.size == 4
    cluster.advance(3)
    assert cluster.members(3) == [0, 1, 2, 3] and cluster.converged()


def test_partition_arguments(cluster):
    with pytest.raises(ValueError):
        cluster.partition([[0, 1], [1, 2]])  # node 1 twice
    with pytest.raises(TypeError):
        cluster.partition([0, 1])
    cluster.partition([[0, 1]])  # node 2 listed nowhere: alone
    cluster.advance(3)
    assert cluster.members(2) == [2] and cluster.members(0) == [0, 1]
    assert not cluster.converged()


def test_cut_is_one_way(cluster):
    cluster.cut(0, 1)
    cluster.set_device_state(0, DEV, "INUSE")
    cluster.set_device_state(1, "PJSIP/bob", "BUSY")
    cluster.advance(0.05)
    assert cluster.device_state(1, DEV) is None
    assert cluster.device_state(0, "PJSIP/bob") == DeviceState.BUSY
    cluster.restore(0, 1)
    cluster.advance(3)
    assert cluster.device_state(1, DEV) == DeviceState.INUSE


def test_frames_in_flight_and_trace_hash(cluster):
    h = cluster.trace_hash
    assert isinstance(h, int)
    cluster.set_device_state(0, DEV, "INUSE")
    assert cluster.frames_in_flight == 2  # one broadcast, a copy per peer, 1 ms links
    cluster.advance(0.01)
    assert cluster.frames_in_flight == 0 and cluster.trace_hash != h


def test_close_and_context_manager():
    c = pbxstate.Cluster()
    assert not c.closed
    c.close()
    c.close()  # harmless
    assert c.closed and repr(c) == "<pbxstate.Cluster closed>"
    for call in (lambda: c.advance(1), lambda: c.device_state(0, DEV), lambda: c.size, c.converged):
        with pytest.raises(RuntimeError, match="the cluster is closed"):
            call()
    with pbxstate.Cluster() as d:
        assert isinstance(d, pbxstate.Cluster)
    assert d.closed


def test_threads_take_turns_on_one_cluster(cluster):
    # advance() releases the GIL; another thread's calls wait for its step instead of racing it.
    errors = []

    def writer():
        try:
            for k in range(200):
                cluster.set_device_state(k % 3, f"PJSIP/t{k}", "INUSE")
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    t = threading.Thread(target=writer)
    t.start()
    cluster.advance(5)
    t.join()
    cluster.advance(2)
    assert errors == []
    assert cluster.converged()
    assert all(cluster.device_state(0, f"PJSIP/t{k}") == DeviceState.INUSE for k in range(200))


def test_fixture_default(pbxstate_cluster):
    assert pbxstate_cluster.size == 3 and pbxstate_cluster.now == 0.0


@pytest.mark.pbxstate_cluster(nodes=5, seed=11, engine={"departure_grace": 0.5})
def test_fixture_with_marker(pbxstate_cluster):
    assert pbxstate_cluster.size == 5
    assert "seed=11" in repr(pbxstate_cluster)


def test_advance_releases_the_gil():
    with pbxstate.Cluster(nodes=30) as c:
        run_beside_this_thread(lambda: c.advance(2000), "advance")
        assert c.now == 2000.0 and c.converged()
