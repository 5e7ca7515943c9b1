#include "core/gid.hpp"

namespace rollup::core {

std::string make_gid(uint64_t system_id, uint32_t xid, int nodeid, int slot) {
    return "rollup_" + std::to_string(system_id) + "_" + std::to_string(xid) + "_" + std::to_string(nodeid) + "_" +
           std::to_string(slot);
}

namespace {

// Reads a canonical decimal number (no leading zero unless it is "0") of at most `max` at pos.
bool number(const std::string &s, size_t &pos, uint64_t max, uint64_t *out) {
    size_t start = pos;
    uint64_t v = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        unsigned d = static_cast<unsigned>(s[pos] - '0');
        if (v > (max - d) / 10) return false;
        v = v * 10 + d;
        pos++;
    }
    if (pos == start || (s[start] == '0' && pos - start > 1)) return false;
    *out = v;
    return true;
}

}  // namespace

bool parse_gid(const std::string &gid, uint64_t system_id, uint32_t *xid) {
    const std::string prefix = "rollup_" + std::to_string(system_id) + "_";
    if (gid.compare(0, prefix.size(), prefix) != 0) return false;
    size_t pos = prefix.size();
    uint64_t x, node, slot;
    if (!number(gid, pos, UINT32_MAX, &x) || pos >= gid.size() || gid[pos++] != '_') return false;
    if (!number(gid, pos, INT32_MAX, &node) || pos >= gid.size() || gid[pos++] != '_') return false;
    if (!number(gid, pos, INT32_MAX, &slot) || pos != gid.size()) return false;
    *xid = static_cast<uint32_t>(x);
    return true;
}

}  // namespace rollup::core
