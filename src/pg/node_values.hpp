// How a value of the coordinator goes to a node as text or binary: the type's own output (send)
// function, except where that function does not give back what the value holds. One such type:
// xml, whose output function drops a plain `<?xml version="1.0"?>` declaration (as COPY
// and pg_dump do); the stored text goes to the nodes as it is, so a distributed table stores what
// a local one would (its `::text` reads the declaration back).
// PostgreSQL-style C (may ereport): call inside pg::call.
#pragma once

#include "pg/pg.hpp"

namespace rollup::pg {

inline Oid node_output_function(Oid type) {
    if (type == XMLOID) return F_TEXTOUT;
    Oid func;
    bool varlena;
    getTypeOutputInfo(type, &func, &varlena);
    return func;
}

// (No xml: its binary form is read by the node in the encoding its declaration names; an xml
// column makes a binary COPY text, executor/modify_router.cpp.)
inline Oid node_send_function(Oid type) {
    Oid func;
    bool varlena;
    getTypeBinaryOutputInfo(type, &func, &varlena);
    return func;
}

}  // namespace rollup::pg
