#!/usr/bin/env bash
# Train published runs on a lent GPU machine that has its own torch and no network, in stretches.
# The procedure, with the commands and minutes of a 15-minute session: docs/gpu-sessions.md.
#
#   tools/gpu_session.sh stage <cifar10-jpeg.tar.gz>   (here) fill .gpu/: the wheels the machine lacks, the data, the commit
#   tools/gpu_session.sh start      (there) set up, run the gate, plan what fits BUDGET, start the queue, wait
#   tools/gpu_session.sh collect    (there, the next call, within the machine's warm window) wait, then pack
#   tools/gpu_session.sh unpack <folder>   (here) put what came back into outputs/ and re-render; no training
#   tools/gpu_session.sh gate       (there) the device tests alone; start runs them first
#
# BUDGET (required) is the device seconds left when `start` begins: the device's reported time left,
# less the machine's start-up (docs/gpu-sessions.md). Everything after that counts against it:
# unpacking the data, installing, the gate, planning (decoding the copy, probing), the runs, packing.
# QUEUE lists items in priority order: profile:run, and `bench` (the step-mode bench rows) and
# `penalty` (make penalty). The planner (`archcompare.cli session-plan`, pipeline/session.py) starts
# what fits before the deadline, and the queue checks each line again before starting it.
# The gate runs GATE_TESTS by node id under GATE_SECONDS; it passes only when pytest exits 0 and every
# node id passed (a skip, a timeout or a collection error fails it). A failed gate turns
# STEP_MODE=cuda-graph into eager and drops `bench` (its rows compare captured steps).
# Per-epoch checkpoints are off (ARCHCOMPARE_EPOCH_CHECKPOINTS=0): a run cannot span sessions.
# The queue runs under setsid, so it goes on between calls while the machine is held; its state lives
# outside the repository (JOB), since the working tree is copied anew at each call. start and collect
# exit 1, with one `error:` line, when done.txt records an item that failed ("<item> exit N", N > 0) or
# the queue's process (queue.pid) ended without "all done"; such a dead queue does not block a new
# start, which a queue that still runs does (exit 2: call collect). What comes back
# ($OUT, at most 8 files): results.tgz (the finished runs only), logs.tgz, gate.log and, when made,
# bench-cuda.rows.partial and data-penalty.json. The machine's .git may be an older snapshot, so runs
# record the commit `stage` noted.
set -uo pipefail
export PYTHONUNBUFFERED=1
STAGE=${STAGE:-.gpu}
DATA_ROOT=${DATA_ROOT:-/work/data}  # the path the CPU runs read, so DATA names the same string
DATA="imagefolder:$DATA_ROOT/cifar10-jpeg"
JOB=${JOB:-/tmp/gpu-job}
OUT=${OUT:-$JOB/out}
PYTHON=${PYTHON:-python3}  # there: the image's Python with torch; here (stage): one with pip
QUEUE=${QUEUE:-"full:resnet50-seed2 full:resnext50_32x4d-seed2 bench penalty"}  # issue 26's first session
SHARE=${SHARE:-}
WAIT=${WAIT:-540}  # seconds a call waits for the queue: a device command may run 600 s
GATE_SECONDS=${GATE_SECONDS:-60}
GATE_TESTS=${GATE_TESTS:-"tests/test_gpu.py::test_captured_steps_compute_what_eager_steps_compute[fp32-blog]
tests/test_gpu.py::test_captured_steps_compute_what_eager_steps_compute[bf16-standard]
tests/test_gpu.py::test_a_captured_run_trains_the_eager_runs_history_with_autotuned_kernels
tests/test_gpu.py::test_gpu_augmentation_equals_cpu_augmentation[standard-0.0]
tests/test_gpu.py::test_gpu_augmentation_equals_cpu_augmentation[blog-0.01]"}
# The device image's own Python packages (docs/gpu-sessions.md): `stage` downloads wheels for the rest.
IMAGE_PACKAGES=${IMAGE_PACKAGES:-tools/gpu-image-packages.txt}
began=$(date +%s)
say() { echo "[$(( $(date +%s) - began ))s] $*" | tee -a "$JOB/session.log"; }

gate() {  # the device tests by node id; writes $JOB/gate.txt: "passed", or "failed: why"
    local tests expected status passed skipped verdict
    read -r -d '' -a tests <<< "$GATE_TESTS"
    expected=${#tests[@]}
    # -v: a line per test as it ends, so a timeout still shows which passed; -rA: their output (the measured differences).
    timeout -k 5 "$GATE_SECONDS" .venv/bin/python -m pytest -n 0 -p no:cacheprovider -v -rA --durations=0 \
        "${tests[@]}" > "$JOB/gate.log" 2>&1
    status=$?
    passed=$(grep -c '::.* PASSED' "$JOB/gate.log")
    skipped=$(grep -o '[0-9]* skipped' "$JOB/gate.log" | tail -n 1)
    if [ "$status" = 0 ] && [ "$passed" = "$expected" ]; then
        verdict=passed
    elif [ "$status" = 124 ] || [ "$status" = 137 ]; then
        verdict="failed: stopped after ${GATE_SECONDS}s, $passed of $expected passed by then"
    else
        verdict="failed: pytest exit $status, $passed of $expected passed${skipped:+ ($skipped)}"
    fi
    echo "$verdict" > "$JOB/gate.txt"
    echo "gate $verdict (tests: ${tests[*]})" >> "$JOB/gate.log"
    say "gate $verdict"
}

# A run's files, as unpack takes them: all of them or none (pipeline/plan.py RUN_FILES; a test keeps them equal).
RUN_FILES=(train.ipynb history.csv predictions.npz summary.json)

pack() {  # the finished runs (every file written, their notebook too) in results.tgz; logs and the rest beside it
    local summary dir name runs=()
    for summary in "$JOB"/outputs/*/runs/*/summary.json; do
        dir=${summary%/summary.json}
        [ -e "$dir/.train.partial.ipynb" ] && continue  # papermill is still writing the run's notebook
        for name in "${RUN_FILES[@]}"; do
            [ -f "$dir/$name" ] || continue 2  # unpack would refuse the whole archive for one incomplete run
        done
        for name in "${RUN_FILES[@]}"; do
            runs+=("${dir#"$JOB"/outputs/}/$name")
        done
    done
    [ ${#runs[@]} -gt 0 ] && tar -C "$JOB/outputs" -czf "$OUT/results.tgz" "${runs[@]}"
    cp "$JOB"/outputs/bench/bench-cuda.rows.partial "$OUT"/ 2>/dev/null
    cp "$JOB"/outputs/data-penalty/*.json "$OUT/data-penalty.json" 2>/dev/null
    cp "$JOB/gate.log" "$OUT"/ 2>/dev/null
    (cd "$JOB" && tar -czf "$OUT/logs.tgz" ./*.log ./*.txt 2>/dev/null)
    say "packed: $(tr '\n' ';' < "$JOB/done.txt" 2>/dev/null)"
}

queue_alive() {  # whether the queue's process (bash $JOB/queue.sh, its pid in queue.pid) still runs
    local pid
    pid=$(cat "$JOB/queue.pid" 2>/dev/null) && [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
        && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q 'queue\.sh'  # not another process given its pid
}

wait_for_queue() {  # until the queue is done, its process gone or this call's WAIT up, packing whenever a line finished
    local deadline=$(( began + WAIT )) finished packed_count=-1 ended="" going=""
    while :; do
        finished=$(wc -l < "$JOB/done.txt" 2>/dev/null || echo 0)
        if [ "$finished" != "$packed_count" ]; then pack; packed_count=$finished; fi
        grep -q '^all done' "$JOB/done.txt" 2>/dev/null && break
        if ! queue_alive; then
            grep -q '^all done' "$JOB/done.txt" 2>/dev/null && continue  # it has just finished: pack its last line
            ended=1
            break
        fi
        [ "$(date +%s)" -ge "$deadline" ] && { going=1; say "the queue goes on: call collect within the warm window"; break; }
        sleep 5
    done
    tail -n 3 "$JOB"/queue-*.log 2>/dev/null
    queue_verdict "$ended" "$going"
}

queue_verdict() {  # start's and collect's exit status: 1, with one line saying why, when an item failed or the queue died
    local ended=$1 going=$2 failed
    failed=$(sed -n 's/^\(.*\) exit \([1-9][0-9]*\) at .*/\1 (exit \2)/p' "$JOB/done.txt" 2>/dev/null | paste -sd ';' - \
        | sed 's/;/; /g')
    if [ -n "$ended" ]; then
        echo "error: the queue's process ended without finishing${failed:+ (failed: $failed)}; what finished is packed" \
            | tee -a "$JOB/session.log" >&2
        return 1
    fi
    if [ -n "$failed" ]; then
        echo "error: failed in the queue: $failed${going:+ (the queue goes on: call collect)}; their logs are in logs.tgz" \
            | tee -a "$JOB/session.log" >&2
        return 1
    fi
}

run_queue() {  # under setsid, from $JOB/queue.sh: each line of queue.txt only if its estimate ends before the deadline
    local deadline seconds items item profile targets gpus count status
    echo $$ > "$JOB/queue.pid"  # this process: queue_alive tells a queue that runs from one that died
    cd "$REPO" || exit 1
    deadline=$(sed -n 's/^deadline //p' "$JOB/queue.txt")
    while read -r seconds items; do
        if [ $(( $(date +%s) + seconds )) -gt "$deadline" ]; then
            echo "$items skipped at $(date +%T): its ${seconds}s would end after the deadline" >> "$JOB/done.txt"
            continue
        fi
        case "$items" in
        bench) .venv/bin/python -m archcompare.cli bench --session > "$JOB/queue-bench.log" 2>&1 < /dev/null ;;
        penalty) .venv/bin/python -m archcompare.cli data-penalty --data "$DATA" > "$JOB/queue-penalty.log" 2>&1 < /dev/null ;;
        *)
            profile=${items%%:*}; targets=""; gpus=""
            for item in $items; do
                targets="$targets $JOB/outputs/$profile/runs/${item#*:}/summary.json"; gpus="$gpus,0"
            done
            count=$(echo "$items" | wc -w)
            make --no-print-directory -j"$count" OUTPUTS="$JOB/outputs" PROFILE="$profile" \
                $([ "$count" -gt 1 ] && echo "GPUS=${gpus#,}") $targets \
                > "$JOB/queue-$(echo "$items" | tr ' :' '+-').log" 2>&1 < /dev/null
            ;;
        esac
        status=$?
        echo "$items exit $status at $(date +%T)" >> "$JOB/done.txt"
    done < <(tail -n +2 "$JOB/queue.txt")
    echo "all done at $(date +%T)" >> "$JOB/done.txt"
}

main() {
    case "${1:-}" in
    stage)
        [ -f "${2:-}" ] || { echo "error: usage: $0 stage <path of cifar10-jpeg.tar.gz>" >&2; exit 2; }
        mkdir -p "$STAGE/wheels"
        # Only the pinned packages the device image lacks (about 16 MB), for its Python 3.12.
        "$PYTHON" tools/install.py --download --torch system --wheels "$STAGE/wheels" --python-version 3.12 \
            --missing-from "$IMAGE_PACKAGES" || exit 1
        # airbench for `make penalty`: a pure-Python package whose only release is a source archive.
        "$PYTHON" -m pip wheel --quiet --no-deps airbench==0.1.8 -w "$STAGE/wheels" || exit 1
        cp "$2" "$STAGE/cifar10-jpeg.tar.gz" || exit 1
        "$0" stamp || exit 1
        du -sh "$STAGE"
        ;;
    stamp)
        # What a run here would record (provenance.git_state: which files count as code), not a stale stamp.
        mkdir -p "$STAGE"
        ARCHCOMPARE_GIT_COMMIT= .venv/bin/python -c 'from archcompare.provenance import git_state; state = git_state()
