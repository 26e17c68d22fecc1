#!/usr/bin/env bash
# Slurm array job: one lmgauge shard per array task, all writing under a shared file system.
#   sbatch --array=1-8 docs/examples/slurm-array.sh suites/full.yaml
# then, once every task has finished:
#   lmgauge merge shards/*/full/latest --out-dir reports/full/merged-$(date +%Y%m%d)
#SBATCH --job-name=lmgauge
#SBATCH --cpus-per-task=8
#SBATCH --mem=32G
#SBATCH --time=02:00:00
#SBATCH --output=logs/lmgauge-%A-%a.out
set -euo pipefail
SUITE=${1:?suite file}
K=${SLURM_ARRAY_TASK_ID:?run as an array job}
N=${SLURM_ARRAY_TASK_COUNT:?run as an array job}
export RAYON_NUM_THREADS=${SLURM_CPUS_PER_TASK:-8}
./target/release/lmgauge run-suite "$SUITE" --quiet --shard "$K/$N" --out-dir "shards/$K"
