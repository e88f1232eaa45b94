/* Unit tests for QEMU's test devices: fw_cfg (src/dev/fw_cfg.c) and pc-testdev
 * (src/dev/pc_testdev.c), through the bus as a guest reaches them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hypervisor_sim.h"
#include "vmm/platform.h"

static uint64_t read_item(SimpleVM *svm, uint16_t key, int bytes)
{
    assert_int_equal(io_bus_out(svm->io_bus, FW_CFG_PORT_SELECTOR, 4, key), 0);   /* as outl */
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) {
        uint32_t b;
        assert_int_equal(io_bus_in(svm->io_bus, FW_CFG_PORT_DATA, 1, &b), 0);
        v |= (uint64_t)(b & 0xFF) << (8 * i);
    }
    return v;
}

static void test_fw_cfg(void **state)
{
    (void)state;
    SimpleVM *svm = vm_create_backend(8, HV_BACKEND_SIM);
    assert_non_null(svm);
    assert_int_equal(read_item(svm, FW_CFG_SIGNATURE, 4), 0x554D4551);   /* "QEMU" */
    assert_int_equal(read_item(svm, FW_CFG_ID, 4), 1);
    assert_int_equal(read_item(svm, FW_CFG_NB_CPUS, 2), 1);
    assert_int_equal(read_item(svm, FW_CFG_MAX_CPUS, 2), 1);
    assert_int_equal(read_item(svm, FW_CFG_RAM_SIZE, 8), 8u << 20);
    assert_int_equal(read_item(svm, 0x1234, 4), 0);                      /* unknown: zeros */
    assert_int_equal(read_item(svm, FW_CFG_SIGNATURE, 6) >> 32, 0);      /* past the end */
    /* The file directory: a big-endian count, then size, selector, name. */
    assert_int_equal(read_item(svm, FW_CFG_FILE_DIR, 4), 0);
    assert_int_equal(fw_cfg_add_file(svm->fw_cfg, "etc/test", "abc", 3), 0);
    uint8_t dir[68];
    io_bus_out(svm->io_bus, FW_CFG_PORT_SELECTOR, 2, FW_CFG_FILE_DIR);
    for (int i = 0; i < 68; i++) {
        uint32_t b;
        io_bus_in(svm->io_bus, FW_CFG_PORT_DATA, 1, &b);
        dir[i] = (uint8_t)b;
    }
    assert_memory_equal(dir, "\0\0\0\1\0\0\0\3\0\x20", 10);
    assert_string_equal((const char *)dir + 12, "etc/test");
    assert_int_equal(read_item(svm, 0x20, 3), 0x636261);
    char name[80];
    memset(name, 'x', sizeof(name));
    name[79] = '\0';
    assert_true(fw_cfg_add_file(svm->fw_cfg, name, "", 0) < 0);   /* name too long */
    vm_destroy(svm);
}

static int irq_calls, irq_line, irq_level;
static void record_irq(void *opaque, int line, int level)
{
    (void)opaque;
    irq_calls++;
    irq_line = line;
    irq_level = level;
}

