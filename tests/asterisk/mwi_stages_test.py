"""bench/asterisk/mwi_stages.py on a fixed perf script text: two MWI updates, one stage each known."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench", "asterisk"))
sys.dont_write_bytecode = True
import mwi_stages as ms  # noqa: E402

# (us after the update's start, pid/tid, probe); origin Asterisk 100, receiver 200.
ONE_UPDATE = ((0, "100/101", "probe_asterisk:mwi16_pub"), (2, "100/101", "probe_asterisk:mwi16_pubret__return"),
              (60, "100/102", "probe_res_pbxstate:mwi16_our_stasis"), (85, "100/102", "probe_libcpg:mwi16_mcast"),
              (150, "100/102", "probe_libcpg:mwi16_mcastret__return"), (900, "200/201", "probe_libcpg:mwi16_dispatch"),
              (912, "200/201", "probe_res_pbxstate:mwi16_our_deliver"), (932, "200/201", "probe_asterisk:mwi16_pub"),
              (1040, "200/203", "probe_res_pbxbench:mwi16_arrival"),
              (1100, "200/201", "probe_asterisk:mwi16_pubret__return"))


def perf_text(starts_s):
    lines = []
    for start in starts_s:
        for us, ids, probe in ONE_UPDATE:
            ns = int(round(start * 1e9)) + us * 1000
            lines.append(f"  {ids} {ns // 10**9}.{ns % 10**9:09d}:   {probe}: (7f00)")
    lines.append("not a stamp line")
    return "\n".join(reversed(lines))  # out of order: parse() sorts


def test_stages_of_each_update():
    rows = ms.chains(ms.parse(perf_text([100.0, 100.05])))
    assert len(rows) == 2
    expected = {"origin_to_module": 60000, "module_origin": 25000, "mcast_call": 65000, "mcast_to_dispatch": 815000,
                "dispatch_to_deliver": 12000, "module_receiver": 20000, "publish_to_arrival": 108000,
                "publish_call": 168000, "total": 1040000}
    assert all({k: r[k] for k in ms.STAGES} == expected for r in rows)
    summary = ms.summarise(rows)
    assert summary["mwi_new"]["module_receiver"] == 20.0 and summary["mwi_existing"]["n"] == 1
    assert "receiver_preempted" not in summary["mwi_new"]


def switch(at_s, tid, state):
    ns = int(round(at_s * 1e9))
    return (f"  200/{tid} {ns // 10**9}.{ns % 10**9:09d}: sched:sched_switch: prev_comm=asterisk prev_pid={tid} "
            f"prev_prio=115 prev_state={state} ==> next_comm=corosync next_pid=9 next_prio=0")


def test_preemptions_in_the_receiver_window():
    text = "\n".join([perf_text([100.0, 100.05]),
                      switch(100.000920, 201, "R"),    # update 1: 8 us after the deliver callback
                      switch(100.050920, 201, "S"),    # update 2: it slept, not preempted
                      switch(100.050925, 202, "R"),    # another thread
                      switch(100.050940, 201, "R")])   # after the publish
    summary = ms.summarise(ms.chains(ms.parse(text)), ms.preemptions(text))
    assert summary["mwi_new"]["receiver_preempted"] == 1 and summary["mwi_new"]["preempted_after_us"] == 8.0
    assert summary["mwi_new"]["preempted_by"] == {"corosync": 1}
    assert summary["mwi_existing"]["receiver_preempted"] == 0 and summary["mwi_existing"]["preempted_after_us"] is None


def test_an_update_that_never_arrived_is_left_out():
    text = perf_text([100.0, 100.05]).splitlines()
    text = [line for line in text if not ("mwi16_arrival" in line and "100.05" in line)]
    assert len(ms.chains(ms.parse("\n".join(text)))) == 1


def test_no_receiver_publish_is_an_error():
    text = "\n".join(line for line in perf_text([100.0]).splitlines() if "mwi16_our_deliver" not in line)
    try:
        ms.chains(ms.parse(text))
    except ValueError as e:
        assert "no publish on one side" in str(e)
    else:
        raise AssertionError("expected a ValueError")


def test_a_missing_or_unusable_file_exits_2_naming_it(tmp_path, capsys):
    assert ms.main([str(tmp_path / "absent.txt")]) == 2
    assert "absent.txt" in capsys.readouterr().err
    empty = tmp_path / "empty.txt"
    empty.write_text("nothing here\n")
    assert ms.main([str(empty)]) == 2
    assert "empty.txt: no publish on one side" in capsys.readouterr().err
