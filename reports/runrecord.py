"""What the report pages share: reading a run record, units, plots as embedded PNGs, the page
frame (style and the load check that the screenshot test reads).

Every page is one self-contained HTML file: no network fetch, plots embedded as PNG data.
"""

import base64
import csv
import html
import io
import json
import math
import os
import stat
import sys
import traceback

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

NS_PER_S = 1e9
NS_PER_MS = 1e6


class ReportError(Exception):
    pass


# The most a page reads of one file. run.json holds no per-change rows (a 1,000-node run's is a
# few MB); latencies.csv holds at most 5,000,000 rows (harness::kMaxLatencyRows, about 300 MB).
MAX_RUN_JSON_BYTES = 256 << 20
MAX_CSV_BYTES = 1 << 30


def check_file(path, max_bytes):
    """Raises ReportError unless `path` is a regular file of at most `max_bytes`: a FIFO would
    block the page for ever, a device such as /dev/zero would never end."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise ReportError(f"{path}: {e.strerror}") from e
    if not stat.S_ISREG(st.st_mode):
        raise ReportError(f"{path}: not a regular file; expected a file of the run record")
    if st.st_size > max_bytes:
        raise ReportError(f"{path}: {st.st_size} bytes, more than the {max_bytes} a page reads")


def load_run(run_dir):
    path = os.path.join(run_dir, "run.json")
    check_file(path, MAX_RUN_JSON_BYTES)
    try:
        with open(path, encoding="utf-8") as f:
            run = json.load(f)
    except OSError as e:
        raise ReportError(f"{path}: {e.strerror}") from e
    except json.JSONDecodeError as e:
        raise ReportError(f"{path}:{e.lineno}:{e.colno}: not JSON: {e.msg}") from e
    if run.get("format") != "pbxstate-run/1":
        raise ReportError(f"{path}: format: expected pbxstate-run/1, found {run.get('format')!r}")
    return run


def _optional_int(text):
    return int(text) if text != "" else None


# How each kind of CSV value reads (harness::CsvValue, by the names `pbxstate describe-metrics`
# exports) and what it is called in an error.
CSV_VALUES = {"integer": (int, "an integer"), "optional integer": (_optional_int, "an integer or nothing"),
              "text": (str, "text")}

# The columns of the run record's CSV files in order, with the kind of each value: the C++ defines
# them (kRunCsvFiles, sim/harness/include/pbxstate/harness/csv.h: the writer's header and every
# field are held to them; RFC 4180 with every key quoted) and `pbxstate describe-metrics` exports
# them; tests/reports/contract_test.py fails when these differ from that export in any column,
# its place or its kind, and when a run's files have other headers.
CSV_COLUMNS = {
    "latencies.csv": [("change", "integer"), ("origin", "integer"), ("kind", "text"), ("key", "text"),
                      ("at_ns", "integer"), ("node", "integer"), ("latency_ns", "integer")],
    "changes.csv": [("change", "integer"), ("origin", "integer"), ("kind", "text"), ("key", "text"),
                    ("at_ns", "integer"), ("stable_ns", "optional integer")],
}


def read_csv(run_dir, name):
    """The rows of a run record's CSV file as dicts of text (the pages convert what they plot);
    [] when the file does not exist. Every value is checked against CSV_COLUMNS first: raises
    ReportError naming file, line and column when the file is not what the run record writes."""
    path = os.path.join(run_dir, name)
    if not os.path.exists(path):
        return []
    check_file(path, MAX_CSV_BYTES)
    columns = CSV_COLUMNS.get(name, [])
    rows, reader = [], None
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f, strict=True)
            missing = [c for c, _ in columns if c not in (reader.fieldnames or [])]
            if missing:
                raise ReportError(f"{path}:1: expected the columns {', '.join(c for c, _ in columns)}; "
                                  f"missing {', '.join(missing)}")
            for row in reader:
                if None in row or None in row.values():
                    raise ReportError(f"{path}:{reader.line_num}: expected {len(reader.fieldnames)} "
                                      f"fields ({', '.join(reader.fieldnames)}), found another number")
                for column, value in columns:
                    read, what = CSV_VALUES[value]
                    try:
                        read(row[column])
                    except ValueError:
                        raise ReportError(f"{path}:{reader.line_num}: {column}: expected {what}, "
                                          f"got {row[column]!r}") from None
                rows.append(row)
    except OSError as e:
        raise ReportError(f"{path}: {e.strerror}") from e
    except UnicodeDecodeError as e:
        raise ReportError(f"{path}: not UTF-8: {e.reason}") from e
    except csv.Error as e:
        raise ReportError(f"{path}:{reader.line_num if reader else 1}: not CSV: {e}") from e
    return rows


def fault_windows(run, run_dir):
    """The stretches a fault was in force, as run.json's fault_windows holds them (the runner
    writes the windows it applied: sim/harness/include/pbxstate/harness/fault_windows.h):
    [(start_s, end_s, the fault that opened it)]. A record without them is refused: the pages read
    the records of the pbxstate they ship with (reports/README.md, "Older records")."""
    if "fault_windows" not in run:
        raise ReportError(f"{os.path.join(run_dir, 'run.json')}: fault_windows: missing; the record is older "
                          f"than these pages (run the scenario again with this pbxstate)")
    return [(w["start_ns"] / NS_PER_S, w["end_ns"] / NS_PER_S, w["opened_by"]) for w in run["fault_windows"]]


def shade(ax, windows):
    for i, (a, b, label) in enumerate(windows):
        ax.axvspan(a, b, color="tab:red", alpha=0.12, label="fault window" if i == 0 else None)


def figure_png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def latency_samples_ms(deliveries, changes):
    """[(kind, sorted latencies in ms)] of a run's CSV rows: delivery, then stable (a change that
    never became stable has none)."""
    return [("delivery", sorted(int(r["latency_ns"]) / NS_PER_MS for r in deliveries)),
            ("stable", sorted(int(r["stable_ns"]) / NS_PER_MS for r in changes if r["stable_ns"]))]


def draw_cdf(ax, values, label, *style, **kwargs):
    """One empirical CDF of sorted `values` on `ax`."""
    n = len(values)
    ax.step(values, [(i + 1) / n for i in range(n)], *style, where="post", label=label, **kwargs)


def finish_cdf(ax, title):
    """The axes of a latency CDF. Most samples sit near the link delay, a few wait out a fault:
    a log scale shows both."""
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel("latency (ms, log scale above 1 ms)")
    ax.set_ylabel("fraction of samples")
    ax.set_title(title)
    ax.grid(alpha=0.3)


def quantile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    i = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[min(i, len(sorted_values)) - 1]


# Which of run.json's metrics are durations (in ns): the families named here, but for the counts
# named apart. The C++ gives every metric its kind (scenario::Metrics(), printed by `pbxstate
# describe-metrics`); tests/reports/contract_test.py fails when these say otherwise for any of them.
DURATION_METRIC_PREFIXES = ("delivery_latency.", "stable_latency.", "convergence.")
COUNTS_AMONG_DURATIONS = {"convergence.interrupted"}


def is_duration_metric(metric):
    return metric.startswith(DURATION_METRIC_PREFIXES) and metric not in COUNTS_AMONG_DURATIONS


def fmt_value(metric, value):
    if value is None:
        return "never"
    if is_duration_metric(metric):
        return fmt_ns(value)
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.3g}"
    return f"{int(value)}"


def fmt_field(name, value):
    """A plain field of run.json (not a metric) for a page: run.json writes times in ns under names
    ending in _ns, and null where there is no value."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if name.endswith("_ns") and isinstance(value, (int, float)):
        return fmt_ns(value)
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.4g}"
    return str(value)


