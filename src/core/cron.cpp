#include "core/cron.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <string>
#include <vector>

namespace rollup::core {

// ---- calendar (Howard Hinnant's civil-date algorithms) ----

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t &y, unsigned &m, unsigned &d) {
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

static int weekday_of_days(int64_t days) {  // 1970-01-01 was a Thursday
    int64_t w = (days + 4) % 7;
    return static_cast<int>(w < 0 ? w + 7 : w);
}

static unsigned days_in_month(int64_t y, unsigned m) {
    static const unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2) {
        bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        return leap ? 29 : 28;
    }
    return kDays[m - 1];
}

// ---- parsing ----

namespace {

struct FieldSpec {
    const char *name;  // as used in messages: "minute", "day of week"
    int lo, hi;        // accepted values (day of week accepts 7 = Sunday)
    const char *const *names;
    int name_base;     // value of names[0]
};

const char *const kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                   "jul", "aug", "sep", "oct", "nov", "dec", nullptr};
const char *const kDayNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", nullptr};

const FieldSpec kFields[5] = {
    {"minute", 0, 59, nullptr, 0},
    {"hour", 0, 23, nullptr, 0},
    {"day of month", 1, 31, nullptr, 0},
    {"month", 1, 12, kMonthNames, 1},
    {"day of week", 0, 7, kDayNames, 0},
};

std::string lower(std::string s) {
    for (char &c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::vector<std::string> split_ws(const std::string &s) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) i++;
        size_t j = i;
        while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j]))) j++;
        if (j > i) out.push_back(s.substr(i, j - i));
        i = j;
    }
    return out;
}

