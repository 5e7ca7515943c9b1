// The Catch2 (v2) runner: main() lives here only, so each test file stays a plain list of TEST_CASEs.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