print(state["git_commit"] + (" dirty" if state["git_dirty"] else ""))' > "$STAGE/commit" || exit 1
        echo "runs made from this tree will record: $(cat "$STAGE/commit")"
        ;;
    gate)
        mkdir -p "$JOB"
        gate
        ;;
    start)
        if ! [[ "${BUDGET:-}" =~ ^[0-9]+$ ]]; then
            echo "error: BUDGET must be the device seconds left when start begins (the device's time left less its" \
                "start-up; docs/gpu-sessions.md says how), e.g. BUDGET=720; got '${BUDGET:-}'" >&2
            exit 2
        fi
        deadline=$(( began + BUDGET ))
        if [ -f "$JOB/queue.txt" ] && ! grep -q '^all done' "$JOB/done.txt" 2>/dev/null; then
            if queue_alive; then
                echo "error: a queue started earlier still runs in $JOB (pid $(cat "$JOB/queue.pid")): call collect, not start" >&2
                exit 2
            fi
            # Killed, or its machine's start was cut short: nothing will finish it, so it must not block this start.
            say "an earlier queue in $JOB ended without finishing (its process is gone): starting anew; its complete runs stay"
        fi
        mkdir -p "$JOB" "$OUT" || exit 1
        rm -f "$JOB"/queue.txt "$JOB"/queue.pid "$JOB"/done.txt "$JOB"/gate.txt "$JOB"/queue-*.log  # an earlier queue's state; its runs stay
        [ -f "$STAGE/commit" ] && export ARCHCOMPARE_GIT_COMMIT="$(cat "$STAGE/commit")"
        export ARCHCOMPARE_EPOCH_CHECKPOINTS=0  # a run cannot span sessions: its checkpoints would be 30 s spent for nothing
        nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$JOB/gpu.txt" 2>&1
        # How long the machine had been up: most of its start-up, which the next session's BUDGET can take instead of a guess.
        say "device: $(head -n 1 "$JOB/gpu.txt"); machine up $(cut -d. -f1 /proc/uptime)s; deadline in ${BUDGET}s"
        mkdir -p "$DATA_ROOT" && tar -xzf "$STAGE/cifar10-jpeg.tar.gz" -C "$DATA_ROOT" || exit 1
        say "data in $DATA_ROOT"
        # Decode the copy into the cache the planner and the runs read (its threads take every core) while pip
        # installs, with the machine's own torch: before the gate, which should run alone.
        PYTHONPATH=lib "$PYTHON" -c 'import sys; from archcompare.data.sources import load_dataset
