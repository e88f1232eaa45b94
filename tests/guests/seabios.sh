# SeaBIOS as -bios (Debian's seabios package: /usr/share/seabios/bios.bin), sourced by
# run.sh: t_seabios. SeaBIOS finds fw_cfg, the RAM through etc/e820, its console on COM1
# (etc/sercon-port) or its VGA BIOS, the IDE disk of -hda (through the PCI IDE function)
# or the floppy of -fda (CMOS 0x10, the floppy controller and ISA DMA channel 2), and
# boots it; its log goes to the debug console at 0x402. Skipped with the reason when the
# package is not installed.
# shellcheck shell=bash

SEABIOS=${SEABIOS:-/usr/share/seabios/bios.bin}

# floppy_image FILE BYTES: floppyboot on a disk of BYTES whose sectors at the LBAs the guest
# reads start with their name ("lba0017").
floppy_image() {
    cp "$G/floppyboot.bin" "$1"
    truncate -s "$2" "$1"
    local lba
    for lba in 1 14 15 16 17 18 36 2879; do
        [ $((lba * 512)) -lt "$2" ] || continue
        printf 'lba%04d\0' "$lba" | dd of="$1" bs=512 seek="$lba" conv=notrunc status=none
    done
}

# floppy_expected CX: what floppyboot prints on a 1.44 MB disk (CX of int 13h AH=08h).
floppy_expected() {
    printf 'floppyboot dl 0000\ngeom cx %s\ngeom dx 0101\n' "$1"
    printf 'lba%04d\n' 1 17 18 36 2879 14 15 16 17
    printf 'written by floppyboot\nlba0001\n'
}

