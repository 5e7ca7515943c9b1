// Schedules: cron parsing, next-fire times (ranges, steps, month ends, leap days, DST), intervals, and
// the exact messages of bad expressions. Time zones come from POSIX TZ (the server uses pg_tz).
#include "core/cron.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

using rollup::core::days_from_civil;
using rollup::core::FixedOffsetZone;
using rollup::core::kNever;
using rollup::core::Schedule;
using rollup::core::ScheduleError;
using rollup::core::TimeZone;

namespace {

// One POSIX zone at a time (TZ is process-global); tests run sequentially.
class PosixZone final : public TimeZone {
public:
    explicit PosixZone(const char *name) {
        setenv("TZ", name, 1);
        tzset();
    }
    int64_t utc_offset(int64_t t) const override {
        time_t tt = static_cast<time_t>(t);
        struct tm tm;
        localtime_r(&tt, &tm);
        return tm.tm_gmtoff;
    }
};

int64_t utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
    return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

// "2024-03-10 03:00 -0400": the instant in the zone's wall-clock time.
std::string local(int64_t t, const TimeZone &tz) {
    int64_t off = tz.utc_offset(t);
    int64_t w = t + off;
    int64_t days = w >= 0 ? w / 86400 : (w - 86399) / 86400;
    int64_t secs = w - days * 86400;
    int64_t y;
    unsigned m, d;
    rollup::core::civil_from_days(days, y, m, d);
    char buf[64];
    int64_t aoff = off < 0 ? -off : off;
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u %02lld:%02lld %c%02lld%02lld", (long long)y, m, d,
                  (long long)(secs / 3600), (long long)(secs % 3600 / 60), off < 0 ? '-' : '+',
                  (long long)(aoff / 3600), (long long)(aoff % 3600 / 60));
    return buf;
}

// The next n firing times after `after`, as local strings.
std::vector<std::string> fires(const std::string &expr, int64_t after, int n, const TimeZone &tz) {
    Schedule s = Schedule::parse(expr);
    std::vector<std::string> out;
    int64_t t = after;
    for (int i = 0; i < n; i++) {
        t = s.next_after(t, tz);
        REQUIRE(t != kNever);
        out.push_back(local(t, tz));
    }
    return out;
}

// How many times `expr` fires in [from, to).
int count_fires(const std::string &expr, int64_t from, int64_t to, const TimeZone &tz) {
    Schedule s = Schedule::parse(expr);
    int n = 0;
    for (int64_t t = s.next_after(from - 1, tz); t != kNever && t < to; t = s.next_after(t, tz)) n++;
    return n;
}

std::string parse_error(const std::string &expr) {
    try {
        Schedule::parse(expr);
    } catch (const ScheduleError &e) {
        return e.what();
    }
    return "(no error)";
}

using V = std::vector<std::string>;

}  // namespace

TEST_CASE("every minute fires at the next whole minute", "[cron]") {
    FixedOffsetZone utc0;
    Schedule s = Schedule::parse("* * * * *");
    CHECK(s.next_after(utc(2024, 5, 1, 10, 7, 30), utc0) == utc(2024, 5, 1, 10, 8));
    CHECK(s.next_after(utc(2024, 5, 1, 10, 8), utc0) == utc(2024, 5, 1, 10, 9));
    CHECK(s.next_after(utc(2024, 12, 31, 23, 59, 59), utc0) == utc(2025, 1, 1));
}

TEST_CASE("steps, ranges and lists", "[cron]") {
    FixedOffsetZone z;
    CHECK(fires("*/15 * * * *", utc(2024, 5, 1, 10, 7), 4, z) ==
          V{"2024-05-01 10:15 +0000", "2024-05-01 10:30 +0000", "2024-05-01 10:45 +0000",
            "2024-05-01 11:00 +0000"});
    CHECK(fires("10-30/10 8 * * *", utc(2024, 5, 1, 9), 4, z) ==
          V{"2024-05-02 08:10 +0000", "2024-05-02 08:20 +0000", "2024-05-02 08:30 +0000",
            "2024-05-03 08:10 +0000"});
    CHECK(fires("50/5 23 * * *", utc(2024, 5, 1, 9), 3, z) ==
          V{"2024-05-01 23:50 +0000", "2024-05-01 23:55 +0000", "2024-05-02 23:50 +0000"});
    // 2024-05-03 is a Friday: the next weekday run after Friday 17:30 is Monday 09:00.
    CHECK(fires("0,30 9-17 * * mon-fri", utc(2024, 5, 3, 17, 30), 3, z) ==
          V{"2024-05-06 09:00 +0000", "2024-05-06 09:30 +0000", "2024-05-06 10:00 +0000"});
    CHECK(fires("0 0 1 jan,jul *", utc(2024, 2, 1), 3, z) ==
          V{"2024-07-01 00:00 +0000", "2025-01-01 00:00 +0000", "2025-07-01 00:00 +0000"});
    CHECK(fires("0 12 * * fri-sun", utc(2024, 5, 1), 4, z) ==
          V{"2024-05-03 12:00 +0000", "2024-05-04 12:00 +0000", "2024-05-05 12:00 +0000",
            "2024-05-10 12:00 +0000"});
}

