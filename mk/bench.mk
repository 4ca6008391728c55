# Benchmark helpers that are plain programs (not run by tests/bench/run.py
# automatically):  make -f mk/bench.mk BUILD=build
#   $(BUILD)/bench/attach_latency PID   injection latency, --gdb to compare
BUILD   ?= build
CC      ?= cc
CFLAGS  ?= -O2 -g
SAN     ?=
ATTACH_SRC := recorder/proc_maps.c recorder/elf_symbols.c recorder/target_python.c \
              recorder/ptrace_thread.c recorder/inject.c

all: $(BUILD)/bench/attach_latency

$(BUILD)/bench/attach_latency: tests/bench/attach_latency.c $(ATTACH_SRC) recorder/*.h
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wstrict-prototypes $(SAN) $(CFLAGS) \
	  -Icommon -Irecorder -o $@ tests/bench/attach_latency.c $(ATTACH_SRC)

.PHONY: all
