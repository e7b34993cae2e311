#!/usr/bin/env bash
# The main job of scripts/demo.sh (scripts/demo_job.sh), small: adaptive and exact attention on a
# structured input, AAT's IFQ/CER/AE beside NumPy's (the job itself fails when they disagree), and
# the plan's PNG, which must be a well-formed image of the map.
# Usage: test_demo_job.sh AAT_BINARY SOURCE_DIR
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cli_start demo_job "$@"

if expect_ok "scripts/demo_job.sh at N = 1024" bash "$SRC/scripts/demo_job.sh" "$AAT" "$WORK/out" 1024; then
  for needle in "AAT's report:  IFQ" "CER" "AE" "exact attention:    max |O - O_numpy|" \
                "adaptive attention: IFQ = 1 - |O - O_numpy| / |O_numpy|" "wrote adaptive_plan.png"; do
    grep -qF "$needle" out.txt && pass "prints '$needle'" || fail "does not print '$needle': $(cat out.txt)"
  done
  check "the plan PNG is a well-formed picture of the map" "
import struct, zlib, numpy as np
data = open('$WORK/out/adaptive_plan.png', 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n'
width, height, depth, colour = struct.unpack('>IIBB', data[16:26])
chunks, pos = {}, 8
while pos < len(data):
    n = struct.unpack('>I', data[pos:pos + 4])[0]
    kind = data[pos + 4:pos + 8]
    assert zlib.crc32(kind + data[pos + 8:pos + 8 + n]) == struct.unpack('>I', data[pos + 8 + n:pos + 12 + n])[0]
    chunks[kind] = data[pos + 8:pos + 8 + n]
    pos += 12 + n
raw = zlib.decompress(chunks[b'IDAT'])
assert (depth, colour) == (8, 2) and len(raw) == height * (1 + 3 * width)
levels = np.load('$WORK/out/plan.npy')
assert levels.shape[:2] == (1, 1) and width % levels.shape[3] == 0 and height % levels.shape[2] == 0
print(f'{width}x{height} for {levels.shape[2]}x{levels.shape[3]} blocks')"
fi
cli_finish