TEST_CASE("Sunday is 0 or 7 or sun; names are case-insensitive", "[cron]") {
    FixedOffsetZone z;
    auto sun = fires("0 0 * * 0", utc(2024, 5, 1), 3, z);
    CHECK(fires("0 0 * * 7", utc(2024, 5, 1), 3, z) == sun);
    CHECK(fires("0 0 * * SUN", utc(2024, 5, 1), 3, z) == sun);
    CHECK(fires("@weekly", utc(2024, 5, 1), 3, z) == sun);
    CHECK(sun[0] == "2024-05-05 00:00 +0000");
    CHECK(fires("0 0 1 JAN *", utc(2024, 5, 1), 1, z) == V{"2025-01-01 00:00 +0000"});
}

TEST_CASE("shorthands", "[cron]") {
    FixedOffsetZone z;
    int64_t t = utc(2024, 5, 17, 10, 20);
    CHECK(fires("@hourly", t, 1, z) == V{"2024-05-17 11:00 +0000"});
    CHECK(fires("@daily", t, 1, z) == V{"2024-05-18 00:00 +0000"});
    CHECK(fires("@midnight", t, 1, z) == V{"2024-05-18 00:00 +0000"});
    CHECK(fires("@monthly", t, 1, z) == V{"2024-06-01 00:00 +0000"});
    CHECK(fires("@yearly", t, 1, z) == V{"2025-01-01 00:00 +0000"});
    CHECK(fires("@annually", t, 1, z) == V{"2025-01-01 00:00 +0000"});
}

TEST_CASE("month ends skip months without the day", "[cron]") {
    FixedOffsetZone z;
    CHECK(fires("0 0 31 * *", utc(2024, 1, 31), 4, z) ==
          V{"2024-03-31 00:00 +0000", "2024-05-31 00:00 +0000", "2024-07-31 00:00 +0000",
            "2024-08-31 00:00 +0000"});
    CHECK(fires("0 0 30 * *", utc(2024, 1, 30), 2, z) ==
          V{"2024-03-30 00:00 +0000", "2024-04-30 00:00 +0000"});
}

TEST_CASE("February 29 fires only in leap years", "[cron]") {
    FixedOffsetZone z;
    CHECK(fires("0 12 29 2 *", utc(2023, 3, 1), 3, z) ==
          V{"2024-02-29 12:00 +0000", "2028-02-29 12:00 +0000", "2032-02-29 12:00 +0000"});
    // 2100 is not a leap year.
    CHECK(fires("0 0 29 feb *", utc(2096, 3, 1), 1, z) == V{"2104-02-29 00:00 +0000"});
}

TEST_CASE("both day fields restricted: either matches (Vixie OR rule)", "[cron]") {
    FixedOffsetZone z;
    // The 13th or any Friday; 2024-09-13 is a Friday, 2024-10-13 a Sunday.
    CHECK(fires("0 0 13 * 5", utc(2024, 9, 1), 8, z) ==
          V{"2024-09-06 00:00 +0000", "2024-09-13 00:00 +0000", "2024-09-20 00:00 +0000",
            "2024-09-27 00:00 +0000", "2024-10-04 00:00 +0000", "2024-10-11 00:00 +0000",
            "2024-10-13 00:00 +0000", "2024-10-18 00:00 +0000"});
    // A field starting with '*' (even "*/2") is unrestricted: both must match (odd-day Fridays).
    CHECK(fires("0 0 */2 * 5", utc(2024, 9, 1), 3, z) ==
          V{"2024-09-13 00:00 +0000", "2024-09-27 00:00 +0000", "2024-10-11 00:00 +0000"});
}

TEST_CASE("fixed UTC offsets shift wall-clock times", "[cron]") {
    FixedOffsetZone tokyo(9 * 3600);
    Schedule s = Schedule::parse("0 9 * * *");
    CHECK(s.next_after(utc(2024, 4, 30, 20), tokyo) == utc(2024, 5, 1, 0));
    CHECK(s.next_after(utc(2024, 5, 1, 0), tokyo) == utc(2024, 5, 2, 0));
}

