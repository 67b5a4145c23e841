#!/usr/bin/env bash
# Runs the web server, a Celery worker (with the beat scheduler embedded) and the scans' worker side by side.
# Ctrl-C or SIGTERM stops all; if one exits, the others are stopped too.
set -euo pipefail
cd "$(dirname "$0")/.."

pids=()
web=""

running() {
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && return 0; done
  return 1
}

stop() {
  trap - INT TERM EXIT
  if [ "$1" = INT ]; then
    # Ctrl-C reaches every process of the terminal's foreground group, so the workers are stopping already;
    # gunicorn has a group of its own and gets it from here. A TERM on top of it left a gunicorn worker hung
    # until the 30 s graceful timeout killed it: TERM only stragglers (celery's warm shutdown takes seconds).
    [ -n "$web" ] && kill -INT "$web" 2>/dev/null || true
    for _ in $(seq 100); do running || break; sleep 0.1; done
  fi
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait || true
}
trap 'stop INT' INT
trap 'stop TERM' TERM
trap 'stop EXIT' EXIT

celery -A mcma worker --beat --loglevel "${CELERY_LOG_LEVEL:-INFO}" --concurrency "${CELERY_CONCURRENCY:-2}" \
  --schedule "${MCMA_DATA_DIR:-./data}/celerybeat-schedule" &
pids+=($!)

# Scans (their own queue, settings.SCAN_QUEUE) in a solo worker: its task runs in the main process, which may
# fork the scan's read workers; a prefork child may not.
celery -A mcma worker --pool solo --queues "${SCAN_QUEUE:-scans}" --loglevel "${CELERY_LOG_LEVEL:-INFO}" \
  --hostname "scans@%h" &
pids+=($!)

# Bind address, port, workers and the credential-masking access log: mcma/gunicorn_config.py (BIND, PORT, ...).
# In a process group of its own (job control on for this one job): a Ctrl-C that reached its workers straight
# from the terminal and again from the master as a QUIT re-entered gthread's shutdown and hung a worker.
set -m
gunicorn mcma.wsgi --config python:mcma.gunicorn_config &
web=$!
set +m
pids+=("$web")

if [ -n "${LOCAL_MEDIA_IMPORT_PATH:-}" ]; then
  python manage.py scan || echo "mcma: could not enqueue the import of $LOCAL_MEDIA_IMPORT_PATH" >&2
fi

wait -n
