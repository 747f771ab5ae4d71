"""The soak's workload: churned device and registration changes, and the state they must leave.

Every change is a control request for one node. Each device is set and removed by one node only
(its owner), so the expected aggregate of a device is its owner's last state; each AOR is
registered once, by one node, with a fresh name and an expiry, and is never renewed: it leaves
every view when it expires. Names are drawn from a growing space (a counter), so a name never
comes back and every name the engines intern must be freed for memory to stay flat.

All choices come from one seeded random generator: the same seed and counts give the same
changes (the times they are made at are the machine's).
"""

import random

DEVICE_STATES = ("INUSE", "NOT_INUSE", "RINGING", "ONHOLD", "BUSY")


class Workload:
    """Generates changes and keeps the expected final state.

    live_devices: devices held at once at most (a PBX's provisioned devices); a set on a
    fresh name is made only while fewer are live, else a set changes a live device's state.
    remove_share, register_share: the share of changes that remove a live device and that
    register a fresh AOR; the rest set a device. ttl_min_s..ttl_max_s: a registration's
    lifetime, uniform.
    """

    def __init__(self, seed, nodes, prefix, live_devices, remove_share, register_share, ttl_min_s, ttl_max_s):
        self.rng = random.Random(seed)
        self.nodes = tuple(nodes)
        self.prefix = prefix
        self.live_limit = live_devices
        self.remove_share = remove_share
        self.register_share = register_share
        self.ttl_min_ns = int(ttl_min_s * 1e9)
        self.ttl_max_ns = int(ttl_max_s * 1e9)
        self.devices = {}        # name -> [owner, state]: the devices a node contributes to now
        self.device_list = []    # the same names, for a uniform pick (swap-removal)
        self.device_index = {}   # name -> its position in device_list
        self.registrations = {}  # aor -> (owner, contact, expires_unix_ns)
        self.counts = {"set_new": 0, "set_state": 0, "remove": 0, "register": 0}
        self.next_device = 0
        self.next_aor = 0

    # ---- the expected state ----
    def _add_device(self, name, owner, state):
        self.devices[name] = [owner, state]
        self.device_index[name] = len(self.device_list)
        self.device_list.append(name)

    def _drop_device(self, name):
        i = self.device_index.pop(name)
        last = self.device_list.pop()
        if last != name:
            self.device_list[i] = last
            self.device_index[last] = i
        del self.devices[name]

    def forget_expired(self, now_unix_ns):
        """Drops expected registrations that expired before now (keeps the dictionary bounded by the
        registrations alive, ttl_max x rate at most)."""
        gone = [a for a, (_, _, exp) in self.registrations.items() if exp <= now_unix_ns]
        for a in gone:
            del self.registrations[a]

    # ---- changes ----
    def next_change(self, now_unix_ns):
        """(node, request dict) of the next change; the expected state already includes it."""
        roll = self.rng.random()
        if roll < self.register_share:
            return self._register(now_unix_ns)
        if roll < self.register_share + self.remove_share and self.device_list:
            name = self.device_list[self.rng.randrange(len(self.device_list))]
            owner = self.devices[name][0]
            self._drop_device(name)
            self.counts["remove"] += 1
            return owner, {"op": "remove_device", "device": name}
        if len(self.device_list) < self.live_limit:
            name = f"Custom:{self.prefix}d{self.next_device}"
            self.next_device += 1
            owner = self.rng.choice(self.nodes)
            state = self.rng.choice(DEVICE_STATES)
            self._add_device(name, owner, state)
            self.counts["set_new"] += 1
            return owner, {"op": "set_device", "device": name, "state": state}
        name = self.device_list[self.rng.randrange(len(self.device_list))]
        entry = self.devices[name]
        entry[1] = self.rng.choice([s for s in DEVICE_STATES if s != entry[1]])
        self.counts["set_state"] += 1
        return entry[0], {"op": "set_device", "device": name, "state": entry[1]}

    def _register(self, now_unix_ns):
        aor = f"{self.prefix}a{self.next_aor}"
        owner = self.rng.choice(self.nodes)
        contact = f"sip:{aor}@198.18.0.{owner}:5060;n={self.next_aor}"
        expires = now_unix_ns + self.rng.randint(self.ttl_min_ns, self.ttl_max_ns)
        self.next_aor += 1
        self.registrations[aor] = (owner, contact, expires)
        self.counts["register"] += 1
        return owner, {"op": "register", "aor": aor, "contact": contact, "expires_unix_ns": expires}

    def names_used(self):
        return {"devices": self.next_device, "aors": self.next_aor}


# ---- checking a dump against the expected state ----------------------------------------------------

def dump_devices(dump):
    """{device: (node, state)} of a dump's devices with a contribution (a removed device's tombstone
    is not a device anyone contributes to); a device with several contributions maps to a list."""
    out = {}
    for d in dump["devices"]:
        cs = d["contributions"]
        if not cs:
            continue
        out[d["device"]] = (cs[0]["node"], cs[0]["state"]) if len(cs) == 1 else [(c["node"], c["state"]) for c in cs]
    return out


def dump_registrations(dump):
    """{aor: [(node, contact, expires_unix_ns), ...]} of a dump."""
    out = {}
    for r in dump["registrations"]:
        out.setdefault(r["aor"], []).append((r["node"], r["contact"], r["expires_unix_ns"]))
    return out


def compare_final(workload, dumps):
    """The problems found comparing every node's dump with the expected state and with each other
    ([] when all agree). Registrations expiring inside the window the dumps were read in (from the
    earliest as_of_from to the latest as_of_to) may be held by some and not by others: they are
    left out of both comparisons and counted."""
    problems = []
    lo = min(d["as_of_from_unix_ns"] for d in dumps.values())
    hi = max(d["as_of_to_unix_ns"] for d in dumps.values())
    want_dev = {n: tuple(v) for n, v in workload.devices.items()}
    want_reg = {a: [v] for a, v in workload.registrations.items() if v[2] > hi}
    in_window = sum(1 for v in workload.registrations.values() if lo <= v[2] <= hi)
    per_node = {}
    for node, d in dumps.items():
        dev = dump_devices(d)
        reg = {a: v for a, v in dump_registrations(d).items() if not any(lo <= x[2] <= hi for x in v)}
        per_node[node] = (dev, reg)
        problems += _diff(f"node {node} devices", dev, want_dev)
        problems += _diff(f"node {node} registrations", reg, want_reg)
        if d["mailboxes"]:
            problems.append(f"node {node}: {len(d['mailboxes'])} mailboxes, the workload wrote none")
    first = min(per_node)
    for node in per_node:
        if node != first and per_node[node] != per_node[first]:
            problems.append(f"nodes {first} and {node} disagree")
    return problems, {"devices_expected": len(want_dev), "registrations_expected": len(want_reg),
                      "registrations_expiring_while_read": in_window}


def _diff(what, got, want, shown=5):
    missing = [k for k in want if k not in got]
    extra = [k for k in got if k not in want]
    wrong = [k for k in want if k in got and got[k] != want[k]]
    out = []
    for label, keys in (("missing", missing), ("unexpected", extra), ("different", wrong)):
        if keys:
            sample = ", ".join(f"{k}: got {got.get(k)!r} want {want.get(k)!r}" for k in keys[:shown])
            out.append(f"{what}: {len(keys)} {label} (first: {sample})")
    return out
