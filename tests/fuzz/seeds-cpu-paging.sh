#!/usr/bin/env bash
# Writes the seed inputs of fuzz_cpu_paging and fuzz_cpu_diff (one input format:
# tests/fuzz/fuzz_paging.h) into tests/fuzz/corpus/cpu_paging and corpus/cpu_diff, code as
# bytes with its assembly beside it.
# Usage: tests/fuzz/seeds-cpu-paging.sh [--pending DIR]
# --pending also writes the inputs that crash while issue 24 is open (a block whose last
# instruction crosses into a linear page mapped below, far above or onto the same physical
# page) into DIR/cpu_paging and DIR/cpu_diff, outside the committed corpus.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pending=
[ "${1-}" = --pending ] && pending=$2

byte() { printf "\\x$(printf %02x $(($1 & 255)))"; }
le16() { byte "$1"; byte $(($1 >> 8)); }
le32() { le16 $(($1 & 65535)); le16 $(($1 >> 16 & 65535)); }
hex() {
    local h i
    h=$(printf %s "$1" | tr -d " \n\t")
    for ((i = 0; i < ${#h}; i += 2)); do printf "\\x${h:i:2}"; done
}
# Window page k and bytes back from its end (1-32): the start byte.
start() { echo $(($1 << 5 | ($2 - 1))); }
# Descriptor for window page i to map physical page `frame` (flags: bits 12-15).
desc() { echo $(((($2 - 0x200 - $1) & 0xFFF) | ${3:-0})); }
# edit OP A V: one 6-byte edit
edit() { byte "$1"; byte "$2"; le32 "$3"; }

# seed DIR NAME FLAGS BUDGET START "GPR x8" "DESC x8" LARGE "EDITS (edit ... calls)" CODE
seed() {
    local dir=$1 name=$2 flags=$3 budget=$4 st=$5 gprs=$6 descs=$7 large=$8 edits=$9 code=${10}
    local n=0
    [ -n "$edits" ] && n=$(eval "$edits" | wc -c) && n=$((n / 6))
    mkdir -p "$dir/cpu_paging" "$dir/cpu_diff"
    {
        byte "$flags"; byte "$budget"; byte "$st"; byte "$n"
        for g in $gprs; do le32 "$g"; done
        for d in $descs; do le16 "$d"; done
        byte "$large"
        [ -n "$edits" ] && eval "$edits"
        hex "$code"
    } > "$dir/cpu_paging/$name"
    cp "$dir/cpu_paging/$name" "$dir/cpu_diff/$name"
}
zero8="0 0 0 0 0 0 0 0"

# A loop around an instruction that crosses from window page 0 into page 1 (adjacent
# physical pages): decoded, translated and run 64 times.
#   inc ecx / add eax, 1 (crosses) / cmp ecx, 64 / jne back / out 0x80, al / hlt / jmp to the hlt
loop_code="41 05 01 00 00 00 83 F9 40 75 F5 E6 80 F4 EB FD"
seed "$here/corpus" straddle-loop 0x80 0xFF "$(start 0 3)" "$zero8" "$zero8" 0 "" "$loop_code"

# The same loop, 65 instructions a run; the host rewrites the crossing immediate between
# runs (announced byte by byte, then as "wrote memory") and restarts the code twice.
seed "$here/corpus" smc-restart 0x84 0x10 "$(start 0 3)" "$zero8" "$zero8" 0 \
    "edit 6 2 3; edit 2 2 5; edit 3 0 0; edit 3 0 0" "$loop_code"

# The guest maps window page 2 onto page 0's physical page by writing its own PTE (set A's
# window table is in the identity-mapped low 4 MiB), INVLPGs it, reads and writes through
# the alias, reloads CR3, reads its code back. CR0.WP.
#   nop (last byte of page 0) / mov dword [0x9008], 0x200007 / invlpg [0x402000]
#   mov eax, [0x402FF8] / mov ecx, cr3 / mov cr3, ecx / mov dword [0x402000], 0x12345678
#   mov eax, [0x400FFF] / out 0x80, al / hlt / jmp to the hlt
seed "$here/corpus" guest-pte-invlpg 0x04 0xFF "$(start 0 1)" "$zero8" "$zero8" 0 "" \
    "90 C7050890000007002000 0F013D00204000 A1F82F4000 0F20D9 0F22D9 C70500204000785634 12
     A1FF0F4000 E680 F4EBFD"

# PAE with NXE and PGE: window page 5 is XD, the 2 MiB page at 0x800000 maps physical
# 4 MiB; a MOV that crosses from page 1 into page 2 loads its address.
#   mov eax, 0x800000 (crosses) / mov dword [eax], 0xDEADBEEF / mov ebx, [eax + 4]
#   add eax, ebx / mov ecx, [0x405000] / out 0x80, al / hlt / jmp to the hlt
seed "$here/corpus" pae-nx-large 0x19 0xFF "$(start 1 3)" "$zero8" \
    "0 0 0 0 0 $(desc 5 0x205 0x8000) 0 0" 1 "" \
    "B800008000 C700EFBEADDE 8B5804 01D8 8B0D00504000 E680 F4EBFD"

# CR3 switches: window page 1 maps the same physical page in both table sets (set A's page
# 6 aliases it, and set B is set A reversed), so the guest can go A -> B -> A without
# leaving its code. The host then switches to B (and flushes) and restarts the code, which
# starts on B's page 0 (zeros) and switches back.
#   nop x4 (end of page 0) / mov eax, cr3 / xor eax, 0x3000 / mov cr3, eax (set B)
#   mov eax, cr3 / xor eax, 0x3000 / mov cr3, eax (set A) / out 0x80, al / hlt / jmp to the hlt
seed "$here/corpus" cr3-switch 0x00 0xFF "$(start 0 4)" "$zero8" \
    "0 0 0 0 0 0 $(desc 6 0x201) 0" 0 "edit 7 0 0; edit 3 0 0" \
    "90909090 0F20D8 3500300000 0F22D8 0F20D8 3500300000 0F22D8 E680 F4EBFD"

if [ -n "$pending" ]; then
    # Issue 24 as reported: linear 0x400000 -> 0x204000, 0x401000 -> 0x203000 (below),
    # MOV EAX, imm32 / RET at 0x400FFE.
    seed "$pending" crash-straddle-page-below 0x00 0xFF "$(start 0 2)" "$zero8" \
        "$(desc 0 0x204) $(desc 1 0x203) 0 0 0 0 0 0" 0 "" "B844332211 C3"
    # The second page 10 MiB above the first: a copy larger than the code arena.
    seed "$pending" crash-straddle-page-far-above 0x00 0xFF "$(start 0 2)" "$zero8" \
        "$(desc 0 0x200) $(desc 1 0xC00) 0 0 0 0 0 0" 0 "" "B844332211 C3"
    # Both linear pages on one physical page.
    seed "$pending" crash-straddle-alias 0x00 0xFF "$(start 0 2)" "$zero8" \
        "$(desc 0 0x204) $(desc 1 0x204) 0 0 0 0 0 0" 0 "" "B844332211 C3"
    # The loop above, then the host maps page 1 to physical 1 MiB (no TLB flush): the
    # block is rebuilt under running code with its second page below the first.
    seed "$pending" crash-remap-under-running-code 0x00 0x08 "$(start 0 3)" "$zero8" "$zero8" 0 \
        "edit 0 1 $(desc 1 0x100)" "$loop_code"
fi
