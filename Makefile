# ScratchVM build. `make` builds the library, the command and the guests; `make check`
# runs every test twice: as built, and built with AddressSanitizer and UBSan.

BUILD   ?= build
SAN     ?=
OPT     ?= -O2
CFLAGS_COMMON := -std=c17 -Wall -Wextra -Werror -g -D_GNU_SOURCE -Iinclude -Isrc -MMD -MP
ifeq ($(SAN),1)
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
OPT      := -O1
endif
ALL_CFLAGS := $(CFLAGS_COMMON) $(OPT) $(SANFLAGS) $(CFLAGS)
ALL_LDFLAGS := $(SANFLAGS) $(LDFLAGS)

LIB_SRC  := $(sort $(wildcard src/hv/*.c src/kvm/*.c src/sim/*.c src/sim/cpu/*.c src/dev/*.c src/vmm/*.c))
CLI_SRC  := $(filter-out src/cli/main.c,$(sort $(wildcard src/cli/*.c)))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
LIB      := $(BUILD)/libscratchvm.a
CLI_LIB  := $(BUILD)/libscratchvm-cli.a
SCRATCHVM := $(BUILD)/scratchvm

# Guests are the same bytes for every build flavour.
GUEST_DIR := build/guests
GUEST_SRC := $(sort $(wildcard guests/*.s))
GUESTS    := $(GUEST_SRC:guests/%.s=$(GUEST_DIR)/%.bin)

UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
UNIT_TESTS := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRC   := $(sort $(wildcard tests/conformance/*.c))
SST_RUN    := $(BUILD)/sst-run
BENCH_SRC  := $(sort $(wildcard bench/*.c))
BENCH_BINS := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

SHARED_DIR ?= ../shared

.PHONY: all run check check-one check-asan unit integration conformance bench clean
.DEFAULT_GOAL := all

all: $(LIB) $(SCRATCHVM) $(GUESTS) $(if $(TOOL_SRC),$(SST_RUN))

run: all
	$(SCRATCHVM) demo hello

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(CLI_LIB): $(CLI_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(SCRATCHVM): $(BUILD)/obj/src/cli/main.o $(CLI_LIB) $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^

$(GUEST_DIR)/%.o: guests/%.s $(wildcard guests/*.inc)
	@mkdir -p $(dir $@)
	as --32 -I guests -o $@ $<

$(GUEST_DIR)/%.bin: $(GUEST_DIR)/%.o
	ld -m elf_i386 -T guests/flat.ld -o $@ $<

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(CLI_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka

$(SST_RUN): $(TOOL_SRC:%.c=$(BUILD)/obj/%.o) $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lz

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^

unit: $(UNIT_TESTS)
	@tests/run-unit.sh $(UNIT_TESTS)

integration: $(SCRATCHVM) $(GUESTS)
	@tests/guests/run.sh $(SCRATCHVM) $(GUEST_DIR)

conformance: $(SST_RUN)
	@if [ -d $(SHARED_DIR)/conformance/sst286 ]; then \
	  $(SST_RUN) $(SHARED_DIR)/conformance/sst286; \
	else echo "conformance: skipped: $(SHARED_DIR)/conformance/sst286 not found"; fi

check-one: all $(UNIT_TESTS)
	@$(MAKE) --no-print-directory BUILD=$(BUILD) SAN=$(SAN) unit integration

check-asan:
	@echo "== tests built with -fsanitize=address,undefined =="
	@$(MAKE) --no-print-directory BUILD=build/asan SAN=1 check-one

check: check-one
	@$(MAKE) --no-print-directory check-asan
	@$(if $(TOOL_SRC),$(MAKE) --no-print-directory conformance,echo "conformance: skipped: no runner yet")

bench: all $(BENCH_BINS)
	@bench/run.sh $(BUILD)

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
