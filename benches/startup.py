"""Start-up: what a user waits for before lmgauge does anything, and one-system metric calls as
shell scripts make them, lmgauge beside sacrebleu 2.6.0 in the same run. Whole processes, medians
of REPEATS runs. Prints a Markdown section.

`lmgauge` is the launcher, linked without libtorch; `lmgauge-torch` is the same command line
linked to libtorch, which the launcher hands commands that load a neural model to (and which every
command used before the split): its row is what start-up would cost without the split.
"""
import statistics, subprocess, sys, time

PY = sys.executable
LMGAUGE = "target/release/lmgauge"
TORCH = "target/release/lmgauge-torch"
WMT = "data/wmt17-en-de"
REF = f"{WMT}/newstest2017.ref.de"
SYSTEMS = [f"{WMT}/newstest2017.{s}.hyp.de" for s in ["uedin-nmt.4722", "KIT.4950", "online-B.0", "PROMT-Rule-based.4735"]]
REPEATS = 7


def wall(cmds):
    """Median seconds to run the commands one after another."""
    runs = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        for cmd in cmds:
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def loop(binary, sacre):
    """Eight calls a shell loop would make: BLEU and chrF of each of the four systems."""
    if sacre:
        return [[PY, "-m", "sacrebleu", REF, "-i", s, "-m", m] for s in SYSTEMS for m in ["bleu", "chrf"]]
    return [[binary, m, "-r", REF, "-i", s] for s in SYSTEMS for m in ["bleu", "chrf"]]


rows = [
    ("`--version`", wall([[LMGAUGE, "--version"]]), wall([[TORCH, "--version"]]), None),
    ("`--help`", wall([[LMGAUGE, "--help"]]), wall([[TORCH, "--help"]]), wall([[PY, "-m", "sacrebleu", "--help"]])),
    (
        "BLEU of one system (3,004 segments)",
        wall([[LMGAUGE, "bleu", "-r", REF, "-i", SYSTEMS[0]]]),
        wall([[TORCH, "bleu", "-r", REF, "-i", SYSTEMS[0]]]),
        wall([[PY, "-m", "sacrebleu", REF, "-i", SYSTEMS[0], "-m", "bleu"]]),
    ),
    ("8 calls: BLEU and chrF of 4 systems", wall(loop(LMGAUGE, False)), wall(loop(TORCH, False)), wall(loop(None, True))),
]

print("## Start-up: lmgauge without and with libtorch, beside sacrebleu 2.6.0\n")
print("Whole processes, median of", REPEATS, "runs. `lmgauge` is linked without libtorch and hands the commands "
      "that load a neural model to `lmgauge-torch` (src/cli/launch.rs); `lmgauge-torch` is the same command "
      "line linked to libtorch, as every command ran before the split. Speed-up = sacrebleu's time / lmgauge's.\n")
print("| command | lmgauge s | lmgauge-torch s | sacrebleu s | speed-up vs sacrebleu |")
print("|---|---:|---:|---:|---:|")
for name, lite, torch, sacre in rows:
    s = f"{sacre:.3f} | {sacre / lite:.0f}×" if sacre else "– | –"
    print(f"| {name} | {lite:.3f} | {torch:.3f} | {s} |")
print("\nTarget (issue #21): start-up under 50 ms for every command that loads no neural model; one-system "
      "`lmgauge bleu` ≥ 20× faster than one `sacrebleu` call, whole processes.\n")
