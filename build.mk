# PGXS build of rollup.so (driven by Makefile; C++ sources, dependency tracking with -MMD).
EXTENSION   = rollup
EXTVERSION  = 0.1
MODULE_big  = rollup
PG_CONFIG  ?= pg_config

SRCS   := $(sort $(shell find src -name '*.cpp'))
OBJS    = $(SRCS:.cpp=.o)
SQL_PARTS := $(sort $(wildcard src/sql/install/*.sql))
DATA_built = rollup--$(EXTVERSION).sql
EXTRA_CLEAN = $(SRCS:.cpp=.d) build

PG_CPPFLAGS = -Isrc -I$(shell $(PG_CONFIG) --includedir)
PG_CXXFLAGS = -std=c++17 -Wall -Wextra -Wno-register -Wno-unused-parameter \
              -Wno-missing-field-initializers -Wno-cast-function-type -MMD -MP
SHLIB_LINK  = -L$(shell $(PG_CONFIG) --libdir) -lpq -lstdc++
# Debian's PostgreSQL is built with LLVM; its bitcode rule ignores PG_CXXFLAGS. We do not ship bitcode.
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

rollup--$(EXTVERSION).sql: $(SQL_PARTS)
	cat $^ > $@

-include $(SRCS:.cpp=.d)
