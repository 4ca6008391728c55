# peeka — build, test, install.  `make help` lists the targets.
VERSION   := 0.1.0
PREFIX    ?= /usr/local
DESTDIR   ?=
BUILD     ?= build
CC        ?= cc
OPT       ?= -O2
CFLAGS    ?= $(OPT) -g
SAN       ?=
LDFLAGS   ?=

BASE_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wstrict-prototypes \
              -Wno-missing-field-initializers -Icommon -DPEEKA_VERSION='"$(VERSION)"' \
              -MMD -MP $(SAN)

# `make check` and `make demo` first make sure the Debian packages are there
# (installing them as root, naming them otherwise), then build in a
# sub-make; only a make that builds asks pkg-config for flags.
SETUP_GOALS := check demo deps help clean distclean asan
ifeq ($(PEEKA_INNER),)
ifneq ($(MAKECMDGOALS),)
ifeq ($(filter-out $(SETUP_GOALS),$(MAKECMDGOALS)),)
OUTER := 1
endif
endif
endif

ifndef OUTER
REC_PKGS  := $(shell sh mk/pkg.sh --cflags libzstd libcjson)
ANA_PKGS  := $(shell sh mk/pkg.sh --cflags libarchive libzstd libcjson lua5.4)
ifneq ($(findstring __PEEKA_MISSING_DEP__,$(REC_PKGS) $(ANA_PKGS)),)
$(error a build dependency is missing: see the message above)
endif
REC_LIBS  := $(shell pkg-config --libs libzstd libcjson)
ANA_LIBS  := $(shell pkg-config --libs libarchive libzstd libcjson lua5.4)
endif

