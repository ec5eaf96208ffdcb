#!/usr/bin/env bash
# Train published runs on a lent GPU machine that has its own torch and no network, in stretches.
#
#   tools/gpu_session.sh stamp      (here, before each call) note the commit being copied there
#   tools/gpu_session.sh start      set up, check the GPU path, plan what fits, start it in its own session
#   tools/gpu_session.sh collect    wait for the queue (up to WAIT seconds), then pack what finished
#
# Set-up reads a staging folder (STAGE, default .gpu/, git-ignored): wheels/ from `make wheels`
# (only the packages the machine lacks) and cifar10-jpeg.tar.gz. QUEUE lists profile:run items in
# priority order. After set-up and the device tests, the session planner (`archcompare.cli
# session-plan`, pipeline/session.py) estimates each item from committed runs timed on this GPU model,
# or from a probe of its step here, and starts only what fits BUDGET (the device seconds left when
# `start` began) less the time already spent, less BENCH_SECONDS when BENCH=1. Items run one after the
# other, so that no run's timing shares the GPU, except profiles listed in SHARE (trained for accuracy
# only), which share it when a committed concurrency measurement says it pays; those runs are marked.
# The queue runs under setsid, so it goes on between calls while the machine is held; results live
# outside the repository (JOB), since the working tree is copied anew at each call. Each finished run
# is packed into OUT as soon as the script sees it, and checkpoints never leave the machine, so a
# stretch that ends loses at most the run in progress. Rehearse on a CPU with QUEUE="smoke:..."
# PYTHON=<a torch 2.11 python>. The machine's .git may be an older snapshot, so runs record the
# commit `stamp` noted.
set -uo pipefail
export PYTHONUNBUFFERED=1
STAGE=${STAGE:-.gpu}
DATA_ROOT=${DATA_ROOT:-/work/data}  # the path the CPU runs read, so DATA names the same string
DATA="imagefolder:$DATA_ROOT/cifar10-jpeg"
JOB=${JOB:-/tmp/gpu-job}
OUT=${OUT:-$JOB/out}
PYTHON=${PYTHON:-python3}
QUEUE=${QUEUE:-"blog:resnet50-seed0 blog:resnext50_32x4d-seed0 full:resnet50-seed2 full:resnext50_32x4d-seed2"}
BUDGET=${BUDGET:-780}
SHARE=${SHARE:-}
BENCH=${BENCH:-0}
BENCH_SECONDS=${BENCH_SECONDS:-300}
WAIT=${WAIT:-540}
TESTS=${TESTS:-tests/test_training.py tests/test_data.py tests/test_models.py}
mkdir -p "$JOB" "$OUT" "$STAGE"
[ -f "$STAGE/commit" ] && export ARCHCOMPARE_GIT_COMMIT="$(cat "$STAGE/commit")"
began=$(date +%s)
say() { echo "[$(( $(date +%s) - began ))s] $*"; }

