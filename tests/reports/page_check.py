"""Opens a report page in headless Chromium (Debian's `chromium`) as a person would, and says
what is wrong with it: the page-check marks every pbxstate page sets once loaded (plots decoded,
page errors; see reports/runrecord.py), console errors, and a screenshot that is blank.
"""

import os
import re
import shutil
import subprocess
import tempfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.image  # noqa: E402

CHROMIUM_FLAGS = [
    # This machine's network is closed: without the background-networking, QUIC and component
    # update flags Chromium tries (and fails) to reach Google at every start.
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
    "--disable-background-networking", "--disable-component-update", "--disable-extensions",
    "--disable-sync", "--no-first-run",
    "--disable-default-apps", "--hide-scrollbars", "--mute-audio", "--enable-logging=stderr", "--v=0",
    # Plenty of virtual time for the load event; the pages fetch nothing.
    "--virtual-time-budget=10000",
]
TIMEOUT_S = 120


def chromium():
    path = shutil.which("chromium")
    if not path:
        raise RuntimeError("chromium is not installed (scripts/deps.sh installs Debian's chromium)")
    return path


def run_chromium(args, profile):
    cmd = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)


def check_page(page_path, expected_plots, screenshot=None, size=(1280, 4000)):
    """Returns a list of problems (empty when the page is fine). `expected_plots` are the
    data-plot ids that must be present and decoded. Writes the screenshot when asked."""
    problems = []
    url = "file://" + os.path.abspath(page_path)
    with tempfile.TemporaryDirectory(prefix="pbxstate-chromium-") as profile:
        dom = run_chromium(["--dump-dom", url], profile)
        if dom.returncode != 0:
            return [f"chromium --dump-dom exited {dom.returncode}: {dom.stderr[-2000:]}"]
        root = re.search(r"<html[^>]*>", dom.stdout)
        attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', root.group(0))) if root else {}
        if attrs.get("checked") != "1":
            problems.append("the page's load check did not run (no data-checked on <html>)")
        if attrs.get("page-errors", "0") != "0":
            problems.append(f"{attrs['page-errors']} page errors")
        if attrs.get("plots-broken"):
            problems.append(f"plots that did not decode: {attrs['plots-broken']}")
        found = re.findall(r"data-plot=\"([a-z_]+)\"", dom.stdout)
        for plot in expected_plots:
            if plot not in found:
                problems.append(f"plot {plot} missing")
        if attrs.get("plots-loaded") not in (None, str(len(found))):
            problems.append(f"{attrs.get('plots-loaded')} of {len(found)} plots loaded")
        for line in dom.stderr.splitlines():
            if "CONSOLE" in line or "Uncaught" in line:
                problems.append(f"console: {line.strip()}")
        if screenshot:
            shot = run_chromium([f"--screenshot={screenshot}", f"--window-size={size[0]},{size[1]}", url], profile)
            if shot.returncode != 0 or not os.path.exists(screenshot):
                problems.append(f"chromium --screenshot exited {shot.returncode}: {shot.stderr[-2000:]}")
            else:
                problems.extend(check_screenshot(screenshot, size, bool(expected_plots)))
    return problems


def check_screenshot(path, size, has_plots):
    """A screenshot of a real report has text (and, with plots, coloured plot lines) on white:
    refuse one that is blank, one without colour where plots are expected, or of the wrong
    size."""
    img = matplotlib.image.imread(path)
    problems = []
    h, w = img.shape[0], img.shape[1]
    if (w, h) != size:
        problems.append(f"screenshot is {w}x{h}, expected {size[0]}x{size[1]}")
    rgb = img[:, :, :3]
    non_white = (rgb.min(axis=2) < 0.9).mean()
    if non_white < 0.02:
        problems.append(f"screenshot is nearly blank ({non_white:.1%} non-white pixels)")
    # Plot lines are coloured: pixels whose channels differ markedly.
    coloured = ((rgb.max(axis=2) - rgb.min(axis=2)) > 0.3).mean()
    if has_plots and coloured < 0.001:
        problems.append(f"screenshot has no coloured plot pixels ({coloured:.3%})")
    return problems
