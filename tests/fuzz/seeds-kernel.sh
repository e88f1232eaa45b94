#!/usr/bin/env bash
# Writes the seed inputs of fuzz_kernel (see its header for the input layout) into
# tests/fuzz/corpus/kernel: a multiboot ELF with a command line and modules, a multiboot
# a.out-kludge image, a plain ELF32, an ELF64 (refused), and a bzImage setup header with an
# initrd, each built here with GNU as/ld or byte by byte. Usage: tests/fuzz/seeds-kernel.sh
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)/corpus/kernel
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
cd "$work"

byte() { printf "\\x$(printf %02x $(($1 & 255)))"; }
le16() { byte "$1"; byte $(($1 >> 8)); }
le32() { le16 $(($1 & 65535)); le16 $(($1 >> 16 & 65535)); }
# poke FILE OFFSET: stdin's bytes written over FILE at OFFSET
poke() { dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }
# seed NAME RAMBITS IMAGE [CMDLINE [MODULE...]]: the flags byte says what follows
seed() {
    local name=$1 flags=$2 image=$3 cmd=${4-} nmods=0
    shift 3; [ $# -gt 0 ] && shift
    [ -n "$cmd" ] && flags=$((flags | 4))
    nmods=$#
    {
        byte $((flags | nmods << 3))
        if [ -n "$cmd" ]; then byte ${#cmd}; printf %s "$cmd"; fi
        for m in "$@"; do le16 "$(stat -c %s "$m")"; cat "$m"; done
        cat "$image"
    } > "$out/$name"
}

cat > mb.s <<'EOF'
.code32
.globl _start
.align 4
    .long 0x1BADB002, 0x00000003, -(0x1BADB002 + 3)
_start:
    mov $0x2a, %eax
    out %al, $0xf4
    hlt
EOF
printf '.code32\n.globl _start\n_start: hlt\n' > e.s
as --32 -o mb.o mb.s && ld -m elf_i386 -Ttext=0x100000 -N -s -o mb.elf mb.o 2>/dev/null
as --32 -o e.o e.s && ld -m elf_i386 -Ttext=0x200000 -N -s -o e.elf e.o 2>/dev/null
as --64 -o e64.o e.s && ld -m elf_x86_64 -Ttext=0x100000 -N -s -o e64.elf e64.o 2>/dev/null
printf 'module one' > m1
printf 'mod2' > m2

# a.out kludge (multiboot 0.6.96, 3.1.3): header at 0 of an image loaded at 0x100000,
# entry at +48, 16 KiB of bss.
head -c 64 /dev/zero > aout.img
{ le32 $((0x1BADB002)); le32 $((0x10003)); le32 $(((-(0x1BADB002 + 0x10003)) & 0xFFFFFFFF))
  le32 $((0x100000)); le32 $((0x100000)); le32 0; le32 $((0x104000)); le32 $((0x100030))
} | poke aout.img 0
printf '\xf4' | poke aout.img 48

# bzImage, boot protocol 2.15: 4 setup sectors, a 512-byte protected-mode part.
head -c $((5 * 512 + 512)) /dev/zero > bz.img
byte 4 | poke bz.img $((0x1F1))
le16 $((0xAA55)) | poke bz.img $((0x1FE))
byte $((0x66)) | poke bz.img $((0x201))
printf 'HdrS' | poke bz.img $((0x202))
le16 $((0x20F)) | poke bz.img $((0x206))
byte 1 | poke bz.img $((0x211))
le32 $((0x100000)) | poke bz.img $((0x214))
le32 $((0x37FFFFFF)) | poke bz.img $((0x22C))
le32 255 | poke bz.img $((0x238))
le32 $((0x100000)) | poke bz.img $((0x260))
printf '\xf4' | poke bz.img $((5 * 512))

seed multiboot-elf 3 mb.elf "root=/dev/x quiet" m1 m2
seed multiboot-aout 2 aout.img
seed elf32 3 e.elf
seed elf64 1 e64.elf
seed bzimage-initrd 3 bz.img "console=ttyS0" m1
seed bzimage-small-ram 0 bz.img
ls -l "$out"
