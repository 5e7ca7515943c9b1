# rollup: top-level targets. The PGXS build itself lives in build.mk.
#   make            build rollup.so and the install script
#   make install    install into the PostgreSQL that pg_config names (as root)
#   make check      install missing packages, build, Catch2 unit tests, then pg_regress + isolation
#                   specs on a coordinator and two workers started on loopback (the CI command)
#   make demo       the tutorial end to end on a local cluster (NODES=2 adds two workers), then a
#                   live dashboard for DURATION seconds (default 120) and demo/report.html
#   make demo-stop  stop what a killed `make demo` left running
#   make bench      the benchmark harness (bench/)
PG_CONFIG ?= pg_config
BUILD = $(MAKE) -f build.mk PG_CONFIG=$(PG_CONFIG)

.PHONY: all install uninstall clean deps unit check demo demo-stop bench
all:
	$(BUILD) all
install: all
	$(BUILD) install
uninstall:
	$(BUILD) uninstall
clean:
	$(BUILD) clean
	rm -rf build

deps:
	@bash scripts/install-deps.sh

unit: deps
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build build -j2
	cd build && ctest --output-on-failure

check: deps
	PG_CONFIG=$(PG_CONFIG) bash scripts/check.sh

demo: deps
	$(BUILD) all -j2
	bash scripts/demo.sh

demo-stop:
	bash scripts/demo-stop.sh

bench: deps
	$(BUILD) all -j2
	bash bench/run.sh
