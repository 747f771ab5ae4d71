"""pbxstate.control: pbxstated's control protocol through the C++ library, against a scripted server
on a real Unix socket (a thread of this test answering as pbxstated does: one line per request, in
order). The daemon itself is driven through these bindings by the live tests (tests/daemon)."""
import json
import os
import socket
import tempfile
import threading

import pytest

import pbxstate

control = pytest.importorskip("pbxstate.control", reason="pbxstate.control is built on Linux only")


def test_ops_are_the_protocols():
    ops = control.ops()
    assert ops[:5] == ["hello", "set_device", "remove_device", "set_mailbox", "remove_mailbox"]
    assert {"generate", "generate_result", "watch", "watch_result", "set_keys", "stop"} <= set(ops)
    assert len(ops) == len(set(ops))
    # Issue 18: one contact of an AOR is removed by its own op, next to the AOR's unregister.
    assert ops.index("remove_contact") == ops.index("unregister") + 1


def test_contacts_carry_path_and_user_agent():
    line = control.encode_request("register", aor="bob", contact="sip:bob@198.18.0.9", expires_unix_ns=7,
                                  path="<sip:edge1;lr>", user_agent="Yealink SIP-T54W")
    assert json.loads(line) == {"op": "register", "aor": "bob", "contact": "sip:bob@198.18.0.9", "expires_unix_ns": 7,
                                "reachable": True, "rtt_us": 0, "path": "<sip:edge1;lr>",
                                "user_agent": "Yealink SIP-T54W"}
    # Optional: an AOR without them is encoded as before.
    assert "path" not in json.loads(control.encode_request("register", aor="b", contact="c", expires_unix_ns=7))
    with pytest.raises(ValueError, match="register: field 'user_agent' must be a string"):
        control.encode_request("register", aor="b", contact="c", expires_unix_ns=7, user_agent=5)
    assert json.loads(control.encode_request("remove_contact", aor="bob", contact="sip:bob@198.18.0.9")) == {
        "op": "remove_contact", "aor": "bob", "contact": "sip:bob@198.18.0.9"}
    with pytest.raises(ValueError, match="remove_contact: field 'contact' is required"):
        control.encode_request("remove_contact", aor="bob")
    location = {"node": 1, "contact": "sip:bob@198.18.0.9", "path": "<sip:edge1;lr>", "user_agent": "Linphone/5.2",
                "reachable_contact": True, "reachable": True, "expires_unix_ns": 9, "age_ns": 0}
    located = {"ok": True, "locations": [location]}
    assert control.decode_response("locate", json.dumps(located)) == located
    without = dict(location)
    del without["user_agent"]
    with pytest.raises(RuntimeError, match="locate.locations: field 'user_agent': missing"):
        control.decode_response("locate", json.dumps({"ok": True, "locations": [without]}))


def test_requests_are_checked_by_the_daemons_parser():
    line = control.encode_request("set_device", device="PJSIP/alice", state="inuse")
    assert line.endswith("\n")
    assert json.loads(line) == {"op": "set_device", "device": "PJSIP/alice", "state": "INUSE"}
    page = json.loads(control.encode_request("watch_result", **{"from": 5}))
    assert page == {"op": "watch_result", "from": 5, "limit": 65536}
    with pytest.raises(ValueError, match=r"set_device: field 'state': 'SLEEPY' is not a device state"):
        control.encode_request("set_device", device="x", state="SLEEPY")
    with pytest.raises(ValueError, match=r"generate: field 'count' must be an integer in \[1, 1000000\]"):
        control.encode_request("generate", prefix="p", devices=1, count=0)
    with pytest.raises(ValueError, match="unknown op 'fly'"):
        control.encode_request("fly")


def test_responses_and_events_are_decoded_through_their_types():
    hello = {"ok": True, "node": 2, "label": "n2", "incarnation": 5, "pid": 6, "group": "g", "members": [1, 2],
             "view_id": 3, "authenticated": False}
    assert control.decode_response("hello", json.dumps(hello)) == hello
    with pytest.raises(RuntimeError, match="hello: field 'label': missing"):
        control.decode_response("hello", json.dumps({"ok": True, "node": 2}))
    refusal = {"ok": False, "code": "invalid_argument", "error": "empty device"}
    assert control.decode_response("set_device", json.dumps(refusal)) == refusal
    event = {"event": "view", "t_mono_ns": 9, "kind": "device", "cause": "remote", "key": "Custom:x", "origin": 1,
             "version": [4, 5], "old_contribution": None, "new_contribution": "INUSE", "old_aggregate": None,
             "new_aggregate": "INUSE"}
    assert control.decode_event(json.dumps(event)) == event
    with pytest.raises(ValueError, match="unknown value 'later'"):
        control.decode_event(json.dumps(dict(event, cause="later")))


class ScriptedDaemon:
    """A Unix socket server on a thread: answers each request line with answer(request dict)."""

    def __init__(self, answer):
        self.dir = tempfile.mkdtemp(prefix="pbxst-pyctl-")
        self.path = os.path.join(self.dir, "c.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(4)
        self.answer = answer
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        conn, _ = self.sock.accept()
        with conn, conn.makefile("rwb") as f:
            for line in f:
                f.write((json.dumps(self.answer(json.loads(line))) + "\n").encode())
                f.flush()

    def close(self):
        self.sock.close()
        self.thread.join(timeout=5)
        os.unlink(self.path)
        os.rmdir(self.dir)


def test_client_calls_refusals_and_pipelines():
    def answer(req):
        if req["op"] == "set_device" and req["device"] == "":
            return {"ok": False, "code": "invalid_argument", "error": "device name is empty"}
        if req["op"] == "set_device" and req.get("state") not in {"INUSE", "NOT_INUSE"}:
            return {"ok": False, "code": "bad_request", "error": "set_device: field 'state'"}
        return {"ok": True, "t_mono_ns": len(req["device"])}

    daemon = ScriptedDaemon(answer)
    try:
        with control.Client(daemon.path, timeout=5.0) as c:
            assert c.call("set_device", device="abc", state="INUSE") == {"ok": True, "t_mono_ns": 3}
            with pytest.raises(control.ControlError) as e:
                c.call("set_device", device="", state="INUSE")
            assert e.value.code == "invalid_argument"
            assert e.value.message == "device name is empty"
            assert e.value.response["ok"] is False
            assert c.request("set_device", device="", state="INUSE")["code"] == "invalid_argument"
            raw = c.request_line(json.dumps({"op": "set_device", "device": "x", "state": "SLEEPY"}))
            assert raw["code"] == "bad_request"
            requests = [{"op": "set_device", "device": "d" * (i % 7 + 1), "state": "INUSE"} for i in range(500)]
            answers = c.pipeline(requests, timeout=30)
            assert [a["t_mono_ns"] for a in answers] == [i % 7 + 1 for i in range(500)]
    finally:
        daemon.close()


def test_netns_module_is_the_cpp_builder():
    netns = pbxstate.netns
    assert netns.MAX_NODES == 16
    # Nothing here creates a namespace (the live tests do, under the netns lock): the classes and
    # the leftover check of a pid that never ran a cluster.
    assert netns.leftovers(2 ** 22 + 1) == []
    assert "sim/netns" in netns.__doc__
    for name in ("spawn", "start_corosync", "start_pbxstated", "cut", "heal", "teardown", "leftovers"):
        assert hasattr(netns.Cluster, name)