TEST_CASE("DST spring forward in America/New_York", "[cron][dst]") {
    PosixZone ny("America/New_York");
    // 2024-03-10: 02:00 EST jumps to 03:00 EDT (07:00 UTC).
    // A fixed-time job in the skipped hour runs once, right after the gap.
    CHECK(fires("30 2 * * *", utc(2024, 3, 9, 12), 3, ny) ==
          V{"2024-03-10 03:00 -0400", "2024-03-11 02:30 -0400", "2024-03-12 02:30 -0400"});
    CHECK(fires("0,15,30,45 2 * * *", utc(2024, 3, 10, 5), 2, ny) ==
          V{"2024-03-10 03:00 -0400", "2024-03-11 02:00 -0400"});
    // Wildcard jobs just lose the missing hour.
    CHECK(fires("*/30 * * * *", utc(2024, 3, 10, 6), 3, ny) ==
          V{"2024-03-10 01:30 -0500", "2024-03-10 03:00 -0400", "2024-03-10 03:30 -0400"});
    CHECK(fires("0 * * * *", utc(2024, 3, 10, 5, 30), 3, ny) ==
          V{"2024-03-10 01:00 -0500", "2024-03-10 03:00 -0400", "2024-03-10 04:00 -0400"});
    CHECK(count_fires("* * * * *", utc(2024, 3, 10, 5), utc(2024, 3, 11, 4), ny) == 23 * 60);
    // Times outside the gap are not disturbed.
    CHECK(fires("59 1 * * *", utc(2024, 3, 10, 5), 2, ny) ==
          V{"2024-03-10 01:59 -0500", "2024-03-11 01:59 -0400"});
}

TEST_CASE("DST fall back in America/New_York", "[cron][dst]") {
    PosixZone ny("America/New_York");
    // 2024-11-03: 02:00 EDT falls back to 01:00 EST (06:00 UTC); 01:00-01:59 happens twice.
    // Fixed-time jobs run in the first pass only.
    CHECK(fires("30 1 * * *", utc(2024, 11, 2, 12), 3, ny) ==
          V{"2024-11-03 01:30 -0400", "2024-11-04 01:30 -0500", "2024-11-05 01:30 -0500"});
    // Also when asked from inside the repeated hour.
    CHECK(fires("30 1 * * *", utc(2024, 11, 3, 6, 10), 1, ny) == V{"2024-11-04 01:30 -0500"});
    // Wildcard jobs run in both passes.
    CHECK(fires("*/30 * * * *", utc(2024, 11, 3, 4, 50), 5, ny) ==
          V{"2024-11-03 01:00 -0400", "2024-11-03 01:30 -0400", "2024-11-03 01:00 -0500",
            "2024-11-03 01:30 -0500", "2024-11-03 02:00 -0500"});
    CHECK(fires("0 * * * *", utc(2024, 11, 3, 3, 30), 4, ny) ==
          V{"2024-11-03 00:00 -0400", "2024-11-03 01:00 -0400", "2024-11-03 01:00 -0500",
            "2024-11-03 02:00 -0500"});
    CHECK(count_fires("* * * * *", utc(2024, 11, 3, 4), utc(2024, 11, 4, 5), ny) == 25 * 60);
}

TEST_CASE("DST in Europe/Berlin", "[cron][dst]") {
    PosixZone berlin("Europe/Berlin");
    // 2024-03-31: 02:00 CET -> 03:00 CEST (01:00 UTC).
    CHECK(fires("30 2 * * *", utc(2024, 3, 30, 12), 2, berlin) ==
          V{"2024-03-31 03:00 +0200", "2024-04-01 02:30 +0200"});
    // 2024-10-27: 03:00 CEST -> 02:00 CET (01:00 UTC).
    CHECK(fires("30 2 * * *", utc(2024, 10, 26, 12), 2, berlin) ==
          V{"2024-10-27 02:30 +0200", "2024-10-28 02:30 +0100"});
    CHECK(fires("30 * * * *", utc(2024, 10, 26, 23, 45), 3, berlin) ==
          V{"2024-10-27 02:30 +0200", "2024-10-27 02:30 +0100", "2024-10-27 03:30 +0100"});
}

