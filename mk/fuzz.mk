# Builds every libFuzzer target tests/fuzz/fuzz_NAME.c into $(BUILD)/fuzz_NAME
# and runs each for FUZZ_SECONDS seconds:
#   make -f mk/fuzz.mk BUILD=build-fuzz FUZZ_SECONDS=60 [FUZZ_TARGETS="frame cond"]
#   make -f mk/fuzz.mk BUILD=build-fuzz build        (binaries only)
# A target links its own source list, FUZZ_SRCS_NAME (default: common/*.c),
# with FUZZ_CFLAGS_NAME / FUZZ_LIBS_NAME, and runs with FUZZ_OPTS_NAME.
# Seeds: tests/fuzz/corpus/NAME/ (read only); what the fuzzer learns goes to
# $(BUILD)/corpus/NAME/, crashes to $(BUILD)/crash-NAME-*.  A dictionary
# tests/fuzz/NAME.dict is used when present.
BUILD        ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_TARGETS ?= $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))

FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
               -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
               -Wall -Wextra -Wshadow -Wno-missing-field-initializers \
               -Icommon -DPEEKA_VERSION='"fuzz"'
FUZZ_RUN    := -timeout=10 -rss_limit_mb=2048 -print_final_stats=1

# The first interpreter mk/pythons.sh finds, embedded in targets that need one.
# Expanded on first use only.
FUZZ_PY = $(eval FUZZ_PY := $$(shell sh mk/pythons.sh | head -n 1 | cut -d' ' -f2))$(FUZZ_PY)
PY_CFLAGS = $(eval PY_CFLAGS := $$(shell $(FUZZ_PY) -c 'import sysconfig as s; print("-I" + s.get_paths()["include"])'))$(PY_CFLAGS)
PY_LIBS = $(eval PY_LIBS := $$(shell $(FUZZ_PY) -c 'import sysconfig as s; v = s.get_config_var; d = v("LIBDIR"); print("-L%s -Wl,-rpath,%s -lpython%s %s" % (d, d, v("LDVERSION"), v("LIBS") or ""))'))$(PY_LIBS)

# ---- per-target sources ------------------------------------------------------
FUZZ_SRCS_frame   := common/frame.c
FUZZ_SRCS_segments := common/wire_segments.c

FUZZ_SRCS_cond    := agent/cond_parse.c agent/cond_eval.c
FUZZ_CFLAGS_cond   = -Iagent $(PY_CFLAGS)
FUZZ_LIBS_cond     = $(PY_LIBS)
# CPython keeps memory until exit by design; the target checks references itself.
FUZZ_OPTS_cond    := -detect_leaks=0

FUZZ_SRCS_archive := $(filter-out analyzer/main.c,$(wildcard analyzer/*.c)) $(wildcard common/*.c)
FUZZ_CFLAGS_archive = -Ianalyzer $(shell pkg-config --cflags libarchive libcjson lua5.4 libzstd)
FUZZ_LIBS_archive   = $(shell pkg-config --libs libarchive libcjson lua5.4 libzstd) -lm -lpthread
# ------------------------------------------------------------------------------

srcs_of = $(if $(FUZZ_SRCS_$(1)),$(FUZZ_SRCS_$(1)),$(wildcard common/*.c))
BINS    := $(patsubst %,$(BUILD)/fuzz_%,$(FUZZ_TARGETS))
RUNS    := $(patsubst %,run-%,$(FUZZ_TARGETS))

.PHONY: run build $(RUNS)
run: $(RUNS)
build: $(BINS)

.SECONDEXPANSION:
$(BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $$(call srcs_of,$$*) $$(wildcard agent/*.h common/*.h analyzer/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_CFLAGS_$*) -o $@ $< $(call srcs_of,$*) $(FUZZ_LIBS_$*)

# Stops at the first crash (libFuzzer exits non-zero) and names the input.
$(RUNS): run-%: $(BUILD)/fuzz_%
	@mkdir -p $(BUILD)/corpus/$*
	@echo "fuzz $*: $(FUZZ_SECONDS)s"
	@seeds=; [ -d tests/fuzz/corpus/$* ] && seeds=tests/fuzz/corpus/$*; \
	dict=; [ -f tests/fuzz/$*.dict ] && dict=-dict=tests/fuzz/$*.dict; \
	$(BUILD)/fuzz_$* $(FUZZ_RUN) $(FUZZ_OPTS_$*) $$dict -max_total_time=$(FUZZ_SECONDS) \
	  -artifact_prefix=$(BUILD)/crash-$*- $(BUILD)/corpus/$* $$seeds 2> $(BUILD)/fuzz_$*.log; \
	rc=$$?; grep -E '^(stat::|Done|#[0-9]+ +DONE)' $(BUILD)/fuzz_$*.log; \
	if [ $$rc != 0 ]; then tail -n 60 $(BUILD)/fuzz_$*.log; \
	  echo "fuzz $*: FAILED (log: $(BUILD)/fuzz_$*.log)"; exit 1; fi
