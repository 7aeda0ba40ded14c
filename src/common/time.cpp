#include "common/time.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "common/iso8601.hpp"

namespace parley {

namespace {

// Writes `value` as exactly `digits` decimal digits at `out`.
void put_digits(char* out, unsigned value, int digits) noexcept {
    for (int i = digits - 1; i >= 0; --i) {
        out[i] = static_cast<char>('0' + value % 10);
        value /= 10;
    }
}

}  // namespace

bool write_iso8601(TimePoint t, char (&out)[kIso8601Size]) noexcept {
    const auto ms = std::chrono::time_point_cast<std::chrono::milliseconds>(t);
    const auto days = std::chrono::floor<std::chrono::days>(ms);
    const std::chrono::year_month_day ymd{days};
    const std::chrono::hh_mm_ss hms{ms - days};
    const int year = static_cast<int>(ymd.year());
    if (year < 0 || year > 9999) {
        return false;
    }
    // Every timestamp of every row a response carries comes through here: written digit by
    // digit, not through fmt's format-string parser, which was 18% of the instructions of a page
    // of 20 conversations (issue 14).
    constexpr std::string_view kTemplate = "0000-00-00T00:00:00.000Z";
    static_assert(kTemplate.size() == kIso8601Size);
    std::copy(kTemplate.begin(), kTemplate.end(), out);
    put_digits(out, static_cast<unsigned>(year), 4);
    put_digits(out + 5, static_cast<unsigned>(ymd.month()), 2);
    put_digits(out + 8, static_cast<unsigned>(ymd.day()), 2);
    put_digits(out + 11, static_cast<unsigned>(hms.hours().count()), 2);
    put_digits(out + 14, static_cast<unsigned>(hms.minutes().count()), 2);
    put_digits(out + 17, static_cast<unsigned>(hms.seconds().count()), 2);
    put_digits(out + 20, static_cast<unsigned>(hms.subseconds().count()), 3);
    return true;
}

std::string to_iso8601(TimePoint t) {
    char out[kIso8601Size];
    if (write_iso8601(t, out)) {
        return std::string(out, kIso8601Size);
    }
    const auto ms = std::chrono::time_point_cast<std::chrono::milliseconds>(t);
    const auto days = std::chrono::floor<std::chrono::days>(ms);
    const std::chrono::year_month_day ymd{days};
    const std::chrono::hh_mm_ss hms{ms - days};
    return fmt::format(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        static_cast<int>(ymd.year()),
        static_cast<unsigned>(ymd.month()),
        static_cast<unsigned>(ymd.day()),
        hms.hours().count(),
        hms.minutes().count(),
        hms.seconds().count(),
        hms.subseconds().count()
    );
}

namespace {

bool read_int(std::string_view& s, std::size_t digits, int& out) {
    if (s.size() < digits) {
        return false;
    }
    for (std::size_t i = 0; i < digits; ++i) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    std::from_chars(s.data(), s.data() + digits, out);
    s.remove_prefix(digits);
    return true;
}

bool expect(std::string_view& s, char c) {
    if (s.empty() || s.front() != c) {
        return false;
    }
    s.remove_prefix(1);
    return true;
}

// Days from 1970-01-01 to the given proleptic Gregorian date (Howard Hinnant's days_from_civil,
// what std::chrono::sys_days computes, without its calendar types).
std::int64_t days_from_civil(int y, unsigned m, unsigned d) noexcept {
    y -= m <= 2 ? 1 : 0;
    const int era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return static_cast<std::int64_t>(era) * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool is_leap(int y) noexcept {
    return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

// The form Parley itself stores, "YYYY-MM-DDTHH:MM:SS.mmmZ" (every timestamp a row holds): read
// with fixed offsets, no parsing state (issue 14: a page of conversations parses 40 of them).
// nullopt when `s` is not exactly that form; the general parser then decides.
std::optional<TimePoint> parse_stored_form(std::string_view s) noexcept {
    constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (s.size() != kShape.size()) {
        return std::nullopt;
    }
    for (std::size_t i = 0; i < kShape.size(); ++i) {
        const bool digit = s[i] >= '0' && s[i] <= '9';
        if (kShape[i] == 'd' ? !digit : s[i] != kShape[i]) {
            return std::nullopt;
        }
    }
    const auto num = [&](std::size_t at, std::size_t n) {
        int v = 0;
        for (std::size_t i = at; i < at + n; ++i) {
            v = v * 10 + (s[i] - '0');
        }
        return v;
    };
    const int y = num(0, 4);
    const int mo = num(5, 2);
    const int d = num(8, 2);
    const int h = num(11, 2);
    const int mi = num(14, 2);
    const int sec = num(17, 2);
    const int ms = num(20, 3);
    constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    // The same bounds as the general parser (including its leap second, sec 60).
    if (y < 1970 || y > 2200 || mo < 1 || mo > 12 || d < 1 ||
        d > kDays[mo - 1] + (mo == 2 && is_leap(y) ? 1 : 0) || h > 23 || mi > 59 || sec > 60) {
        return std::nullopt;
    }
    const std::int64_t days =
        days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
    const std::int64_t total_ms =
        ((days * 24 + h) * 60 + mi) * 60'000 + static_cast<std::int64_t>(sec) * 1000 + ms;
    return TimePoint{} +
           std::chrono::duration_cast<TimePoint::duration>(std::chrono::milliseconds(total_ms));
}

}  // namespace

std::optional<TimePoint> parse_iso8601(std::string_view s) {
    if (auto stored = parse_stored_form(s)) {
        return stored;
    }
    int y = 0;
    int mo = 0;
    int d = 0;
    int h = 0;
    int mi = 0;
    int sec = 0;
    if (!read_int(s, 4, y) || !expect(s, '-') || !read_int(s, 2, mo) || !expect(s, '-') ||
        !read_int(s, 2, d)) {
        return std::nullopt;
    }
    if (s.empty() || (s.front() != 'T' && s.front() != 't' && s.front() != ' ')) {
        return std::nullopt;
    }
    s.remove_prefix(1);
    if (!read_int(s, 2, h) || !expect(s, ':') || !read_int(s, 2, mi) || !expect(s, ':') ||
        !read_int(s, 2, sec)) {
        return std::nullopt;
    }
    std::chrono::nanoseconds fraction{0};
    if (!s.empty() && s.front() == '.') {
        s.remove_prefix(1);
        std::int64_t scale = 100'000'000;
        std::size_t n = 0;
        while (n < s.size() && s[n] >= '0' && s[n] <= '9') {
            fraction += std::chrono::nanoseconds((s[n] - '0') * scale);
            scale /= 10;
            ++n;
        }
        if (n == 0) {
            return std::nullopt;
        }
        s.remove_prefix(n);
    }
    std::chrono::minutes offset{0};
    if (s == "Z" || s == "z") {
        s = {};
    } else if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
        const int sign = s.front() == '-' ? -1 : 1;
        s.remove_prefix(1);
        int oh = 0;
        int om = 0;
        if (!read_int(s, 2, oh) || !expect(s, ':') || !read_int(s, 2, om) || !s.empty() ||
            oh > 23 || om > 59) {
            return std::nullopt;
        }
        offset = std::chrono::minutes(sign * (oh * 60 + om));
    } else {
        return std::nullopt;
    }
    const std::chrono::year_month_day ymd{
        std::chrono::year{y},
        std::chrono::month{static_cast<unsigned>(mo)},
        std::chrono::day{static_cast<unsigned>(d)}};
    // Years outside 1970–2200 are refused: nothing Parley stores is dated there, and the
    // nanosecond clock overflows past 2262 (a crash found by the tests with ?from=2999-01-01).
    if (!ymd.ok() || y < 1970 || y > 2200 || h > 23 || mi > 59 || sec > 60) {
        return std::nullopt;
    }
    const auto t = std::chrono::sys_days{ymd} + std::chrono::hours(h) + std::chrono::minutes(mi) +
                   std::chrono::seconds(sec) + fraction - offset;
    return std::chrono::time_point_cast<TimePoint::duration>(t);
}

}  // namespace parley
