// Job schedules: 5-field cron expressions and fixed intervals, and their next firing instant.
//
// Pure C++17 (no PostgreSQL): the server plugs in PostgreSQL's time zone code through TimeZone, the
// Catch2 tests plug in POSIX TZ. Times are whole seconds since 1970-01-01 UTC ("UTC seconds").
//
// Cron semantics follow Vixie cron:
//  * fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or jan..dec), day of week
//    (0-7 or sun..sat, 0 and 7 are Sunday); each a list of `*`, `N`, `N-M`, with an optional `/step`
//    (`N/step` means N up to the field's maximum); names are case-insensitive;
//  * when both day fields are restricted (neither starts with `*`) a day matches if EITHER matches;
//    otherwise both must match;
//  * shorthands: @yearly @annually @monthly @weekly @daily @midnight @hourly.
// Cron times are wall-clock times in the schedule's time zone. Around DST changes (Vixie's rules):
//  * spring forward: a fixed-time job (minute and hour fields both without a leading `*`) whose time
//    falls in the skipped hour runs once, at the first instant after the gap; a wildcard job simply
//    has fewer runs that day;
//  * fall back: the repeated hour runs fixed-time jobs once (first pass only) and wildcard jobs in
//    both passes.
// Backward shifts of more than kMaxBackwardShift seconds are not special-cased.
//
// Intervals ("30 seconds", "5 minutes", "1 hour", "2 days"; at least 1 second, at most 366 days) fire
// at anchor + k * interval, k >= 1, in UTC (no time zone, no DST effect).
#pragma once
#include "core/core_only.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

namespace rollup::core {

// A time zone as the schedule needs it: the UTC offset (local = utc + offset) at an instant.
class TimeZone {
public:
    virtual ~TimeZone() = default;
    virtual int64_t utc_offset(int64_t utc_seconds) const = 0;
};

class FixedOffsetZone final : public TimeZone {
public:
    explicit FixedOffsetZone(int64_t offset_seconds = 0) : offset_(offset_seconds) {}
    int64_t utc_offset(int64_t) const override { return offset_; }

private:
    int64_t offset_;
};

// A bad schedule: what() is a complete sentence fragment naming the culprit, e.g.
// `minute 61 is out of range (0-59)`.
class ScheduleError : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

constexpr int64_t kMinIntervalSeconds = 1;
constexpr int64_t kMaxIntervalSeconds = 366LL * 86400;
constexpr int64_t kMaxBackwardShift = 3 * 3600;
constexpr int64_t kNever = INT64_MIN;

struct CronFields {
    uint64_t minutes = 0;   // bit m, 0-59
    uint32_t hours = 0;     // bit h, 0-23
    uint32_t days = 0;      // bit d, 1-31
    uint16_t months = 0;    // bit m, 1-12
    uint8_t weekdays = 0;   // bit w, 0-6 (Sunday = 0)
    bool dom_star = false;  // day-of-month field starts with '*'
    bool dow_star = false;
    bool wildcard = false;  // minute or hour field starts with '*' (runs in both passes of a fall-back)
};

class Schedule {
public:
    // Throws ScheduleError.
    static Schedule parse(const std::string &text);

    bool is_interval() const { return interval_ > 0; }
    int64_t interval_seconds() const { return interval_; }
    const CronFields &cron() const { return cron_; }

    // The first firing instant strictly after `after` (UTC seconds), or kNever when there is none
    // within 10 years. Interval schedules count from `anchor`; cron schedules ignore it.
    int64_t next_after(int64_t after, const TimeZone &tz, int64_t anchor = 0) const;

    // Does the wall-clock minute (naive seconds since 1970, as if local time were UTC) match?
    bool matches_wall(int64_t wall_seconds) const;

private:
    int64_t interval_ = 0;
    CronFields cron_;
};

// Calendar helpers (proleptic Gregorian), exposed for tests.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);
void civil_from_days(int64_t z, int64_t &y, unsigned &m, unsigned &d);

}  // namespace rollup::core