def flatten(fields, prefix=""):
    """A record's nested fields as one level, named with dots: {"a": {"b": 1}} -> {"a.b": 1}."""
    out = {}
    for name, value in fields.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = value
    return out


def left_out(name, leave_out):
    """Whether flattened field `name` is one of `leave_out` or inside one of them."""
    return any(name == field or name.startswith(field + ".") for field in leave_out)


def field_names(records, leave_out=()):
    """Every field name of `records` (dicts), flattened, in the order first seen, but those
    `leave_out` names (and what is inside them): the columns of a table that shows whatever
    run.json holds, without a list of its own."""
    names = {}
    for r in records:
        for name in flatten(r):
            if not left_out(name, leave_out):
                names.setdefault(name, None)
    return list(names)


def check_status(c):
    """A check of run.json as 'pass', 'fail' or 'na' (not applicable on the run's backend: the
    check names the backends it is for; neither passed nor failed)."""
    if "not_applicable" in c:
        return "na"
    return "pass" if c["pass"] else "fail"


CHECK_LABEL = {"pass": "PASS", "fail": "FAIL", "na": "N/A"}


def check_seen(c):
    """What a check of run.json observed, for a page: the value, 'not measured', or why it does
    not apply."""
    if "not_applicable" in c:
        return c["not_applicable"]
    return fmt_value(c["metric"], c["observed"]) if c["measured"] else "not measured"


def convergence_text(c):
    """One convergence sample as a person reads it: its time, "interrupted by ..." or "never"."""
    if c["converged"]:
        return fmt_ns(c["took_ns"])
    if c.get("interrupted"):
        return f"interrupted by {c.get('interrupted_by')} at {fmt_ns(c.get('until_ns'))}"
    return "never"


