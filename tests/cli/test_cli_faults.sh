#!/usr/bin/env bash
# `aat run` on plugin commands that throw C++ exceptions through the plugin ABI: the CLI must
# catch them at the boundary (tools/cli/cmd_run_plugin.cpp) and exit 1 with a message naming the
# plugin and the command, never abort. Usage: test_cli_faults.sh AAT_BINARY FAULT_PLUGIN_DIR
set -euo pipefail

AAT=${1:?usage: test_cli_faults.sh AAT_BINARY FAULT_PLUGIN_DIR}
export AAT_PLUGIN_PATH=${2:?usage: test_cli_faults.sh AAT_BINARY FAULT_PLUGIN_DIR}
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cli_enter_workdir cli_faults

# expect NAME STATUS NEEDLE... -- CMD...: CMD exits with STATUS and its stderr holds every NEEDLE.
expect() {
  local name=$1 want=$2
  shift 2
  local needles=()
  while [[ $1 != -- ]]; do needles+=("$1"); shift; done
  shift
  local rc=0
  "$@" >out.txt 2>err.txt || rc=$?
  local ok=1
  [[ $rc -eq $want ]] || ok=0
  for needle in "${needles[@]}"; do grep -qF -- "$needle" err.txt || ok=0; done
  if [[ $ok -eq 1 ]]; then pass "$name"; else fail "$name: exit status $rc (expected $want), stderr: $(cat err.txt)"; fi
}

expect "a command throwing std::exception is a plugin error" 1 \
  "plugin 'throws' command 'throw-std' threw an exception" "threw on purpose" -- "$AAT" run throw-std --some-arg
expect "a command throwing something else is a plugin error" 1 \
  "plugin 'throws' command 'throw-other' threw an exception that is not a std::exception" -- "$AAT" run throw-other
expect "a plugin whose entry point throws is skipped and named" 1 \
  "libaat-test-entry_throws.so" "threw an exception" -- "$AAT" run no-such-command
expect "aat plugins still lists the good plugin and the problem" 0 -- "$AAT" plugins
grep -qF "throws" out.txt && pass "aat plugins lists 'throws'" || fail "aat plugins does not list 'throws'"

cli_finish
