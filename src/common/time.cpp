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

namespace {

// `t`'s calendar fields, to the millisecond (what to_iso8601 shows).
struct Civil {
    int year;
    unsigned month;
    unsigned day;
    unsigned hour;
    unsigned minute;
    unsigned second;
    unsigned millisecond;
};

Civil civil(TimePoint t) noexcept {
    const auto ms = std::chrono::time_point_cast<std::chrono::milliseconds>(t);
    const auto days = std::chrono::floor<std::chrono::days>(ms);
    const std::chrono::year_month_day ymd{days};
    const std::chrono::hh_mm_ss hms{ms - days};
    return {
        static_cast<int>(ymd.year()),
        static_cast<unsigned>(ymd.month()),
        static_cast<unsigned>(ymd.day()),
        static_cast<unsigned>(hms.hours().count()),
        static_cast<unsigned>(hms.minutes().count()),
        static_cast<unsigned>(hms.seconds().count()),
        static_cast<unsigned>(hms.subseconds().count()),
    };
}

}  // namespace

bool write_iso8601(TimePoint t, char (&out)[kIso8601Size]) noexcept {
    const Civil c = civil(t);
    if (c.year < 0 || c.year > 9999) {
        return false;
    }
    // Every timestamp of every row a response carries comes through here: written digit by
    // digit, not through fmt's format-string parser, which was 18% of the instructions of a page
    // of 20 conversations (issue 14).
    constexpr std::string_view kTemplate = "0000-00-00T00:00:00.000Z";
    static_assert(kTemplate.size() == kIso8601Size);
    std::copy(kTemplate.begin(), kTemplate.end(), out);
    put_digits(out, static_cast<unsigned>(c.year), 4);
    put_digits(out + 5, c.month, 2);
    put_digits(out + 8, c.day, 2);
    put_digits(out + 11, c.hour, 2);
    put_digits(out + 14, c.minute, 2);
    put_digits(out + 17, c.second, 2);
    put_digits(out + 20, c.millisecond, 3);
    return true;
}

std::string to_iso8601(TimePoint t) {
    char out[kIso8601Size];
    if (write_iso8601(t, out)) {
        return std::string(out, kIso8601Size);
    }
    const Civil c = civil(t);  // a year outside 0–9999: fmt writes its sign and width
    return fmt::format(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
        c.millisecond
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

// What parse_iso8601 read, before it is checked and converted.
struct Fields {
    int y = 0;
    int mo = 0;
    int d = 0;
    int h = 0;
    int mi = 0;
    int sec = 0;
    std::chrono::nanoseconds fraction{0};
    std::chrono::minutes offset{0};
};

// The form Parley itself stores, "YYYY-MM-DDTHH:MM:SS.mmmZ" (every timestamp a row holds): read
// with fixed offsets, no parsing state (issue 14: a page of conversations parses 40 of them).
// False when `s` is not exactly that form; the general reader then decides.
bool read_stored_form(std::string_view s, Fields& f) noexcept {
    constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (s.size() != kShape.size()) {
        return false;
    }
    for (std::size_t i = 0; i < kShape.size(); ++i) {
        const bool digit = s[i] >= '0' && s[i] <= '9';
        if (kShape[i] == 'd' ? !digit : s[i] != kShape[i]) {
            return false;
        }
    }
    const auto num = [&](std::size_t at, std::size_t n) {
        int v = 0;
        for (std::size_t i = at; i < at + n; ++i) {
            v = v * 10 + (s[i] - '0');
        }
        return v;
    };
    f.y = num(0, 4);
    f.mo = num(5, 2);
    f.d = num(8, 2);
    f.h = num(11, 2);
    f.mi = num(14, 2);
    f.sec = num(17, 2);
    f.fraction = std::chrono::milliseconds(num(20, 3));
    return true;
}

// Any RFC 3339 time: "T", "t" or a space between date and time, any number of fraction digits,
// "Z", "z" or a ±HH:MM offset.
bool read_general(std::string_view s, Fields& f) {
    if (!read_int(s, 4, f.y) || !expect(s, '-') || !read_int(s, 2, f.mo) || !expect(s, '-') ||
        !read_int(s, 2, f.d)) {
        return false;
    }
    if (s.empty() || (s.front() != 'T' && s.front() != 't' && s.front() != ' ')) {
        return false;
    }
    s.remove_prefix(1);
    if (!read_int(s, 2, f.h) || !expect(s, ':') || !read_int(s, 2, f.mi) || !expect(s, ':') ||
        !read_int(s, 2, f.sec)) {
        return false;
    }
    if (!s.empty() && s.front() == '.') {
        s.remove_prefix(1);
        std::int64_t scale = 100'000'000;
        std::size_t n = 0;
        while (n < s.size() && s[n] >= '0' && s[n] <= '9') {
            f.fraction += std::chrono::nanoseconds((s[n] - '0') * scale);
            scale /= 10;
            ++n;
        }
        if (n == 0) {
            return false;
        }
        s.remove_prefix(n);
    }
    if (s == "Z" || s == "z") {
        return true;
    }
    if (s.empty() || (s.front() != '+' && s.front() != '-')) {
        return false;
    }
    const int sign = s.front() == '-' ? -1 : 1;
    s.remove_prefix(1);
    int oh = 0;
    int om = 0;
    if (!read_int(s, 2, oh) || !expect(s, ':') || !read_int(s, 2, om) || !s.empty() || oh > 23 ||
        om > 59) {
        return false;
    }
    f.offset = std::chrono::minutes(sign * (oh * 60 + om));
    return true;
}

}  // namespace

std::optional<TimePoint> parse_iso8601(std::string_view s) {
    Fields f;
    if (!read_stored_form(s, f) && !read_general(s, f)) {
        return std::nullopt;
    }
    const std::chrono::year_month_day ymd{
        std::chrono::year{f.y},
        std::chrono::month{static_cast<unsigned>(f.mo)},
        std::chrono::day{static_cast<unsigned>(f.d)}};
    // Years outside 1970–2200 are refused: nothing Parley stores is dated there, and the
    // nanosecond clock overflows past 2262 (a crash found by the tests with ?from=2999-01-01).
    if (!ymd.ok() || f.y < 1970 || f.y > 2200 || f.h > 23 || f.mi > 59 || f.sec > 60) {
        return std::nullopt;
    }
    const auto t = std::chrono::sys_days{ymd} + std::chrono::hours(f.h) +
                   std::chrono::minutes(f.mi) + std::chrono::seconds(f.sec) + f.fraction - f.offset;
    return std::chrono::time_point_cast<TimePoint::duration>(t);
}

}  // namespace parley