def convergence_worst(run):
    """The slowest sample that was not interrupted: None when one never converged, "-" without any."""
    conv = [c for c in run.get("convergence", []) if not c.get("interrupted")]
    if not conv:
        return "-"
    if any(not c["converged"] for c in conv):
        return None
    return max(c["took_ns"] for c in conv)


def fmt_ns(ns):
    if ns is None:
        return "never"
    if ns >= NS_PER_S:
        return f"{ns / NS_PER_S:.3g} s"
    if ns >= NS_PER_MS:
        return f"{ns / NS_PER_MS:.3g} ms"
    return f"{ns / 1e3:.3g} µs"



def plot_figure(title, png, plot_id):
    """An embedded plot. `plot_id` names it for the page check (data-plot)."""
    e = html.escape
    return (f"<figure><img class='plot' data-plot='{e(plot_id)}' alt='{e(title)}' "
            f"src='data:image/png;base64,{png}'><figcaption>{e(title)}</figcaption></figure>")


STYLE = """
body { font-family: sans-serif; margin: 2em; max-width: 1100px; }
table { border-collapse: collapse; margin: 1em 0; font-size: 90%; }
td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
td:first-child, th:first-child { text-align: left; }
tr.pass td:first-child { color: #060; font-weight: bold; }
tr.fail td:first-child { color: #b00; font-weight: bold; }
tr.na td:first-child, td.na { color: #666; }
td.pass, p.pass { color: #060; } td.fail, p.fail { color: #b00; }
.better { color: #060; } .worse { color: #b00; font-weight: bold; }
figure { margin: 1.5em 0; } img { max-width: 100%; }
.scroll { overflow-x: auto; }
"""

# Runs in the reader's browser once the page has loaded: marks on <html> how many plots decoded
# (data-plots-loaded), which did not (data-plots-broken) and how many errors the page raised
# (data-page-errors). Nothing is fetched; tests/reports/screenshot_test.py reads the marks.
PAGE_CHECK = """<script>
(function () {
  var root = document.documentElement;
  root.dataset.pageErrors = "0";
  window.addEventListener("error", function () {
    root.dataset.pageErrors = String(Number(root.dataset.pageErrors) + 1);
  }, true);
  window.addEventListener("load", function () {
    var imgs = Array.prototype.slice.call(document.querySelectorAll("img.plot"));
    var broken = imgs.filter(function (i) { return !i.complete || i.naturalWidth === 0; });
    root.dataset.plotsLoaded = String(imgs.length - broken.length);
    root.dataset.plotsBroken = broken.map(function (i) { return i.dataset.plot; }).join(" ");
    root.dataset.checked = "1";
  });
})();
</script>"""


def page(title, body, extra_style=""):
    """A whole HTML page around `body` (already escaped HTML)."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{STYLE}{extra_style}</style>
{PAGE_CHECK}
</head><body>
{body}
</body></html>
"""


def find_runs(root, limit):
    """Run folders (holding run.json) under `root`, at most two levels down, sorted; at most
    `limit` of them. Returns (runs, how many more were found and left out)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        depth = os.path.relpath(dirpath, root).count(os.sep) + (0 if dirpath == root else 1)
        if "run.json" in filenames and dirpath != root:
            found.append(dirpath)
        if depth >= 2:
            dirnames[:] = []
        dirnames.sort()
    found.sort()
    return found[:limit], max(0, len(found) - limit)


def run_script(name, action):
    """Runs action() for a page script and returns its exit status: 0 when it returned, 2 with
    one line on stderr when it failed. A ReportError says what in the run record is wrong; any
    other exception is a fault in these scripts, reported with where it happened (never as a
    bare traceback, so that `pbxstate` can say plainly that the page, not the run, failed)."""
    try:
        action()
    except ReportError as err:
        print(f"{name}: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001 - the last line of defence, reported below
        frame = traceback.extract_tb(err.__traceback__)[-1]
        print(f"{name}: could not draw the page: {type(err).__name__}: {err} "
              f"(at {os.path.basename(frame.filename)}:{frame.lineno}; a fault in reports/, "
              f"please report it with the run folder)", file=sys.stderr)
        return 2
    return 0


def script_main(argv, doc, name, write):
    """The command line of a one-folder page script: `name DIR` → write(DIR), print its path.
    Exit 2 with the usage (`doc`) or the error on stderr."""
    if len(argv) != 2:
        print(doc.strip(), file=sys.stderr)
        return 2
    return run_script(name, lambda: print(write(argv[1])))