pack() {  # every finished run, its log and the queue's state, in one tarball under OUT
    (cd "$JOB" && tar -czf "$OUT/results.tgz" --exclude=checkpoint.pt --exclude='*.partial*' \
        --exclude=params.yaml $(ls -d outputs/*/runs/* outputs/bench 2>/dev/null) *.log *.txt 2>/dev/null)
    cp "$JOB"/done.txt "$OUT"/ 2>/dev/null
    say "packed: $(cat "$JOB"/done.txt 2>/dev/null | tr '\n' ';')"
}

wait_for_queue() {
    local deadline=$(( began + WAIT ))
    while [ "$(date +%s)" -lt "$deadline" ] && ! grep -q '^all done' "$JOB/done.txt" 2>/dev/null; do
        sleep 10
        local finished; finished=$(cat "$JOB/done.txt" 2>/dev/null | wc -l)
        if [ "$finished" != "${packed_count:-0}" ]; then pack; packed_count=$finished; fi
    done
    tail -n 3 "$JOB"/queue-*.log 2>/dev/null
    pack
}

case "${1:-}" in
stamp)
    # What a run here would record (provenance.git_state: which files count as code), not a stale stamp.
    ARCHCOMPARE_GIT_COMMIT= .venv/bin/python -c 'from archcompare.provenance import git_state
state = git_state()
print(state["git_commit"] + (" dirty" if state["git_dirty"] else ""))' > "$STAGE/commit" || exit 1
    echo "runs made from this tree will record: $(cat "$STAGE/commit")"
    ;;
start)
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee "$OUT/gpu.txt"
    mkdir -p "$DATA_ROOT" && tar -xzf "$STAGE/cifar10-jpeg.tar.gz" -C "$DATA_ROOT" || exit 1
    say "data in $DATA_ROOT"
    make install TORCH=system WHEELS="$STAGE/wheels" PYTHON="$PYTHON" > "$JOB/install.log" 2>&1 \
        || { tail -n 20 "$JOB/install.log"; cp "$JOB/install.log" "$OUT/"; exit 1; }
    say "installed: $(grep -h 'using\|reusing' "$JOB/install.log" | cut -c1-200)"
    # The device path of the test suite first, alone: beside a run it would slow that run's epochs.
    timeout "${TESTS_SECONDS:-150}" .venv/bin/python -m pytest -q -p no:cacheprovider $TESTS > "$JOB/pytest.log" 2>&1
    say "GPU tests: $(tail -n 1 "$JOB/pytest.log")"
    cp "$JOB/pytest.log" "$JOB/install.log" "$OUT/"
    # What fits the time left: estimated from committed runs on this GPU model, else probed here.
    left=$(( BUDGET - ($(date +%s) - began) - (BENCH == 1 ? BENCH_SECONDS : 0) ))
    ARCHCOMPARE_OUTPUTS="$JOB/outputs" .venv/bin/python -m archcompare.cli session-plan --queue "$QUEUE" \
        --budget "$left" --data "$DATA" --probe --share "$SHARE" --queue-file "$JOB/queue.txt" \
        > "$JOB/session-plan.txt" 2>&1 || { cat "$JOB/session-plan.txt"; exit 1; }
    cat "$JOB/session-plan.txt"; cp "$JOB/session-plan.txt" "$OUT/"
    # The queue: one line of queue.txt at a time (a line's runs share the GPU), then the benchmark.
    cat > "$JOB/queue.sh" <<QUEUE_END
cd "$PWD"
while read -r items; do
    profile=\${items%%:*}; targets=""; gpus=""
    for item in \$items; do
        targets="\$targets $JOB/outputs/\$profile/runs/\${item#*:}/summary.json"; gpus="\$gpus,0"
    done
    count=\$(echo \$items | wc -w)
    share=\$([ "\$count" -gt 1 ] && echo "GPUS=\${gpus#,}")
    make --no-print-directory -j\$count OUTPUTS="$JOB/outputs" PROFILE=\$profile \$share \$targets \
        > "$JOB/queue-\$(echo \$items | tr ' :' '+-').log" 2>&1
    echo "\$items exit \$? at \$(date +%T)" >> "$JOB/done.txt"
done < "$JOB/queue.txt"
if [ "$BENCH" = 1 ]; then
    ARCHCOMPARE_OUTPUTS="$JOB/outputs" .venv/bin/python -m archcompare.cli bench > "$JOB/queue-bench.log" 2>&1
    echo "bench exit \$? at \$(date +%T)" >> "$JOB/done.txt"
fi
echo "all done at \$(date +%T)" >> "$JOB/done.txt"
QUEUE_END
    ARCHCOMPARE_OUTPUTS="$JOB/outputs" setsid nohup bash "$JOB/queue.sh" > "$JOB/queue.log" 2>&1 < /dev/null &
    say "queue started: $(tr '\n' ';' < "$JOB/queue.txt")"
    wait_for_queue
    ;;
collect)
    wait_for_queue
    ;;
*)
    echo "usage: $0 stamp|start|collect" >&2; exit 2
    ;;
esac
