"""Per-thread CPU and context switches of an Asterisk over a burst (asterisk_bench.py's `threads`).

Which thread does the work a clustering module adds (its subscriptions' taskprocessors, its node
thread, the publisher, Asterisk's own taskprocessors woken for it) is read from the kernel:
/proc/<pid>/task/<tid>/stat (utime + stime) and .../status (voluntary_ctxt_switches: the thread
slept, waiting for work or a lock; nonvoluntary_ctxt_switches: it was preempted). Asterisk names
its threads only in `core show threads` (the start routine, its file and caller), so a thread's
label is that, prefixed `module:` for the threads that appeared when the clustering module was
loaded (its node thread and its subscriptions' taskprocessors); threads Asterisk does not list
(the main thread, the console) keep their kernel name.
"""

import os
import re

CLK_TCK = os.sysconf("SC_CLK_TCK")
# `core show threads`: "0x7f... 12345 start_fn              started at [  202] file.c caller()"
THREAD_ROW = re.compile(r"^0x[0-9a-f]+ (\d+) (\S+)\s+started at \[\s*\d+\] (\S+) (\S+)\(\)\s*$")
MAX_THREADS = 4096  # an Asterisk with more threads than this is not the benchmark's
ENDED_THREADS = "threads that ended in the burst (the load module's publishing thread)"


def listed_threads(cli_output):
    """lwp -> label, from `core show threads`."""
    out = {}
    for line in cli_output.splitlines():
        m = THREAD_ROW.match(line.strip())
        if m:
            out[int(m.group(1))] = f"{m.group(2)} ({m.group(3)} {m.group(4)})"
    return out


def read_stat(path):
    """(kernel name, user + system CPU ticks) from a /proc .../stat file."""
    with open(path) as f:
        head, _, rest = f.read().rpartition(")")
    fields = rest.split()
    return head.partition("(")[2], int(fields[11]) + int(fields[12])


def snapshot(pid):
    """{"process": CPU ticks of the whole process (ended threads included), "threads": tid -> (kernel
    name, CPU ticks, voluntary switches, nonvoluntary switches)}."""
    threads = {}
    for tid in os.listdir(f"/proc/{pid}/task")[:MAX_THREADS]:
        try:
            name, ticks = read_stat(f"/proc/{pid}/task/{tid}/stat")
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                status = dict(line.split(":", 1) for line in f if ":" in line)
        except FileNotFoundError:
            continue  # the thread ended between the listing and the read
        threads[int(tid)] = (name, ticks, int(status["voluntary_ctxt_switches"]),
                             int(status["nonvoluntary_ctxt_switches"]))
    return {"process": read_stat(f"/proc/{pid}/stat")[1], "threads": threads}


def per_change(before, after, labels, module_tids, count):
    """label -> {threads, cpu_us, voluntary, nonvoluntary} per change over the burst, for the
    threads that ran in it (a thread that began in it counts from zero), busiest first. The CPU of
    the threads that ended in it (the load module's publishing thread) is the process's less its
    live threads': ENDED_THREADS, with no switch counts."""
    rows = {}
    live_ticks = 0
    for tid, (name, ticks, vol, nonvol) in after["threads"].items():
        t0, v0, n0 = before["threads"].get(tid, (name, 0, 0, 0))[1:]
        live_ticks += ticks - t0
        if ticks == t0 and vol == v0 and nonvol == n0:
            continue
        label = labels.get(tid, name)
        if tid in module_tids:
            label = "module: " + label
        r = rows.setdefault(label, {"threads": 0, "cpu_s": 0.0, "voluntary": 0, "nonvoluntary": 0})
        r["threads"] += 1
        r["cpu_s"] += (ticks - t0) / CLK_TCK
        r["voluntary"] += vol - v0
        r["nonvoluntary"] += nonvol - n0
    ended = after["process"] - before["process"] - live_ticks
    if ended > 0:
        rows[ENDED_THREADS] = {"threads": 0, "cpu_s": ended / CLK_TCK, "voluntary": 0, "nonvoluntary": 0}
    out = {}
    for label, r in sorted(rows.items(), key=lambda kv: -kv[1]["cpu_s"]):
        out[label] = {"threads": r["threads"], "cpu_us": round(r["cpu_s"] * 1e6 / count, 2),
                      "voluntary": round(r["voluntary"] / count, 4),
                      "nonvoluntary": round(r["nonvoluntary"] / count, 4)}
    return out


def summary_lines(per_thread, top=8):
    """The busiest `top` labels, one line each, for the console."""
    return [f"    {r['cpu_us']:8.2f} us  {r['voluntary']:7.3f} vol  {r['nonvoluntary']:7.3f} invol  "
            f"x{r['threads']:<3d} {label}" for label, r in list(per_thread.items())[:top]]
