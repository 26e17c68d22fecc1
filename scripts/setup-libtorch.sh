#!/usr/bin/env bash
# Extracts libtorch 2.4.0 (what tch 0.17 links against) from the torch wheel on PyPI into
# ./libtorch, because download.pytorch.org is not reachable from every build machine while PyPI is.
#
#   scripts/setup-libtorch.sh          keep whatever libtorch ./libtorch holds (CPU or CUDA);
#                                      install the CPU one when there is none (make setup, which
#                                      make build/run/test depend on)
#   scripts/setup-libtorch.sh --cpu    CPU libtorch (~530 MB on disk), replacing a CUDA one
#   scripts/setup-libtorch.sh --cuda   CUDA libtorch: the full wheel plus its nvidia-* libraries (~5 GB)
#
# So `make setup-cuda` followed by `make run` keeps the CUDA build: only an explicit --cpu or
# --cuda replaces an installed flavour. Does nothing when LIBTORCH is set elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
    "") wanted=any ;;
    --cpu) wanted=cpu ;;
    --cuda) wanted=cuda ;;
    *) echo "usage: scripts/setup-libtorch.sh [--cpu|--cuda]" >&2; exit 2 ;;
esac
dest="$PWD/libtorch"
if [[ -n "${LIBTORCH:-}" && "${LIBTORCH}" != "$dest" ]]; then
    echo "LIBTORCH is set (${LIBTORCH}); not installing libtorch" >&2
    exit 0
fi
installed=""
if [[ -f "$dest/FLAVOUR" && -f "$dest/lib/libtorch.so" ]]; then
    installed="$(cat "$dest/FLAVOUR")"
fi
if [[ -n "$installed" && ( "$wanted" == any || "$wanted" == "$installed" ) ]]; then
    exit 0
fi
flavour=$([[ "$wanted" == any ]] && echo cpu || echo "$wanted")
PYTHON="${PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "fetching torch 2.4.0 from PyPI for a $flavour libtorch ..." >&2
pip_args=(download --quiet --disable-pip-version-check --no-deps --only-binary=:all:
          --platform manylinux1_x86_64 --python-version 3.11 --implementation cp -d "$work")
wheels=(torch==2.4.0 nvidia-cuda-runtime-cu12==12.1.105 nvidia-cuda-cupti-cu12==12.1.105)
if [[ $flavour == cuda ]]; then
    wheels+=(nvidia-cublas-cu12==12.1.3.1 nvidia-cudnn-cu12==9.1.0.70 nvidia-cufft-cu12==11.0.2.54
             nvidia-curand-cu12==10.3.2.106 nvidia-cusolver-cu12==11.4.5.107
             nvidia-cusparse-cu12==12.1.0.106 nvidia-nccl-cu12==2.20.5 nvidia-nvtx-cu12==12.1.105
             nvidia-nvjitlink-cu12==12.9.86 nvidia-cuda-nvrtc-cu12==12.1.105)
fi
"$PYTHON" -m pip "${pip_args[@]}" "${wheels[@]}"
rm -rf "$dest.partial" && mkdir -p "$dest.partial/lib"
"$PYTHON" - "$work" "$dest.partial" "$flavour" <<'PY'
import glob, os, shutil, sys, zipfile
work, dest, flavour = sys.argv[1:4]
lib = os.path.join(dest, "lib")
for wheel in sorted(glob.glob(os.path.join(work, "*.whl"))):
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            name = info.filename
            base = os.path.basename(name)
            if name.startswith("torch/include/"):
                target = os.path.join(dest, name[len("torch/"):])
            elif name.startswith("torch/share/"):
                target = os.path.join(dest, name[len("torch/"):])
            elif (name.startswith("torch/lib/") or "/lib/" in name) and ".so" in base:
                # The CPU build needs libtorch_cpu and what it links: c10, gomp, and the two CUDA
                # runtime libraries its profiler was built against (loaded, never used).
                if flavour == "cpu" and not (
                    base in ("libtorch_cpu.so", "libc10.so", "libcudart.so.12", "libcupti.so.12")
                    or base.startswith("libgomp")):
                    continue
                target = os.path.join(lib, base)
            else:
                continue
            if info.is_dir():
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with z.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
if flavour == "cpu":
    os.symlink("libtorch_cpu.so", os.path.join(lib, "libtorch.so"))
PY
echo "$flavour" > "$dest.partial/FLAVOUR"
echo "2.4.0" > "$dest.partial/VERSION"
rm -rf "$dest" && mv "$dest.partial" "$dest"
echo "libtorch ($flavour) ready in $dest ($(du -sh "$dest" | cut -f1))" >&2
