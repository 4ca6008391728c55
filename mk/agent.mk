# Builds the agent for one interpreter:
#   make -f mk/agent.mk PY=/usr/bin/python3.11 TAG=cp311 BUILD=build
# The result lands where peeka-rec looks for it: lib/peeka/agent/TAG/.
PYINC   := $(shell $(PY) -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
OUT     := $(BUILD)/lib/peeka/agent/$(TAG)/_peeka_agent.so
OBJDIR  := $(BUILD)/obj/agent-$(TAG)
# The agent shares only what it needs from common/ (it lives in the target).
SRCS    := $(wildcard agent/*.c) common/frame.c common/pattern.c common/redact.c \
           common/probe_table.c common/probe_values.c common/probe_snapshot.c \
           common/task_words.c common/cpu_marks.c
OBJS    := $(patsubst %.c,$(OBJDIR)/%.o,$(SRCS))
ACFLAGS := -std=c11 -D_GNU_SOURCE -fPIC -fvisibility=hidden -Wall -Wextra -Wshadow \
           -Wno-missing-field-initializers -Wno-cast-function-type \
           -Icommon -I$(PYINC) $(shell pkg-config --cflags libcjson) \
           -DPEEKA_VERSION='"$(VERSION)"' -MMD -MP $(SAN)

$(OUT): $(OBJS)
	@mkdir -p $(@D)
	$(CC) -shared $(SAN) -o $@ $^ $(shell pkg-config --libs libcjson) -lpthread
	@echo "agent $(TAG) <- $(PY)"

# Only the layout table sees CPython's internal structures (agent/py_layout.c).
$(OBJDIR)/agent/py_layout.o: ACFLAGS += -DPy_BUILD_CORE -I$(PYINC)/internal

$(OBJDIR)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ACFLAGS) $(CFLAGS) -c $< -o $@

-include $(OBJS:.o=.d)
