"""The engine's behaviour through the bindings: the classic three-server test, partitions,
MWI's last writer, crashes and restarts, registrations, determinism."""
import pytest

import pbxstate
from pbxstate import DeviceState

DEV = "Custom:mystate"
MBOX = "1000@default"


def states(c, device, nodes=None):
    return [c.device_state(i, device) for i in (nodes if nodes is not None else c.up_nodes)]


@pytest.mark.parametrize("membership", ["heartbeat", "transport"])
def test_custom_mystate_across_three_servers(membership):
    # Asterisk's "Testing Distributed Device State": set Custom:mystate on server 1's CLI and
    # read DEVICE_STATE(Custom:mystate) on the others.
    with pbxstate.Cluster(nodes=3, seed=42, membership=membership) as c:
        c.advance(3)
        assert c.converged()
        assert states(c, DEV) == [None] * 3
        c.set_device_state(0, DEV, DeviceState.INUSE)
        c.advance(0.05)  # no timer involved: 1 ms links, no batching
        assert states(c, DEV) == [DeviceState.INUSE] * 3
        c.set_device_state(0, DEV, "NOT_INUSE")
        c.set_device_state(1, DEV, "INUSE")
        c.advance(0.05)
        assert states(c, DEV) == [DeviceState.INUSE] * 3  # NOT_INUSE < INUSE
        assert c.contributions(2, DEV) == {0: DeviceState.NOT_INUSE, 1: DeviceState.INUSE}
        c.set_device_state(1, DEV, "NOT_INUSE")
        c.advance(0.05)
        assert states(c, DEV) == [DeviceState.NOT_INUSE] * 3


def test_partition_then_heal():
    with pbxstate.Cluster(nodes=3, seed=7) as c:
        c.advance(3)
        c.partition([[0, 1], [2]])
        c.set_device_state(0, "PJSIP/alice", "INUSE")
        c.set_device_state(2, "PJSIP/bob", "RINGING")
        c.advance(5)  # past failure detection (suspect_after 2 s)
        assert c.members(0) == [0, 1] and c.members(2) == [2]
        assert states(c, "PJSIP/alice") == [DeviceState.INUSE, DeviceState.INUSE, None]
        assert states(c, "PJSIP/bob") == [None, None, DeviceState.RINGING]
        assert not c.converged()
        c.heal()
        c.advance(5)
        assert c.converged()
        assert states(c, "PJSIP/alice") == [DeviceState.INUSE] * 3
        assert states(c, "PJSIP/bob") == [DeviceState.RINGING] * 3
        assert all(c.members(i) == [0, 1, 2] for i in range(3))


def test_mwi_last_writer_wins():
    with pbxstate.Cluster(nodes=3, seed=3) as c:
        c.advance(3)
        c.set_mwi(0, MBOX, new=1, old=0)
        c.advance(0.5)
        c.set_mwi(2, MBOX, new=5, old=2)
        c.advance(0.5)
        assert [c.mwi(i, MBOX).new for i in range(3)] == [5, 5, 5]
        assert {c.mwi(i, MBOX).writer for i in range(3)} == {2}


def test_mwi_last_writer_wins_across_a_partition():
    with pbxstate.Cluster(nodes=3, seed=3) as c:
        c.advance(3)
        c.partition([[0], [1, 2]])
        c.set_mwi(1, MBOX, new=7)   # earlier, on the larger side
        c.advance(1)
        c.set_mwi(0, MBOX, new=2)   # later, alone: this write must win everywhere once healed
        c.advance(1)
        assert c.mwi(2, MBOX).new == 7 and c.mwi(0, MBOX).new == 2
        c.heal()
        c.advance(5)
        assert c.converged()
        assert [(c.mwi(i, MBOX).new, c.mwi(i, MBOX).writer) for i in range(3)] == [(2, 0)] * 3


def test_crash_clears_contributions_and_restart_re_announces():
    with pbxstate.Cluster(nodes=3, seed=8) as c:
        c.advance(3)
        c.set_device_state(1, "PJSIP/carol", "BUSY")
        c.set_mwi(1, MBOX, new=4)
        c.advance(0.1)
        assert states(c, "PJSIP/carol") == [DeviceState.BUSY] * 3
        c.crash(1)
        c.advance(4)  # suspected after 2 s, grace 0: BUSY must not stay forever
        assert states(c, "PJSIP/carol") == [None, None]
        assert [c.mwi(i, MBOX).new for i in (0, 2)] == [4, 4]  # mailboxes outlive their writer
        c.restart(1)
        c.advance(4)
        assert c.converged()
        assert states(c, "PJSIP/carol") == [None] * 3  # the old incarnation's entries are void
        assert c.mwi(1, MBOX).new == 4  # caught up from the others
        c.set_device_state(1, "PJSIP/carol", "INUSE")
        c.advance(0.1)
        assert states(c, "PJSIP/carol") == [DeviceState.INUSE] * 3


def test_departure_grace_keeps_contributions_for_a_while():
    with pbxstate.Cluster(nodes=3, seed=8, engine={"departure_grace": 3.0}) as c:
        c.advance(3)
        c.set_device_state(2, DEV, "ONHOLD")
        c.advance(0.1)
        c.crash(2)
        c.advance(3)  # suspected at ~2 s, within the grace
        assert states(c, DEV) == [DeviceState.ONHOLD] * 2
        c.advance(3)
        assert states(c, DEV) == [None] * 2


def test_registrations_expire_everywhere():
    with pbxstate.Cluster(nodes=3, seed=2) as c:
        c.advance(3)
        c.register(0, "alice", "sip:alice@198.18.0.1:5060", expires=5)
        c.advance(1)
        assert [len(c.registrations(i, "alice")) for i in range(3)] == [1, 1, 1]
        c.advance(4.5)
        assert [c.registrations(i, "alice") for i in range(3)] == [[], [], []]


def scripted_run(seed, steps=(10.0,)):
    with pbxstate.Cluster(nodes=5, seed=seed, network={"delay": 0.002, "jitter": 0.003, "loss": 0.05}) as c:
        for k in range(20):
            c.set_device_state(k % 5, f"PJSIP/d{k}", "INUSE" if k % 2 else "BUSY")
        c.partition([[0, 1, 2], [3, 4]])
        c.advance(3)
        c.heal()
        for step in steps:
            c.advance(step)
        return c.trace_hash, c.converged(), [c.stats(i).frames_out for i in range(5)]


def test_same_seed_same_run():
    a = scripted_run(seed=21)
    assert a == scripted_run(seed=21)
    assert a[1], "the cluster must have converged after 10 s healed"
    assert scripted_run(seed=22)[0] != a[0]


def test_advancing_in_steps_is_the_same_run():
    assert scripted_run(seed=21, steps=(10.0,)) == scripted_run(seed=21, steps=[0.25] * 40)