TEST_CASE("a daily fixed-time job runs exactly once every day across DST years", "[cron][dst]") {
    for (const char *zone : {"America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "UTC"}) {
        PosixZone tz(zone);
        INFO(zone);
        for (const char *expr : {"30 2 * * *", "45 1 * * *", "0 0 * * *"}) {
            INFO(expr);
            CHECK(count_fires(expr, utc(2024, 1, 1, 12), utc(2026, 1, 1, 12), tz) == 731);
        }
    }
}

TEST_CASE("intervals fire at anchor + k * interval, in UTC", "[interval]") {
    FixedOffsetZone z;
    PosixZone ny("America/New_York");
    Schedule s = Schedule::parse("30 seconds");
    REQUIRE(s.is_interval());
    CHECK(s.interval_seconds() == 30);
    CHECK(s.next_after(1000, z, 1000) == 1030);
    CHECK(s.next_after(1029, z, 1000) == 1030);
    CHECK(s.next_after(1030, z, 1000) == 1060);
    CHECK(s.next_after(500, z, 1000) == 1030);
    CHECK(s.next_after(100000, ny, 1000) == 100030);
    CHECK(Schedule::parse("1 second").interval_seconds() == 1);
    CHECK(Schedule::parse("5 minutes").interval_seconds() == 300);
    CHECK(Schedule::parse("5 MIN").interval_seconds() == 300);
    CHECK(Schedule::parse("1 hour").interval_seconds() == 3600);
    CHECK(Schedule::parse("2 days").interval_seconds() == 172800);
    CHECK(Schedule::parse("10s").interval_seconds() == 10);
    CHECK(Schedule::parse("  1   hours ").interval_seconds() == 3600);
    // A DST change does not stretch an interval: one hour stays 3600 s.
    Schedule h = Schedule::parse("1 hour");
    int64_t a = utc(2024, 11, 3, 4);
    CHECK(h.next_after(a + 7200, ny, a) == a + 3 * 3600);
}

TEST_CASE("bad schedules say exactly what is wrong", "[cron][errors]") {
    CHECK(parse_error("") == "schedule is empty");
    CHECK(parse_error("   ") == "schedule is empty");
    CHECK(parse_error("* * * *") ==
          "expected 5 fields (minute hour day-of-month month day-of-week) or an interval such as "
          "'30 seconds', found 4 fields");
    CHECK(parse_error("* * * * * *") ==
          "expected 5 fields (minute hour day-of-month month day-of-week) or an interval such as "
          "'30 seconds', found 6 fields (there is no seconds field: use an interval for sub-minute "
          "schedules)");
    CHECK(parse_error("61 * * * *") == "minute 61 is out of range (0-59)");
    CHECK(parse_error("* 24 * * *") == "hour 24 is out of range (0-23)");
    CHECK(parse_error("* * 0 * *") == "day of month 0 is out of range (1-31)");
    CHECK(parse_error("* * 32 * *") == "day of month 32 is out of range (1-31)");
    CHECK(parse_error("* * * 13 *") == "month 13 is out of range (1-12)");
    CHECK(parse_error("* * * * 8") == "day of week 8 is out of range (0-7)");
    CHECK(parse_error("* * * foo *") == "invalid month \"foo\" (expected 1-12 or jan-dec)");
    CHECK(parse_error("* * * * monday") == "invalid day of week \"monday\" (expected 0-7 or sun-sat)");
    CHECK(parse_error("a b c d e") == "invalid minute \"a\" (expected a number 0-59)");
    CHECK(parse_error("*/0 * * * *") == "step 0 in minute field is out of range (1-60)");
    CHECK(parse_error("*/x * * * *") ==
          "invalid step \"x\" in minute field (expected a positive number)");
    CHECK(parse_error("30-10 * * * *") == "minute range 30-10 is reversed (start after end)");
    CHECK(parse_error("1,,2 * * * *") == "empty list element in minute field \"1,,2\"");
    CHECK(parse_error("0 0 30 2 *") ==
          "day of month 30 never occurs in month 2, so the schedule would never run");
    CHECK(parse_error("0 0 31 apr,jun *") ==
          "day of month 31 never occurs in month apr,jun, so the schedule would never run");
    CHECK(parse_error("0 seconds") == "interval must be at least 1 second");
    CHECK(parse_error("5 fortnights") ==
          "unknown interval unit \"fortnights\" (use seconds, minutes, hours or days)");
    CHECK(parse_error("367 days") == "interval \"367 days\" is too long (at most 366 days)");
    CHECK(parse_error("@reboot") == "@reboot is not supported");
    CHECK(parse_error("@often") ==
          "unknown shorthand @often (use @yearly, @annually, @monthly, @weekly, @daily, @midnight "
          "or @hourly)");
    CHECK(parse_error("@daily 5") == "nothing may follow the shorthand @daily");
    // 31 in a day-of-week-restricted schedule is fine (the OR rule lets Mondays fire).
    CHECK(parse_error("0 0 31 2 mon") == "(no error)");
    CHECK(parse_error("0 0 29 2 *") == "(no error)");
}