COMMON_SRC := $(wildcard common/*.c)
REC_SRC    := $(filter-out recorder/main.c,$(wildcard recorder/*.c))
ANA_SRC    := $(filter-out analyzer/main.c,$(wildcard analyzer/*.c))
obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

COMMON_OBJ := $(call obj,$(COMMON_SRC))
REC_OBJ    := $(call obj,$(REC_SRC))
ANA_OBJ    := $(call obj,$(ANA_SRC))

BIN_REC := $(BUILD)/bin/peeka-rec
BIN_ANA := $(BUILD)/bin/peeka-analyze
SCRIPTS_OUT := $(BUILD)/share/peeka/scripts

UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

.PHONY: all agents scripts manpages completion pyagent check unit e2e asan bench fuzz demo install \
        uninstall deps clean distclean help
all: $(BIN_REC) $(BIN_ANA) agents scripts pyagent manpages completion

help:
	@echo "make            build peeka-rec, peeka-analyze, one agent per CPython"
	@echo "make deps       install the Debian packages peeka needs (as root)"
	@echo "make demo       record the bundled example service and report on it"
	@echo "make check      run every test (unit + end-to-end, every CPython found)"
	@echo "make asan       the test suite under AddressSanitizer + UBSan"
	@echo "make bench      run the benchmarks"
	@echo "make fuzz       run the libFuzzer targets (FUZZ_SECONDS=60 each)"
	@echo "make install    PREFIX=$(PREFIX) DESTDIR= installs binaries, agents, scripts, docs"
	@echo "PYTHONS='python3.12 /opt/py/bin/python3' limits the interpreters"

deps:
	@sh mk/deps.sh --install

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $(REC_PKGS) $(ANA_PKGS) -c $< -o $@

$(BIN_REC): $(call obj,recorder/main.c) $(REC_OBJ) $(COMMON_OBJ)
	@mkdir -p $(@D)
	$(CC) $(SAN) $(LDFLAGS) -o $@ $^ $(REC_LIBS) -lpthread -lm

$(BIN_ANA): $(call obj,analyzer/main.c) $(ANA_OBJ) $(COMMON_OBJ)
	@mkdir -p $(@D)
	$(CC) $(SAN) $(LDFLAGS) -o $@ $^ $(ANA_LIBS) -lm

# One agent per interpreter minor version; mk/agent.mk builds one.
agents:
	@sh mk/pythons.sh > $(BUILD).pythons.tmp; \
	if [ ! -s $(BUILD).pythons.tmp ]; then \
	  echo "peeka: no CPython with headers found; run 'make deps' (python3-dev)" >&2; \
	  rm -f $(BUILD).pythons.tmp; exit 1; fi; \
	while read tag py; do \
	  $(MAKE) --no-print-directory -f mk/agent.mk TAG=$$tag PY=$$py BUILD=$(BUILD) \
	    CC="$(CC)" CFLAGS="$(CFLAGS)" SAN="$(AGENT_SAN)" VERSION=$(VERSION) || exit 1; \
	done < $(BUILD).pythons.tmp; rm -f $(BUILD).pythons.tmp

scripts:
	@mkdir -p $(SCRIPTS_OUT)
	@cp scripts/*.lua $(SCRIPTS_OUT)/ 2>/dev/null || true
	@mkdir -p $(SCRIPTS_OUT)/lib && cp scripts/lib/*.lua $(SCRIPTS_OUT)/lib/

# Man pages and shell completion come from the programs' own --help (and
# README's exit codes, docs/lua-api.md), so they cannot drift from them.
HELP_OUT := $(BUILD)/help
MAN_OUT  := $(BUILD)/share/man
COMP_OUT := $(BUILD)/share/completion
MAN_PAGES := $(MAN_OUT)/man1/peeka-rec.1 $(MAN_OUT)/man1/peeka-analyze.1 $(MAN_OUT)/man7/peeka-lua.7
manpages: $(MAN_PAGES)
completion: $(COMP_OUT)/peeka.bash $(COMP_OUT)/_peeka

$(HELP_OUT)/peeka-rec.txt: $(BIN_REC)
	@mkdir -p $(@D)
	$(BIN_REC) --help > $@
$(HELP_OUT)/peeka-analyze.txt: $(BIN_ANA)
	@mkdir -p $(@D)
	$(BIN_ANA) --help > $@
$(HELP_OUT)/scripts.txt: $(BIN_ANA) $(wildcard scripts/*.lua)
	@mkdir -p $(@D)
	PEEKA_SCRIPT_DIR=scripts sh -c 'for s in $$($(BIN_ANA) -l | cut -d" " -f1); do \
	  $(BIN_ANA) -i $$s && printf "\f"; done' > $@.tmp && mv $@.tmp $@
$(MAN_OUT)/man1/peeka-rec.1: mk/man.py $(HELP_OUT)/peeka-rec.txt README.md docs/man/peeka-rec.1.md
	@mkdir -p $(@D)
	python3 mk/man.py help peeka-rec 1 $(HELP_OUT)/peeka-rec.txt README.md docs/man/peeka-rec.1.md > $@
$(MAN_OUT)/man1/peeka-analyze.1: mk/man.py $(HELP_OUT)/peeka-analyze.txt $(HELP_OUT)/scripts.txt README.md \
                                 docs/man/peeka-analyze.1.md
	@mkdir -p $(@D)
	python3 mk/man.py help peeka-analyze 1 $(HELP_OUT)/peeka-analyze.txt README.md \
	  docs/man/peeka-analyze.1.md $(HELP_OUT)/scripts.txt > $@
$(MAN_OUT)/man7/peeka-lua.7: mk/man.py docs/lua-api.md
	@mkdir -p $(@D)
	python3 mk/man.py md peeka-lua 7 docs/lua-api.md > $@
$(COMP_OUT)/peeka.bash $(COMP_OUT)/_peeka: mk/completion.py $(HELP_OUT)/peeka-rec.txt \
                                          $(HELP_OUT)/peeka-analyze.txt $(HELP_OUT)/scripts.txt
	@mkdir -p $(@D)
	python3 mk/completion.py $(if $(filter %.bash,$@),bash,zsh) $(HELP_OUT)/peeka-rec.txt \
	  $(HELP_OUT)/peeka-analyze.txt $(HELP_OUT)/scripts.txt > $@

# The pre-installed agent's Python side (python/peeka_agent): next to the
# agents it loads, PREFIX/lib/peeka/python/ (README "Pre-installed agent").
PYAGENT_OUT := $(BUILD)/lib/peeka/python/peeka_agent
pyagent:
	@mkdir -p $(PYAGENT_OUT)
	@cp python/peeka_agent/*.py $(PYAGENT_OUT)/

# Unit tests link everything but the two main() files.
$(BUILD)/tests/test_%: tests/unit/test_%.c $(REC_OBJ) $(ANA_OBJ) $(COMMON_OBJ)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $(REC_PKGS) $(ANA_PKGS) $$(pkg-config --cflags check) \
	  -o $@ $^ $(ANA_LIBS) $(REC_LIBS) $$(pkg-config --libs check) -lpthread -lm

# agent/threads.c is plain C: its test links it alone with the rest.
$(BUILD)/tests/test_threads: agent/threads.c
$(BUILD)/tests/test_jsonw: agent/jsonw.c
$(BUILD)/tests/test_jsonw: BASE_CFLAGS += -Iagent
$(BUILD)/tests/test_wire_segments: agent/segments.c agent/jsonw.c
$(BUILD)/tests/test_wire_segments: BASE_CFLAGS += -Iagent

unit: $(UNIT_BINS)

check:
	@sh mk/deps.sh --install --tests
	@$(MAKE) --no-print-directory PEEKA_INNER=1 all unit
	@BUILD=$(BUILD) python3 tests/run.py

# The agents are sanitized too: they run inside uninstrumented Pythons, so
# the end-to-end tests preload the ASan runtime into those (tests/run.py).
ASAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
asan:
	@$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 SAN="$(ASAN_FLAGS)" AGENT_SAN="$(ASAN_FLAGS)" \
	  PEEKA_ASAN_PRELOAD="$$($(CC) -print-file-name=libasan.so)" check

bench: all
	@BUILD=$(BUILD) python3 tests/bench/run.py

fuzz:
	@$(MAKE) --no-print-directory -f mk/fuzz.mk BUILD=build-fuzz FUZZ_SECONDS=$(or $(FUZZ_SECONDS),60)

demo:
	@sh mk/deps.sh --install
	@$(MAKE) --no-print-directory PEEKA_INNER=1 all
	@sh examples/demo.sh $(BUILD)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/peeka $(DESTDIR)$(PREFIX)/share/peeka/scripts \
	  $(DESTDIR)$(PREFIX)/share/doc/peeka
	install -m 755 $(BIN_REC) $(BIN_ANA) $(DESTDIR)$(PREFIX)/bin/
	cp -R $(BUILD)/lib/peeka/. $(DESTDIR)$(PREFIX)/lib/peeka/
	install -m 644 scripts/*.lua $(DESTDIR)$(PREFIX)/share/peeka/scripts/
	install -d $(DESTDIR)$(PREFIX)/share/peeka/scripts/lib
	install -m 644 scripts/lib/*.lua $(DESTDIR)$(PREFIX)/share/peeka/scripts/lib/
	install -m 644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/peeka/
	install -d $(DESTDIR)$(PREFIX)/share/peeka/examples/cron
	install -m 644 examples/cron/peeka-checkout.* examples/cron/checkout.probes $(DESTDIR)$(PREFIX)/share/peeka/examples/cron/
	install -m 755 examples/cron/peeka-workers.sh $(DESTDIR)$(PREFIX)/share/peeka/examples/cron/
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man7 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/zsh/site-functions
	install -m 644 $(MAN_OUT)/man1/peeka-rec.1 $(MAN_OUT)/man1/peeka-analyze.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 $(MAN_OUT)/man7/peeka-lua.7 $(DESTDIR)$(PREFIX)/share/man/man7/
	install -m 644 $(COMP_OUT)/peeka.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/peeka-rec
	ln -sf peeka-rec $(DESTDIR)$(PREFIX)/share/bash-completion/completions/peeka-analyze
	install -m 644 $(COMP_OUT)/_peeka $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_peeka

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/peeka-rec $(DESTDIR)$(PREFIX)/bin/peeka-analyze
	rm -rf $(DESTDIR)$(PREFIX)/lib/peeka $(DESTDIR)$(PREFIX)/share/peeka $(DESTDIR)$(PREFIX)/share/doc/peeka
	rm -f $(DESTDIR)$(PREFIX)/share/man/man1/peeka-rec.1 $(DESTDIR)$(PREFIX)/share/man/man1/peeka-analyze.1 \
	  $(DESTDIR)$(PREFIX)/share/man/man7/peeka-lua.7 $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_peeka \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions/peeka-rec \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions/peeka-analyze

clean:
	rm -rf $(BUILD) build-asan build-fuzz

distclean: clean

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ---- Unit tests that embed CPython: tests/unit/py_test_*.c ------------------
# Each becomes $(BUILD)/tests/test_py_*, linked with the condition evaluator
# (agent/cond_*.c) and the first interpreter mk/pythons.sh lists.
PY_UNIT_SRC  := $(wildcard tests/unit/py_test_*.c)
PY_UNIT_BINS := $(patsubst tests/unit/py_test_%.c,$(BUILD)/tests/test_py_%,$(PY_UNIT_SRC))
# Expanded on first use only, so other targets do not pay for the lookup.
PY_EMBED = $(eval PY_EMBED := $$(shell sh mk/pythons.sh | head -n 1 | cut -d' ' -f2))$(PY_EMBED)
PY_EMBED_CFLAGS = $(eval PY_EMBED_CFLAGS := $$(shell $(PY_EMBED) -c 'import sysconfig as s; print("-I" + s.get_paths()["include"])'))$(PY_EMBED_CFLAGS)
PY_EMBED_LIBS = $(eval PY_EMBED_LIBS := $$(shell $(PY_EMBED) -c 'import sysconfig as s; v = s.get_config_var; d = v("LIBDIR"); print("-L%s -Wl,-rpath,%s -lpython%s %s %s" % (d, d, v("LDVERSION"), v("LIBS") or "", v("SYSLIBS") or ""))'))$(PY_EMBED_LIBS)

$(BUILD)/tests/test_py_%: tests/unit/py_test_%.c $(wildcard agent/cond*.c agent/cond*.h)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -Iagent $(PY_EMBED_CFLAGS) $$(pkg-config --cflags check) \
	  -o $@ $< $(wildcard agent/cond_*.c) $(PY_EMBED_LIBS) $$(pkg-config --libs check) -lpthread -lm

unit: $(PY_UNIT_BINS)
