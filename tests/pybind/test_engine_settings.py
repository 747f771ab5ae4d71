"""pbxstate.Cluster(engine={...}) as a host of the table of engine settings
(engine/include/pbxstate/engine_settings.h): for every row, min and max are accepted and one unit
below min and one above max are refused, naming the setting. Durations are seconds here."""
import pytest

import pbxstate

SETTINGS = pbxstate.engine_settings()


def python_value(row, value):
    """`value` in the row's unit, as Cluster(engine=...) takes it: seconds for durations."""
    return value / 1000.0 if row["unit"] == "ms" else value


def permissive():
    """Every setting at its permissive value: any one of them may then take any value of its range."""
    return {row["name"]: python_value(row, row["permissive"]) for row in SETTINGS}


def test_the_table_is_there_and_well_formed():
    names = [row["name"] for row in SETTINGS]
    assert len(names) == len(set(names)) > 20
    for row in SETTINGS:
        assert row["unit"] in ("ms", "count", "bytes")
        assert row["min"] <= row["default"] <= row["max"], row
        assert row["min"] <= row["permissive"] <= row["max"], row
        assert row["key"] == row["name"] + ("_ms" if row["unit"] == "ms" else "")
        assert row["doc"] and "\n" not in row["doc"]
    with pbxstate.Cluster(nodes=1, engine=permissive()):
        pass


@pytest.mark.parametrize("row", SETTINGS, ids=[row["name"] for row in SETTINGS])
def test_every_setting_accepts_its_range_and_refuses_one_past_it(row):
    for value in (row["min"], row["max"]):
        engine = permissive()
        engine[row["name"]] = python_value(row, value)
        with pbxstate.Cluster(nodes=1, engine=engine):
            pass
    outside = [row["max"] + 1, row["min"] - 1]  # min - 1 is -1 where min is 0: refused as negative
    for value in outside:
        engine = permissive()
        engine[row["name"]] = python_value(row, value)
        with pytest.raises(ValueError, match=r"engine\.%s: expected" % row["name"]):
            pbxstate.Cluster(nodes=1, engine=engine)


def test_node_sites_the_site_map_as_text_or_dict():
    """node_sites is not a row of the table (site_map.h): its text or a dict {node: site}, read by the
    engine's own ParseSiteMap; the engine's Validate judges it against the cluster."""
    for sites in ("1-2:0, 3-4:1", {1: 0, 2: 0, 3: 1, 4: 1}):
        with pbxstate.Cluster(nodes=4, engine={"relays_per_site": 1, "node_sites": sites}) as c:
            c.set_device_state(0, "Custom:sites", "INUSE")
            c.advance(1)
            assert all(c.device_state(i, "Custom:sites") == pbxstate.DeviceState.INUSE for i in range(4))
    with pytest.raises(ValueError, match=r"engine\.node_sites: .*"):
        pbxstate.Cluster(nodes=2, engine={"node_sites": "1:0, 1:1"})
    with pytest.raises(ValueError, match=r"engine\.node_sites: .*"):
        pbxstate.Cluster(nodes=2, engine={"node_sites": {0: 1}})
    with pytest.raises(TypeError, match=r"engine\.node_sites: expected"):
        pbxstate.Cluster(nodes=2, engine={"node_sites": [1, 2]})
    with pytest.raises(TypeError, match=r"engine\.node_sites: expected integer nodes and sites"):
        pbxstate.Cluster(nodes=2, engine={"node_sites": {"1": 0}})
    # A map without every node while relays run: the engine's own refusal.
    with pytest.raises(ValueError, match="node_sites"):
        pbxstate.Cluster(nodes=3, engine={"relays_per_site": 1, "node_sites": "1-2:0"})
    with pytest.raises(ValueError, match=r"expected one of .*node_sites"):
        pbxstate.Cluster(nodes=1, engine={"node_site": ""})
