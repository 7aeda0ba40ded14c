// Time zones for current_time, without std::chrono's tzdb (g++ 12's libstdc++ has none): TZif
// files (RFC 8536, versions 1 to 4) as the system's tzdata package installs them under
// /usr/share/zoneinfo, including the POSIX TZ rule in their footer for instants after the last
// transition (files built "slim" list no transitions beyond their last rule change), plus UTC and
// fixed offsets. `ZoneDatabase` validates names (no path tricks), reads each zone's file once and
// caches it.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace parley::tools {

using Seconds = std::chrono::sys_seconds;

// The local time in force at an instant.
struct LocalTimeType {
    std::int32_t utc_offset = 0;  // seconds east of UTC
    bool is_dst = false;
    std::string abbreviation;  // "CEST", "EST", "+0530"
};

// A POSIX TZ rule ("CET-1CEST,M3.5.0,M10.5.0/3"): a standard time, optionally a daylight time and
// the two yearly instants that switch between them.
class PosixRule {
public:
    // Parses the TZ string of a TZif footer (RFC 8536 §3.3: POSIX with hours up to ±167 in
    // transition times). nullopt when it is not one.
    static std::optional<PosixRule> parse(std::string_view tz);

    LocalTimeType at(Seconds t) const;

private:
    struct Date {
        enum class Kind { julian_no_leap, julian_zero, month_week_day };
        Kind kind = Kind::month_week_day;
        int day = 0;               // Jn: 1–365; n: 0–365; Mm.w.d: d, 0 = Sunday
        int week = 0;              // Mm.w.d: 1–5, 5 = the last
        int month = 0;             // Mm.w.d: 1–12
        std::int32_t time = 7200;  // seconds after local midnight (may be negative or > 24 h)
    };

    // The UTC instant `date` of `year` happens, in local time with `offset` in force before it.
    static std::int64_t instant(const Date& date, int year, std::int32_t offset);

    LocalTimeType standard_;
    std::optional<LocalTimeType> daylight_;
    Date start_{};  // daylight time starts (in standard time)
    Date end_{};    // daylight time ends (in daylight time)
};

class TimeZone {
public:
    // Reads a TZif file's bytes. Files with leap-second records ("right/" zones) are refused: their
    // timestamps are not UTC. Errors: invalid_request, saying what is wrong.
    static Result<TimeZone> from_tzif(std::string_view bytes);

    // A fixed offset from UTC, named `abbreviation`.
    static TimeZone fixed(std::int32_t utc_offset, std::string abbreviation);

    LocalTimeType at(Seconds t) const;

private:
    std::vector<std::int64_t> transitions_;  // ascending
    std::vector<std::uint8_t> type_of_;      // the local time type from each transition on
    std::vector<LocalTimeType> types_;       // at least one
    std::optional<PosixRule> footer_;        // after the last transition
};

// A zone as found by name.
struct ResolvedZone {
    std::string name;  // canonical: "UTC", "+05:30", or the IANA name as the file is called
    std::shared_ptr<const TimeZone> zone;
};

// IANA names longer than this are refused.
inline constexpr std::size_t kMaxZoneNameLength = 64;

class ZoneDatabase {
public:
    explicit ZoneDatabase(std::filesystem::path dir = "/usr/share/zoneinfo");

    // Finds a zone by what a person or a model writes:
    //  - "UTC", "GMT", "Z", "Zulu", "Etc/UTC"… → UTC (any case);
    //  - fixed offsets: "+05:30", "-0800", "+5", "UTC+02:00", "GMT-3" (ISO sign: east is +, unlike
    //    the POSIX-style IANA names "Etc/GMT+3"), at most ±14:00;
    //  - IANA names ("Europe/Paris"), case-insensitively when the exact case is not a file. Only
    //    [A-Za-z0-9_+-/] characters, no "..", no empty or leading "/" component, at most
    //    kMaxZoneNameLength characters; the file must be a TZif file inside the directory (a
    //    symbolic link leading out of it is refused) and not a "right/" zone.
    // Thread-safe. Reads a zone's file the first time it is asked for (a few kilobytes, blocking)
    // and keeps it. Errors: not_found with a message listing what is accepted.
    Result<ResolvedZone> find(std::string_view name) const;

private:
    Result<ResolvedZone> load(const std::string& name) const;

    std::filesystem::path dir_;
    mutable std::mutex mutex_;
    mutable std::map<std::string, ResolvedZone, std::less<>> cache_;  // by the name asked for
};

// "+02:00", "-04:00", "+05:45", "+00:00"; seconds when there are some ("+00:09:21").
std::string format_utc_offset(std::int32_t seconds);

}  // namespace parley::tools