bool all_digits(const std::string &s) {
    return !s.empty() && std::all_of(s.begin(), s.end(),
                                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

[[noreturn]] void fail(const std::string &msg) { throw ScheduleError(msg); }

// A value: a number or (month, day of week) a name. `is_name` reports which.
int parse_value(const std::string &tok, const FieldSpec &f, bool &is_name) {
    is_name = false;
    if (tok.empty()) fail(std::string("missing value in ") + f.name + " field");
    if (all_digits(tok)) {
        if (tok.size() > 4) fail(std::string(f.name) + " " + tok + " is out of range (" +
                                 std::to_string(f.lo) + "-" + std::to_string(f.hi) + ")");
        int v = std::stoi(tok);
        if (v < f.lo || v > f.hi)
            fail(std::string(f.name) + " " + tok + " is out of range (" + std::to_string(f.lo) + "-" +
                 std::to_string(f.hi) + ")");
        return v;
    }
    if (f.names) {
        for (int i = 0; f.names[i]; i++)
            if (tok == f.names[i]) {
                is_name = true;
                return f.name_base + i;
            }
    }
    std::string msg = "invalid " + std::string(f.name) + " \"" + tok + "\"";
    if (f.names == kMonthNames) msg += " (expected 1-12 or jan-dec)";
    else if (f.names == kDayNames) msg += " (expected 0-7 or sun-sat)";
    else msg += " (expected a number " + std::to_string(f.lo) + "-" + std::to_string(f.hi) + ")";
    fail(msg);
}

// Parses one field into a bit set (bit v for value v). Returns whether it starts with '*'.
bool parse_field(const std::string &text, const FieldSpec &f, uint64_t &bits) {
    bits = 0;
    if (text.empty()) fail(std::string("empty ") + f.name + " field");
    size_t start = 0;
    while (true) {
        size_t comma = text.find(',', start);
        std::string elem = text.substr(start, comma == std::string::npos ? std::string::npos
                                                                          : comma - start);
        if (elem.empty()) fail(std::string("empty list element in ") + f.name + " field \"" + text + "\"");
        std::string base = elem;
        int step = 1;
        size_t slash = elem.find('/');
        bool has_step = slash != std::string::npos;
        if (has_step) {
            base = elem.substr(0, slash);
            std::string st = elem.substr(slash + 1);
            if (!all_digits(st))
                fail("invalid step \"" + st + "\" in " + f.name + " field (expected a positive number)");
            if (st.size() > 4 || std::stoi(st) < 1 || std::stoi(st) > f.hi - f.lo + 1)
                fail("step " + st + " in " + f.name + " field is out of range (1-" +
                     std::to_string(f.hi - f.lo + 1) + ")");
            step = std::stoi(st);
        }
        int first, last;
        if (base == "*") {
            first = f.lo;
            last = f.hi;
            if (f.names == kDayNames) last = 6;  // 7 is only an alias of Sunday
        } else {
            size_t dash = base.find('-', 1);
            bool name1 = false, name2 = false;
            if (dash == std::string::npos) {
                first = parse_value(base, f, name1);
                last = has_step ? (f.names == kDayNames ? 6 : f.hi) : first;
            } else {
                first = parse_value(base.substr(0, dash), f, name1);
                last = parse_value(base.substr(dash + 1), f, name2);
                if (f.names == kDayNames && last == 0 && first > 0) last = 7;  // "fri-sun"
                if (first > last)
                    fail(std::string(f.name) + " range " + base + " is reversed (start after end)");
            }
        }
        for (int v = first; v <= last; v += step) bits |= uint64_t{1} << v;
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return text[0] == '*';
}

bool parse_interval(const std::vector<std::string> &tok, int64_t &seconds) {
    std::string num, unit;
    if (tok.size() == 2 && all_digits(tok[0]) && std::isalpha(static_cast<unsigned char>(tok[1][0]))) {
        num = tok[0];
        unit = tok[1];
    } else if (tok.size() == 1 && std::isdigit(static_cast<unsigned char>(tok[0][0]))) {
        size_t i = 0;
        while (i < tok[0].size() && std::isdigit(static_cast<unsigned char>(tok[0][i]))) i++;
        if (i == tok[0].size() || !std::isalpha(static_cast<unsigned char>(tok[0][i]))) return false;
        num = tok[0].substr(0, i);
        unit = tok[0].substr(i);
    } else {
        return false;
    }
    int64_t mult;
    if (unit == "s" || unit == "sec" || unit == "secs" || unit == "second" || unit == "seconds")
        mult = 1;
    else if (unit == "min" || unit == "mins" || unit == "minute" || unit == "minutes")
        mult = 60;
    else if (unit == "h" || unit == "hour" || unit == "hours")
        mult = 3600;
    else if (unit == "d" || unit == "day" || unit == "days")
        mult = 86400;
    else
        fail("unknown interval unit \"" + unit + "\" (use seconds, minutes, hours or days)");
    if (num.size() > 9) fail("interval \"" + num + " " + unit + "\" is too long (at most 366 days)");
    int64_t v = std::stoll(num) * mult;
    if (v < kMinIntervalSeconds) fail("interval must be at least 1 second");
    if (v > kMaxIntervalSeconds) fail("interval \"" + num + " " + unit + "\" is too long (at most 366 days)");
    seconds = v;
    return true;
}

}  // namespace

Schedule Schedule::parse(const std::string &raw) {
    std::string text = lower(raw);
    std::vector<std::string> tok = split_ws(text);
    if (tok.empty()) fail("schedule is empty");

    if (tok[0][0] == '@') {
        if (tok.size() != 1) fail("nothing may follow the shorthand " + tok[0]);
        const std::string &s = tok[0];
        std::string expr;
        if (s == "@yearly" || s == "@annually") expr = "0 0 1 1 *";
        else if (s == "@monthly") expr = "0 0 1 * *";
        else if (s == "@weekly") expr = "0 0 * * 0";
        else if (s == "@daily" || s == "@midnight") expr = "0 0 * * *";
        else if (s == "@hourly") expr = "0 * * * *";
        else if (s == "@reboot") fail("@reboot is not supported");
        else
            fail("unknown shorthand " + s +
                 " (use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly)");
        return parse(expr);
    }

    Schedule out;
    int64_t secs = 0;
    if (parse_interval(tok, secs)) {
        out.interval_ = secs;
        return out;
    }
    if (tok.size() != 5) {
        std::string msg = "expected 5 fields (minute hour day-of-month month day-of-week) or an "
                          "interval such as '30 seconds', found " + std::to_string(tok.size()) +
                          (tok.size() == 1 ? " field" : " fields");
        if (tok.size() == 6) msg += " (there is no seconds field: use an interval for sub-minute schedules)";
        fail(msg);
    }
    uint64_t bits[5];
    bool star[5];
    for (int i = 0; i < 5; i++) star[i] = parse_field(tok[i], kFields[i], bits[i]);
    CronFields &c = out.cron_;
    c.minutes = bits[0];
    c.hours = static_cast<uint32_t>(bits[1]);
    c.days = static_cast<uint32_t>(bits[2]);
    c.months = static_cast<uint16_t>(bits[3]);
    uint64_t dow = bits[4];
    if (dow & (uint64_t{1} << 7)) dow = (dow | 1) & 0x7F;
    c.weekdays = static_cast<uint8_t>(dow);
    c.dom_star = star[2];
    c.dow_star = star[4];
    c.wildcard = star[0] || star[1];

    // A day of month that no selected month has (e.g. "0 0 30 2 *") would never fire.
    if (c.dow_star) {
        bool possible = false;
        for (unsigned m = 1; m <= 12 && !possible; m++) {
            if (!(c.months & (1u << m))) continue;
            unsigned maxd = m == 2 ? 29 : days_in_month(2001, m);
            for (unsigned d = 1; d <= maxd; d++)
                if (c.days & (1u << d)) { possible = true; break; }
        }
        if (!possible)
            fail("day of month " + tok[2] + " never occurs in month " + tok[3] +
                 ", so the schedule would never run");
    }
    return out;
}

// ---- matching ----

namespace {

bool day_matches(const CronFields &c, unsigned d, int wday) {
    bool dom = c.days & (1u << d);
    bool dow = c.weekdays & (1u << wday);
    if (c.dom_star || c.dow_star) return dom && dow;
    return dom || dow;
}

// Lowest set bit >= from, or -1.
int next_bit(uint64_t bits, int from, int hi) {
    for (int v = from; v <= hi; v++)
        if (bits & (uint64_t{1} << v)) return v;
    return -1;
}

// First wall-clock minute >= w (w a multiple of 60) matching c, or kNever past `limit`.
int64_t next_wall_match(const CronFields &c, int64_t w, int64_t limit) {
    while (w <= limit) {
        int64_t days = floor_div(w, 86400);
        int64_t secs = w - days * 86400;
        int64_t y;
        unsigned m, d;
        civil_from_days(days, y, m, d);
        int h = static_cast<int>(secs / 3600);
        int mi = static_cast<int>(secs % 3600 / 60);
        if (!(c.months & (1u << m))) {
            w = days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) * 86400;
            continue;
        }
        if (!day_matches(c, d, weekday_of_days(days))) {
            w = (days + 1) * 86400;
            continue;
        }
        if (!(c.hours & (1u << h))) {
            int nh = next_bit(c.hours, h + 1, 23);
            w = nh < 0 ? (days + 1) * 86400 : days * 86400 + nh * 3600;
            continue;
        }
        if (!(c.minutes & (uint64_t{1} << mi))) {
            int nm = next_bit(c.minutes, mi + 1, 59);
            w = nm < 0 ? days * 86400 + (h + 1) * 3600 : days * 86400 + h * 3600 + nm * 60;
            continue;
        }
        return w;
    }
    return kNever;
}

}  // namespace

bool Schedule::matches_wall(int64_t w) const {
    if (is_interval()) return false;
    return floor_div(w, 60) * 60 == w && next_wall_match(cron_, w, w) == w;
}

int64_t Schedule::next_after(int64_t after, const TimeZone &tz, int64_t anchor) const {
    if (is_interval()) {
        if (after < anchor) return anchor + interval_;
        int64_t k = (after - anchor) / interval_ + 1;
        return anchor + k * interval_;
    }
    const int64_t kHorizon = 10LL * 366 * 86400;
    const int64_t wall_after = after + tz.utc_offset(after);
    const int64_t limit = wall_after + kHorizon;
    int64_t w = floor_div(wall_after - kMaxBackwardShift, 60) * 60;
    int64_t best = kNever, best_wall = 0;

    while (true) {
        w = next_wall_match(cron_, w, limit);
        if (w == kNever) break;
        if (best != kNever && w > best_wall + kMaxBackwardShift) break;

        // The instants whose wall-clock time is w: 0 (in a spring-forward gap), 1, or 2 (fall-back).
        const int64_t offs[3] = {tz.utc_offset(w - 86400), tz.utc_offset(w), tz.utc_offset(w + 86400)};
        std::vector<int64_t> inst;
        for (int64_t o : offs) {
            int64_t u = w - o;
            if (u + tz.utc_offset(u) == w && std::find(inst.begin(), inst.end(), u) == inst.end())
                inst.push_back(u);
        }
        std::sort(inst.begin(), inst.end());
        const size_t n = inst.size();
        auto consider = [&](int64_t u) {
            if (u > after && (best == kNever || u < best)) {
                best = u;
                best_wall = w;
            }
        };
        if (n > 0) {
            consider(inst[0]);                        // the first pass always fires
            if (cron_.wildcard) for (size_t i = 1; i < n; i++) consider(inst[i]);
        } else if (!cron_.wildcard) {
            // In a gap: fire at the transition, the first instant after the skipped wall-clock time.
            int64_t before = tz.utc_offset(w - 86400);
            int64_t lo = w - tz.utc_offset(w + 86400), hi = w - before;  // offset(lo)==before, not at hi
            if (lo > hi) std::swap(lo, hi);
            while (hi - lo > 1) {
                int64_t mid = lo + (hi - lo) / 2;
                if (tz.utc_offset(mid) == before) lo = mid;
                else hi = mid;
            }
            consider(hi);
        }
        w += 60;
    }
    return best;
}

}  // namespace rollup::core
