#!/usr/bin/env bash
#SBATCH --job-name=archcompare
#SBATCH --gpus-per-task=1
#SBATCH --cpus-per-task=8
#SBATCH --time=01:00:00
# One Slurm array task per planned run of a profile, each through the make step `make report` uses:
#
#   make plan PROFILE=full DATA=imagefolder:/data/cifar10-jpeg LONG=1  # writes outputs/full/runs.txt
#   sbatch --array=0-$(( $(wc -l < outputs/full/runs.txt) - 1 )) tools/slurm_runs.sh full
#   make report PROFILE=full                                            # once the array is done
#
# RUNNER=python (exported before sbatch) trains without Jupyter; OUTPUTS as for make.
# On nodes without GPUs sbatch refuses --gpus-per-task=1 (above): submit with sbatch --gpus-per-task=0 ...
set -euo pipefail
profile=${1:?usage: sbatch --array=0-N tools/slurm_runs.sh PROFILE}
task=${SLURM_ARRAY_TASK_ID:?SLURM_ARRAY_TASK_ID is not set: submit with sbatch --array}
cd "${SLURM_SUBMIT_DIR:-$(dirname "$0")/..}"
outputs=${OUTPUTS:-outputs}
run=$(sed -n "$(( task + 1 ))p" "$outputs/$profile/runs.txt")
if [ -z "$run" ]; then
    echo "error: array task $task has no run in $outputs/$profile/runs.txt (make plan PROFILE=$profile first)" >&2
    exit 2
fi
exec make --no-print-directory PROFILE="$profile" OUTPUTS="$outputs" RUNNER="${RUNNER:-notebook}" \
    "$outputs/$profile/runs/$run/summary.json"