t_seabios() {
    local t
    if [ ! -r "$SEABIOS" ]; then
        for t in seabios-boot-disk seabios-vga-screen seabios-disk-writes seabios-no-boot-device \
                 seabios-floppy seabios-floppy-builtin-agrees seabios-floppy-720k \
                 seabios-floppy-qemu seabios-cdrom; do
            echo "skip $t$(tag): $SEABIOS not found (Debian package seabios)"
            SKIPPED=$((SKIPPED + 1))
        done
        return
    fi
    # A boot sector on an IDE disk: SeaBIOS's banner and boot line on COM1, then the
    # guest's lines; the log names the disk and the boot.
    begin seabios-boot-disk
    cp "$G/biosconsole.bin" "$TMP/sb.img"
    truncate -s 1M "$TMP/sb.img"
    vm run -m 32 -bios "$SEABIOS" -hda "$TMP/sb.img" -chardev "file,id=sb,path=$TMP/sb.log" \
        -device isa-debugcon,iobase=0x402,chardev=sb
    expect_status 3
    grep -qF 'SeaBIOS (version' "$TMP/out" || differ "no banner on COM1: $(show "$TMP/out")"
    grep -qF 'Booting from Hard Disk...' "$TMP/out" || differ "no boot line: $(show "$TMP/out")"
    grep -qx 'b8000 0041' "$TMP/out" || differ "the boot sector did not run to its end: $(show "$TMP/out")"
    [ "$SKIPPING" = 1 ] || {
        grep -qF 'qemu/e820: addr 0x0000000000000000 len 0x0000000002000000 [RAM]' "$TMP/sb.log" ||
            differ "SeaBIOS did not read etc/e820: $(show "$TMP/sb.log")"
        grep -qF 'ata0-0: SCRATCHVM HARDDISK ATA-7 Hard-Disk (1 MiBytes)' "$TMP/sb.log" ||
            differ "SeaBIOS did not find the IDE disk"
        grep -qF 'Booting from 0000:7c00' "$TMP/sb.log" || differ "no boot in the log"
        grep -qF 'id=8086:7010' "$TMP/sb.log" || differ "SeaBIOS did not see the PCI IDE function"
    }
    end
    # With the screen shown (--vga), SeaVGABIOS from beside bios.bin draws on the VGA text
    # device: SeaBIOS's banner, its boot line and the boot sector's int 10h text (the
    # guest's own write at 0xB8000 then replaces the banner's first letter).
    begin seabios-vga-screen
    vm run --vga -m 32 -bios "$SEABIOS" -hda "$TMP/sb.img"
    expect_status 3
    if [ -r "$(dirname "$SEABIOS")/vgabios-isavga.bin" ]; then
        grep -qF 'AeaBIOS (version' "$TMP/out" || differ "no banner on the screen: $(show "$TMP/out")"
        grep -qx 'Booting from Hard Disk...' "$TMP/out" || differ "no boot line on the screen"
        grep -qx 'int10' "$TMP/out" || differ "the boot sector's int 10h text is not on the screen"
    fi
    end
    # A game on the disk: keys from COM1 through SeaBIOS's int 16h (each once), its sectors
    # read and its score written through int 13h to the IDE disk.
    begin seabios-disk-writes
    cp "$G/biosgame.bin" "$TMP/game.img"
    if [ "$SKIPPING" = 0 ]; then
        (sleep 1; printf 'hi!q') | timeout 10 "$SVM" run --accel "$ACCEL" -bios "$SEABIOS" \
            -hda "$TMP/game.img" >"$TMP/out" 2>"$TMP/err"
        RC=$?
    fi
    expect_status 33
    grep -qF 'disk says hell' "$TMP/out" || differ "sector 2 not read: $(show "$TMP/out")"
    # The keys came once: from COM1 (SeaBIOS's serial console), not also from the keyboard.
    grep -qF 'q quits: hi!'$'\r' "$TMP/out" ||
        differ "the echoed keys are not 'hi!': $(show "$TMP/out")"
    [ "$(od -An -tx1 -j1024 -N1 "$TMP/game.img" | tr -d ' ')" = 2a ] || differ "score sector not written"
    end
    # A boot-sector OS on a 1.44 MB floppy: SeaBIOS finds drive A through CMOS 0x10,
    # senses the media (READ ID at 500 kbps), boots it, and the guest reads sectors across
    # heads and cylinders, four at once, writes one and reads it back, resets the drive:
    # every int 13h call goes to the floppy controller and ISA DMA.
    # On sim, guest time counts instructions (--clock virtual): SeaBIOS's 2 s floppy
    # timeouts do not run out on a loaded host.
    local clock=()
    [ "$ACCEL" = sim ] && clock=(--clock virtual)
    begin seabios-floppy
    floppy_image "$TMP/fd.img" 1474560
    vm run "${clock[@]}" -m 32 -bios "$SEABIOS" -fda "$TMP/fd.img" \
        -chardev "file,id=fd,path=$TMP/fd.log" -device isa-debugcon,iobase=0x402,chardev=fd
    expect_status 3
    grep -qF 'Booting from Floppy..' "$TMP/out" || differ "no boot line: $(show "$TMP/out")"
    # (the guest's first line follows SeaBIOS's boot line on COM1 at once)
    sed -n 's/^.*floppyboot dl/floppyboot dl/; /^floppyboot dl/,$p' "$TMP/out" >"$TMP/fd.out"
    floppy_expected 4f12 >"$TMP/fd.want"
    cmp -s "$TMP/fd.want" "$TMP/fd.out" ||
        differ "the guest said: $(diff "$TMP/fd.want" "$TMP/fd.out" | tail -n +2 | head -6 | tr '\n' ' ')"
    [ "$(dd if="$TMP/fd.img" bs=512 skip=96 count=1 status=none | tr -d '\0')" = \
        "written by floppyboot" ] || differ "sector 96 not written"
    [ "$SKIPPING" = 1 ] || grep -qF '/fdc@03f0/floppy@0' "$TMP/fd.log" ||
        differ "SeaBIOS did not find the floppy drive: $(show "$TMP/fd.log")"
    end
    # The built-in BIOS serves the same calls itself (int 13h from C, the controller
    # beside it untouched): the same lines and the same sector written.
    begin seabios-floppy-builtin-agrees
    floppy_image "$TMP/fdb.img" 1474560
    vm run -fda "$TMP/fdb.img"
    expect_status 3
    [ "$SKIPPING" = 1 ] || cmp -s "$TMP/fd.out" "$TMP/out" || differ "the built-in BIOS's run \
differs: $(diff "$TMP/fd.out" "$TMP/out" | tail -n +2 | head -6 | tr '\n' ' ')"
    cmp -s "$TMP/fdb.img" "$TMP/fd.img" || differ "the images differ"
    end
    # A 720 KB disk: a 3.5" double-density drive (CMOS type 3), 250 kbps, 9 sectors per
    # track; the guest's reads past sector 9 fail as they should (SeaBIOS checks CHS).
    begin seabios-floppy-720k
    floppy_image "$TMP/fd720.img" 737280
    vm run "${clock[@]}" -m 32 -bios "$SEABIOS" -fda "$TMP/fd720.img"
    grep -qx 'geom cx 4f09' "$TMP/out" || differ "not 80 cylinders of 9 sectors: $(show "$TMP/out")"
    grep -qx 'lba0001' "$TMP/out" || differ "sector 1 not read: $(show "$TMP/out")"
    grep -qx 'lba0018' "$TMP/out" || differ "cylinder 1 (LBA 18) not read: $(show "$TMP/out")"
    [ "$(dd if="$TMP/fd720.img" bs=512 skip=$(((2 * 2 + 1) * 9 + 6)) count=1 status=none |
         tr -d '\0')" = "written by floppyboot" ] || differ "C2/H1/S7 not written"
    end
    # The same disk under QEMU with the same SeaBIOS, when qemu-system-i386 is there: the
    # guest's lines and the written image are the same.
    begin seabios-floppy-qemu
    if [ "$SKIPPING" = 1 ]; then
        end
    elif ! command -v qemu-system-i386 >/dev/null; then
        echo "skip seabios-floppy-qemu$(tag): qemu-system-i386 not found (Debian package qemu-system-x86)"
        SKIPPED=$((SKIPPED + 1))
    else
        floppy_image "$TMP/fdq.img" 1474560
        timeout 20 qemu-system-i386 -nodefaults -display none -m 32 -bios "$SEABIOS" \
            -drive "file=$TMP/fdq.img,if=floppy,format=raw" -serial "file:$TMP/fdq.out" \
            -device isa-debug-exit,iobase=0xf4,iosize=1 </dev/null >/dev/null 2>&1
        [ $? = 3 ] || differ "QEMU did not end with status 3"
        cmp -s "$TMP/fdq.out" "$TMP/fd.out" || differ "QEMU's guest and ours differ: $(diff \
            "$TMP/fdq.out" "$TMP/fd.out" | tail -n +2 | head -6 | tr '\n' ' ')"
        cmp -s "$TMP/fdq.img" "$TMP/fd.img" || differ "the images differ"
        end
    fi
    # An El Torito CD (no emulation) on the secondary IDE channel's ATAPI device: SeaBIOS
    # finds it with IDENTIFY PACKET DEVICE, reads its catalog and boot image with READ(10)
    # packets, and cdboot's int 13h checks (EDD, 2048-byte sectors, no emulation, write
    # protected) and its AH=42h reads of the ISO 9660 directory and file pass (33).
    begin seabios-cdrom
    if [ "$SKIPPING" = 1 ]; then
        end
    elif ! command -v xorriso >/dev/null; then
        echo "skip seabios-cdrom$(tag): xorriso is not installed"
        SKIPPED=$((SKIPPED + 1))
    else
        mkdir -p "$TMP/sbiso"
        cp "$G/cdboot.bin" "$TMP/sbiso/"
        printf 'hello from the CD\n' >"$TMP/sbiso/hello.txt"
        xorriso -as mkisofs -quiet -b cdboot.bin -no-emul-boot -boot-load-size 4 \
            -o "$TMP/sb.iso" "$TMP/sbiso" 2>/dev/null
        vm run --vga -m 32 -bios "$SEABIOS" -cdrom "$TMP/sb.iso" \
            -chardev "file,id=cd,path=$TMP/cd.log" -device isa-debugcon,iobase=0x402,chardev=cd
        expect_status 33
        grep -qx 'Booting from DVD/CD...' "$TMP/out" || differ "no boot line: $(show "$TMP/out")"
        grep -qx 'HELLO.TXT: hello from the CD' "$TMP/out" || differ "no file: $(show "$TMP/out")"
        grep -qF 'DVD/CD [ata1-0: SCRATCHVM CD-ROM ATAPI-6 DVD/CD]' "$TMP/cd.log" ||
            differ "SeaBIOS did not find the ATAPI drive: $(show "$TMP/cd.log")"
        end
    fi
    # No disk: SeaBIOS says so on COM1 (and would retry in 60 s: --timeout ends it).
    begin seabios-no-boot-device
    vm run --timeout 3 -bios "$SEABIOS"
    grep -qF 'No bootable device.' "$TMP/out" || differ "no 'No bootable device': $(show "$TMP/out")"
    end
}