static void test_pc_testdev(void **state)
{
    (void)state;
    SimpleVM *svm = vm_create_backend(8, HV_BACKEND_SIM);
    assert_non_null(svm);
    uint32_t v;
    assert_int_equal(io_bus_in(svm->io_bus, PC_TESTDEV_IOPORT, 1, &v), 0);
    assert_int_equal(v, 0xFF);   /* not there until added */
    assert_int_equal(vm_add_pc_testdev(svm), 0);
    assert_true(vm_add_pc_testdev(svm) < 0);
    IoBus *bus = svm->io_bus;
    io_bus_out(bus, 0xE0, 4, 0x11223344);
    io_bus_in(bus, 0xE0, 4, &v);
    assert_int_equal(v, 0x11223344);
    io_bus_out(bus, 0xE1, 1, 0xAA);
    io_bus_in(bus, 0xE0, 4, &v);
    assert_int_equal(v, 0x1122AA44);
    io_bus_in(bus, 0xE2, 2, &v);
    assert_int_equal(v, 0x1122);
    io_bus_out(bus, 0xE2, 2, 0xBEEF);
    io_bus_in(bus, 0xE0, 4, &v);
    assert_int_equal(v, 0xBEEFAA44);
    io_bus_out(bus, 0xE4, 4, 0x1000);
    assert_int_equal(svm->testdev->page_flushes, 1);
    svm->testdev->set_irq = record_irq;
    io_bus_out(bus, 0x200B, 4, 1);
    assert_int_equal(irq_calls, 1);
    assert_int_equal(irq_line, 11);
    assert_int_equal(irq_level, 1);
    io_bus_out(bus, 0x200B, 4, 0);
    assert_int_equal(irq_level, 0);
    /* The I/O memory page: plain memory through MMIO. */
    uint64_t m;
    assert_int_equal(mmio_bus_write(svm->mmio_bus, PC_TESTDEV_IOMEM + 8, 8, 0x0123456789ABCDEFull), 0);
    assert_int_equal(mmio_bus_read(svm->mmio_bus, PC_TESTDEV_IOMEM + 12, 4, &m), 0);
    assert_int_equal(m, 0x01234567);
    assert_int_equal(mmio_bus_read(svm->mmio_bus, PC_TESTDEV_IOMEM + 4095, 1, &m), 0);
    vm_destroy(svm);
}

/* The VM wires pc-testdev's lines to its ISA bus, as QEMU does: a write of 1 to port
 * 0x2000 + n raises ISA IRQ n at the 8259A pair (IRR, whatever IMR) and the IOAPIC pin
 * (level seen in `info ioapic`'s IRR); 0 lowers it. Lines 16-23 name no ISA line. */
static void test_pc_testdev_irq_to_pic(void **state)
{
    (void)state;
    SimpleVM *svm = vm_create_backend(8, HV_BACKEND_SIM);
    assert_non_null(svm);
    assert_int_equal(vm_add_pc_testdev(svm), 0);
    IoBus *bus = svm->io_bus;
    PicChipState s;
    io_bus_out(bus, PC_TESTDEV_IRQ_PORT + 3, 1, 1);
    io_bus_out(bus, PC_TESTDEV_IRQ_PORT + 10, 1, 0x80);   /* any non-zero value: level 1 */
    pic_chip_state(svm->platform->pic, 0, &s);
    assert_int_equal(s.irr & 0x08, 0x08);                 /* IR3 */
    pic_chip_state(svm->platform->pic, 1, &s);
    assert_int_equal(s.irr, 0x04);                        /* IRQ10 is the slave's IR2 */
    char buf[4096] = "";
    FILE *m = fmemopen(buf, sizeof(buf), "w");
    ioapic_print_info(svm->platform->ioapic, m);
    fclose(m);
    /* Pins 16-19 are the PCI INTx lines: idle high, active for the IOAPIC until the OS
     * programs them active low. */
    assert_non_null(strstr(buf, "IRR 000f0408"));
    io_bus_out(bus, PC_TESTDEV_IRQ_PORT + 10, 1, 0);
    io_bus_out(bus, PC_TESTDEV_IRQ_PORT + 20, 1, 1);      /* no ISA line: ignored */
    m = fmemopen(buf, sizeof(buf), "w");
    ioapic_print_info(svm->platform->ioapic, m);
    fclose(m);
    assert_non_null(strstr(buf, "IRR 000f0008"));
    uint32_t v;
    io_bus_in(bus, PC_TESTDEV_IRQ_PORT + 20, 1, &v);
    assert_int_equal(v, 1);                               /* the device keeps its level */
    vm_destroy(svm);
}

int main(void)
{
    hv_set_log_level(HV_LOG_ERROR);   /* the probe of an absent port warns */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fw_cfg),
        cmocka_unit_test(test_pc_testdev),
        cmocka_unit_test(test_pc_testdev_irq_to_pic),
    };
    return cmocka_run_group_tests_name("testdevs", tests, NULL, NULL);
}
