# Helpers shared by the end-to-end CLI test scripts (tests/cli, plugins/*/tests). Sourced, not
# run: `source "$(dirname "${BASH_SOURCE[0]}")/<path to>/tests/cli/lib.sh"`.
# Every check prints one "ok   - NAME" or "FAIL - NAME: why" line; cli_finish turns the count
# of failures into the exit status, so one failed check does not hide the ones after it.

# The interpreter that has numpy on Debian (a venv's python3 may come first on PATH).
PY=/usr/bin/python3
failures=0
# The scripts' Python snippets import this folder's modules (qkv_inputs).
export PYTHONPATH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)${PYTHONPATH:+:$PYTHONPATH}"

pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*" >&2; failures=$((failures + 1)); }

# cli_require_numpy: exit 77 (CTest's SKIP_RETURN_CODE in our add_test calls) without numpy.
cli_require_numpy() {
  if [[ ! -x $PY ]] || ! "$PY" -c 'import numpy' 2>/dev/null; then
    echo "SKIP: $PY with numpy is needed" >&2
    exit 77
  fi
}

# cli_enter_workdir NAME: a fresh folder in TMPDIR, removed on exit; the script continues in it.
cli_enter_workdir() {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/aat_$1.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
  cd "$WORK"
}

# cli_start NAME AAT_BINARY [SOURCE_DIR]: the usual start of a script that checks with numpy.
# Sets AAT (made absolute: the script runs in its work folder) and SRC, exits 77 without numpy,
# and enters a fresh work folder named after NAME.
cli_start() {
  local name=$1 usage="usage: ${0##*/} AAT_BINARY SOURCE_DIR"
  AAT=$(realpath "${2:?$usage}")
  SRC=${3:-}
  [[ -z $SRC ]] || SRC=$(realpath "$SRC")
  cli_require_numpy
  cli_enter_workdir "$name"
}

# expect_ok NAME CMD...: CMD must exit 0 (stdout kept in out.txt, stderr in err.txt).
expect_ok() {
  local name=$1 rc=0
  shift
  "$@" >out.txt 2>err.txt || rc=$?
  if [[ $rc -ne 0 ]]; then
    fail "$name: exit status $rc (stderr: $(cat err.txt))"
    return 1
  fi
  pass "$name"
}

# expect_error NAME NEEDLE CMD...: CMD must exit 1 (the CLI's status for a refused input, never a
# crash's 134/139) and print NEEDLE on stderr.
expect_error() {
  local name=$1 needle=$2 rc=0
  shift 2
  "$@" >out.txt 2>err.txt || rc=$?
  if [[ $rc -ne 1 ]]; then
    fail "$name: exit status $rc, expected 1 (stderr: $(cat err.txt))"
  elif ! grep -qF -- "$needle" err.txt; then
    fail "$name: stderr does not mention '$needle': $(cat err.txt)"
  else
    pass "$name"
  fi
}

# check NAME PYTHON: the Python snippet must exit 0; what it prints is shown after NAME.
check() {
  local name=$1
  if "$PY" -c "$2" >check.txt 2>&1; then
    local said
    said=$(tr '\n' ' ' <check.txt | sed 's/ *$//')
    pass "$name${said:+ ($said)}"
  else
    fail "$name: $(cat check.txt)"
  fi
}

# cli_finish: the script's last line.
cli_finish() {
  if [[ $failures -ne 0 ]]; then
    echo "$failures check(s) failed" >&2
    exit 1
  fi
  echo "all checks passed"
}
