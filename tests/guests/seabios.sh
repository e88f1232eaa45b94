# SeaBIOS as -bios (Debian's seabios package: /usr/share/seabios/bios.bin), sourced by
# run.sh: t_seabios. SeaBIOS finds fw_cfg, the RAM through etc/e820, its console on COM1
# (etc/sercon-port) or its VGA BIOS, the IDE disk of -hda (through the PCI IDE function),
# and boots it; its log goes to the debug console at 0x402. Skipped with the reason when
# the package is not installed.
# shellcheck shell=bash

SEABIOS=${SEABIOS:-/usr/share/seabios/bios.bin}

t_seabios() {
    local t
    if [ ! -r "$SEABIOS" ]; then
        for t in seabios-boot-disk seabios-vga-screen seabios-disk-writes seabios-no-boot-device; do
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
    # A game on the disk: keys from COM1 through SeaBIOS's int 16h, its sectors read and
    # its score written through int 13h to the IDE disk.
    begin seabios-disk-writes
    cp "$G/biosgame.bin" "$TMP/game.img"
    if [ "$SKIPPING" = 0 ]; then
        (sleep 1; printf 'hi!q') | timeout 10 "$SVM" run --accel "$ACCEL" -bios "$SEABIOS" \
            -hda "$TMP/game.img" >"$TMP/out" 2>"$TMP/err"
        RC=$?
    fi
    expect_status 33
    grep -qF 'disk says hell' "$TMP/out" || differ "sector 2 not read: $(show "$TMP/out")"
    [ "$(od -An -tx1 -j1024 -N1 "$TMP/game.img" | tr -d ' ')" = 2a ] || differ "score sector not written"
    end
    # No disk: SeaBIOS says so on COM1 (and would retry in 60 s: --timeout ends it).
    begin seabios-no-boot-device
    vm run --timeout 3 -bios "$SEABIOS"
    grep -qF 'No bootable device.' "$TMP/out" || differ "no 'No bootable device': $(show "$TMP/out")"
    end
}
