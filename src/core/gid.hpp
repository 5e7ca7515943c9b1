// Names of rollup's prepared transactions on the nodes: rollup_<system id>_<xid>_<node>_<slot>.
// Recovery reads gids back from a node's pg_prepared_xacts, where any role of that node can
// prepare a transaction under any name: only a gid that parses exactly as ours is ever touched.
#pragma once
#include <cstdint>
#include <string>

#include "core/core_only.hpp"

namespace rollup::core {

std::string make_gid(uint64_t system_id, uint32_t xid, int nodeid, int slot);

// True when gid is exactly "rollup_<system_id>_<xid>_<node>_<slot>" (decimal digits, no sign, no
// leading zeros, each within range); *xid gets the coordinator transaction id.
bool parse_gid(const std::string &gid, uint64_t system_id, uint32_t *xid);

}  // namespace rollup::core