from archcompare.paths import data_dir
load_dataset(sys.argv[1], data_dir(), log=print)' "$DATA" > "$JOB/decode.log" 2>&1 &
        decoding=$!
        if [ "${SKIP_INSTALL:-}" != 1 ]; then  # SKIP_INSTALL=1: a rehearsal in a checkout whose .venv is ready
            make install TORCH=system WHEELS="$STAGE/wheels" PYTHON="$PYTHON" > "$JOB/install.log" 2>&1 \
                || { tail -n 20 "$JOB/install.log"; cp "$JOB/install.log" "$OUT/"; exit 1; }
        fi
        wait "$decoding" || say "decoding ahead failed (the planner decodes instead): $(tail -n 1 "$JOB/decode.log")"
        for wheel in "$STAGE"/wheels/airbench-*.whl; do
            [ -f "$wheel" ] && .venv/bin/python -m pip install --quiet --no-index --no-deps "$wheel" >> "$JOB/install.log" 2>&1
        done
        [ -f "$JOB/install.log" ] && say "installed: $(grep -h 'using\|reusing' "$JOB/install.log" | cut -c1-200)"
        # The gate first, alone: beside a run it would slow that run's epochs.
        gate
        if [ "$(cat "$JOB/gate.txt")" != passed ]; then
            if [ "${STEP_MODE:-}" = cuda-graph ]; then
                say "the gate failed: STEP_MODE=cuda-graph dropped, the queue steps eagerly"
                STEP_MODE=eager
            fi
            if [[ " $QUEUE " == *" bench "* ]]; then
                say "the gate failed: bench dropped from the queue (its rows compare captured steps)"
                QUEUE=$(echo " $QUEUE " | sed 's/ bench / /')
            fi
        fi
        export STEP_MODE=${STEP_MODE:-} ARCHCOMPARE_STEP_MODE=${STEP_MODE:-}
        export CHANNELS_LAST=${CHANNELS_LAST:-} ARCHCOMPARE_CHANNELS_LAST=${CHANNELS_LAST:-}
        # What fits the time left, counted after planning (decoding the copy, probing): session-plan gets the deadline.
        ARCHCOMPARE_OUTPUTS="$JOB/outputs" .venv/bin/python -m archcompare.cli session-plan --queue "$QUEUE" \
            --deadline "$deadline" --data "$DATA" --probe --share "$SHARE" --queue-file "$JOB/queue.txt" \
            > "$JOB/session-plan.txt" 2>&1 || { cat "$JOB/session-plan.txt"; cp "$JOB/session-plan.txt" "$OUT/"; exit 1; }
        cat "$JOB/session-plan.txt"
        : > "$JOB/done.txt"
        { declare -p JOB DATA; echo "REPO=$(printf %q "$PWD")"; declare -f run_queue; echo run_queue; } > "$JOB/queue.sh"
        ARCHCOMPARE_OUTPUTS="$JOB/outputs" setsid nohup bash "$JOB/queue.sh" > "$JOB/queue.log" 2>&1 < /dev/null &
        for _ in $(seq 50); do [ -s "$JOB/queue.pid" ] && break; sleep 0.2; done  # the queue names its process first
        say "queue started: $(tail -n +2 "$JOB/queue.txt" | tr '\n' ';')"
        wait_for_queue
        ;;
    collect)
        # A fresh machine (the warm window passed, or it was given back) has no job: nothing to wait for.
        [ -f "$JOB/queue.txt" ] || { echo "error: no job in $JOB: this machine is fresh, and the queue was lost" >&2; exit 1; }
        mkdir -p "$OUT"
        wait_for_queue
        ;;
    unpack)
        [ -d "${2:-}" ] || { echo "error: usage: $0 unpack <folder that came back: results.tgz and the rest>" >&2; exit 2; }
        .venv/bin/python -m archcompare.cli unpack "$2" --replace "${REPLACE:-}"
        ;;
    *)
        echo "usage: $0 stage <data tarball>|stamp|start|collect|unpack <folder>|gate" >&2; exit 2
        ;;
    esac
}

# Sourced (tests), it only defines the functions.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    main "$@"
fi
