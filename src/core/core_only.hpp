// Included first by every src/core header: the core is pure C++17 and must stay testable without a
// server, so it refuses to compile once PostgreSQL's headers are in (include core headers first).
#pragma once
#ifdef POSTGRES_H
static_assert(false, "src/core headers must be included before PostgreSQL headers (pg/pg.hpp)");
#endif
