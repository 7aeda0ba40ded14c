#include "tools/time_zone.hpp"

#include <algorithm>
#include <array>
#include <fstream>
#include <iterator>
#include <system_error>

#include "common/strings.hpp"

namespace parley::tools {

namespace fs = std::filesystem;
namespace chr = std::chrono;

namespace {

// ---------------------------------------------------------------- POSIX TZ strings

class TzReader {
public:
    explicit TzReader(std::string_view s) : s_(s) {}

    bool done() const noexcept { return pos_ >= s_.size(); }

    char peek() const noexcept { return done() ? '\0' : s_[pos_]; }

    bool accept(char c) noexcept {
        if (peek() == c) {
            ++pos_;
            return true;
        }
        return false;
    }

    // A zone abbreviation: 3 or more letters, or <…> of letters, digits, '+' and '-'.
    std::optional<std::string> name() {
        std::string out;
        if (accept('<')) {
            while (!done() && peek() != '>') {
                const char c = s_[pos_++];
                const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                                (c >= '0' && c <= '9') || c == '+' || c == '-';
                if (!ok) {
                    return std::nullopt;
                }
                out.push_back(c);
            }
            if (!accept('>')) {
                return std::nullopt;
            }
        } else {
            while ((peek() >= 'A' && peek() <= 'Z') || (peek() >= 'a' && peek() <= 'z')) {
                out.push_back(s_[pos_++]);
            }
        }
        if (out.size() < 3) {
            return std::nullopt;
        }
        return out;
    }

    // [+-]hh[:mm[:ss]] in seconds, hours at most `max_hours`.
    std::optional<std::int32_t> duration(int max_hours) {
        int sign = 1;
        if (accept('-')) {
            sign = -1;
        } else {
            accept('+');
        }
        const auto hours = digits(3);
        if (!hours || *hours > max_hours) {
            return std::nullopt;
        }
        std::int32_t total = *hours * 3600;
        if (accept(':')) {
            const auto minutes = digits(2);
            if (!minutes || *minutes > 59) {
                return std::nullopt;
            }
            total += *minutes * 60;
            if (accept(':')) {
                const auto seconds = digits(2);
                if (!seconds || *seconds > 59) {
                    return std::nullopt;
                }
                total += *seconds;
            }
        }
        return sign * total;
    }

    // 1 to `max` decimal digits.
    std::optional<int> digits(std::size_t max) {
        std::size_t n = 0;
        int value = 0;
        while (n < max && peek() >= '0' && peek() <= '9') {
            value = value * 10 + (s_[pos_++] - '0');
            ++n;
        }
        if (n == 0) {
            return std::nullopt;
        }
        return value;
    }

private:
    std::string_view s_;
    std::size_t pos_ = 0;
};

bool is_leap(int year) noexcept {
    return chr::year{year}.is_leap();
}

}  // namespace

std::optional<PosixRule> PosixRule::parse(std::string_view tz) {
    TzReader r(tz);
    PosixRule rule;
    const auto std_name = r.name();
    // POSIX offsets are west of UTC: "CET-1" is UTC+1.
    const auto std_offset = r.duration(24);
    if (!std_name || !std_offset) {
        return std::nullopt;
    }
    rule.standard_ = {-*std_offset, false, *std_name};
    if (r.done()) {
        return rule;
    }
    const auto dst_name = r.name();
    if (!dst_name) {
        return std::nullopt;
    }
    std::int32_t dst_offset = rule.standard_.utc_offset + 3600;
    if (r.peek() != ',' && !r.done()) {
        const auto given = r.duration(24);
        if (!given) {
            return std::nullopt;
        }
        dst_offset = -*given;
    }
    rule.daylight_ = LocalTimeType{dst_offset, true, *dst_name};

    const auto date = [&r]() -> std::optional<Date> {
        Date d;
        if (r.accept('J')) {
            const auto n = r.digits(3);
            if (!n || *n < 1 || *n > 365) {
                return std::nullopt;
            }
            d.kind = Date::Kind::julian_no_leap;
            d.day = *n;
        } else if (r.accept('M')) {
            const auto m = r.digits(2);
            const bool dot1 = r.accept('.');
            const auto w = r.digits(1);
            const bool dot2 = r.accept('.');
            const auto wd = r.digits(1);
            if (!m || !w || !wd || !dot1 || !dot2 || *m < 1 || *m > 12 || *w < 1 || *w > 5 ||
                *wd > 6) {
                return std::nullopt;
            }
            d.kind = Date::Kind::month_week_day;
            d.month = *m;
            d.week = *w;
            d.day = *wd;
        } else {
            const auto n = r.digits(3);
            if (!n || *n > 365) {
                return std::nullopt;
            }
            d.kind = Date::Kind::julian_zero;
            d.day = *n;
        }
        if (r.accept('/')) {
            // RFC 8536 §3.3.1: hours from -167 to 167.
            const auto t = r.duration(167);
            if (!t) {
                return std::nullopt;
            }
            d.time = *t;
        }
        return d;
    };

    if (r.done()) {
        // No rule: POSIX leaves it to the implementation; the US rule, as glibc does.
        rule.start_ = {Date::Kind::month_week_day, 0, 2, 3, 7200};
        rule.end_ = {Date::Kind::month_week_day, 0, 1, 11, 7200};
        return rule;
    }
    if (!r.accept(',')) {
        return std::nullopt;
    }
    const auto start = date();
    if (!start || !r.accept(',')) {
        return std::nullopt;
    }
    const auto end = date();
    if (!end || !r.done()) {
        return std::nullopt;
    }
    rule.start_ = *start;
    rule.end_ = *end;
    return rule;
}

std::int64_t PosixRule::instant(const Date& date, int year, std::int32_t offset) {
    chr::sys_days day;
    const chr::year y{year};
    switch (date.kind) {
        case Date::Kind::julian_no_leap: {
            // Jn counts 1 to 365 and never February 29th.
            int n = date.day - 1;
            if (is_leap(year) && date.day >= 60) {
                ++n;
            }
            day = chr::sys_days(y / chr::January / 1) + chr::days(n);
            break;
        }
        case Date::Kind::julian_zero:
            day = chr::sys_days(y / chr::January / 1) + chr::days(date.day);
            break;
        case Date::Kind::month_week_day: {
            const chr::month m{static_cast<unsigned>(date.month)};
            const chr::weekday wd{static_cast<unsigned>(date.day)};
            if (date.week == 5) {
                day = chr::sys_days(y / m / wd[chr::last]);
            } else {
                day = chr::sys_days(y / m / wd[static_cast<unsigned>(date.week)]);
            }
            break;
        }
    }
    return day.time_since_epoch().count() * std::int64_t{86400} + date.time - offset;
}

LocalTimeType PosixRule::at(Seconds t) const {
    if (!daylight_) {
        return standard_;
    }
    const auto local = t + chr::seconds(standard_.utc_offset);
    const int year = static_cast<int>(chr::year_month_day(chr::floor<chr::days>(local)).year());
    const auto start = instant(start_, year, standard_.utc_offset);
    const auto end = instant(end_, year, daylight_->utc_offset);
    const auto now = t.time_since_epoch().count();
    bool dst = false;
    if (start < end) {
        dst = now >= start && now < end;
    } else {
        // Southern hemisphere: daylight time spans the new year.
        dst = now < end || now >= start;
    }
    return dst ? *daylight_ : standard_;
}

// ---------------------------------------------------------------- TZif

namespace {

class ByteReader {
public:
    explicit ByteReader(std::string_view b) : b_(b) {}

    bool has(std::size_t n) const noexcept { return b_.size() - pos_ >= n; }

    std::size_t pos() const noexcept { return pos_; }

    std::string_view take(std::size_t n) {
        const auto out = b_.substr(pos_, n);
        pos_ += n;
        return out;
    }

    std::uint32_t u32() {
        std::uint32_t v = 0;
        for (int i = 0; i < 4; ++i) {
            v = (v << 8) | static_cast<unsigned char>(b_[pos_++]);
        }
        return v;
    }

    std::int64_t i64() {
        std::uint64_t v = 0;
        for (int i = 0; i < 8; ++i) {
            v = (v << 8) | static_cast<unsigned char>(b_[pos_++]);
        }
        return static_cast<std::int64_t>(v);
    }

    std::int32_t i32() { return static_cast<std::int32_t>(u32()); }

    std::uint8_t u8() { return static_cast<std::uint8_t>(b_[pos_++]); }

    std::string_view rest() const noexcept { return b_.substr(pos_); }

private:
    std::string_view b_;
    std::size_t pos_ = 0;
};

struct Header {
    char version = 0;
    std::uint32_t isutcnt = 0, isstdcnt = 0, leapcnt = 0, timecnt = 0, typecnt = 0, charcnt = 0;
};

Error bad_tzif(std::string_view why) {
    return make_error(ErrorType::invalid_request, "not a valid TZif file: " + std::string(why));
}

Result<Header> read_header(ByteReader& r) {
    if (!r.has(44) || r.take(4) != "TZif") {
        return bad_tzif("no TZif header");
    }
    Header h;
    h.version = r.take(1)[0];
    r.take(15);
    h.isutcnt = r.u32();
    h.isstdcnt = r.u32();
    h.leapcnt = r.u32();
    h.timecnt = r.u32();
    h.typecnt = r.u32();
    h.charcnt = r.u32();
    if (h.typecnt == 0 || h.typecnt > 256 || h.charcnt == 0 || h.timecnt > 100000 ||
        h.charcnt > 65536 || h.leapcnt > 100000 || (h.isutcnt != 0 && h.isutcnt != h.typecnt) ||
        (h.isstdcnt != 0 && h.isstdcnt != h.typecnt)) {
        return bad_tzif("inconsistent counts");
    }
    return h;
}

std::size_t block_size(const Header& h, std::size_t time_bytes) {
    return h.timecnt * time_bytes + h.timecnt + h.typecnt * 6 + h.charcnt +
           h.leapcnt * (time_bytes + 4) + h.isstdcnt + h.isutcnt;
}

}  // namespace

Result<TimeZone> TimeZone::from_tzif(std::string_view bytes) {
    ByteReader r(bytes);
    auto h = read_header(r);
    if (!h) {
        return h.error();
    }
    std::size_t time_bytes = 4;
    if (h->version != '\0') {
        // Version 2+: skip the 32-bit block; the 64-bit one follows with its own header.
        if (!r.has(block_size(*h, 4))) {
            return bad_tzif("truncated");
        }
        r.take(block_size(*h, 4));
        h = read_header(r);
        if (!h) {
            return h.error();
        }
        time_bytes = 8;
    }
    if (!r.has(block_size(*h, time_bytes))) {
        return bad_tzif("truncated");
    }
    if (h->leapcnt != 0) {
        return bad_tzif("it counts leap seconds (a \"right/\" zone), so its times are not UTC");
    }
    TimeZone z;
    z.transitions_.reserve(h->timecnt);
    for (std::uint32_t i = 0; i < h->timecnt; ++i) {
        const auto t = time_bytes == 8 ? r.i64() : std::int64_t{r.i32()};
        if (!z.transitions_.empty() && t <= z.transitions_.back()) {
            return bad_tzif("transitions out of order");
        }
        z.transitions_.push_back(t);
    }
    for (std::uint32_t i = 0; i < h->timecnt; ++i) {
        const auto type = r.u8();
        if (type >= h->typecnt) {
            return bad_tzif("a transition to an unknown type");
        }
        z.type_of_.push_back(type);
    }

    struct RawType {
        std::int32_t utoff;
        bool isdst;
        std::uint8_t desig;
    };

    std::vector<RawType> raw;
    for (std::uint32_t i = 0; i < h->typecnt; ++i) {
        RawType t{};
        t.utoff = r.i32();
        t.isdst = r.u8() != 0;
        t.desig = r.u8();
        if (t.utoff == INT32_MIN || t.desig >= h->charcnt) {
            return bad_tzif("a malformed local time type");
        }
        raw.push_back(t);
    }
    const auto chars = r.take(h->charcnt);
    for (const auto& t : raw) {
        auto abbr = chars.substr(t.desig);
        abbr = abbr.substr(0, abbr.find('\0'));
        z.types_.push_back({t.utoff, t.isdst, std::string(abbr)});
    }
    r.take(h->isstdcnt + h->isutcnt);
    if (time_bytes == 8) {
        // The footer: "\n" TZ "\n". An empty TZ, or one this parser does not know, leaves the
        // last transition's type in force.
        const auto rest = r.rest();
        if (rest.size() >= 2 && rest.front() == '\n') {
            const auto end = rest.find('\n', 1);
            if (end != std::string_view::npos && end > 1) {
                z.footer_ = PosixRule::parse(rest.substr(1, end - 1));
            }
        }
    }
    return z;
}

TimeZone TimeZone::fixed(std::int32_t utc_offset, std::string abbreviation) {
    TimeZone z;
    z.types_.push_back({utc_offset, false, std::move(abbreviation)});
    return z;
}

LocalTimeType TimeZone::at(Seconds t) const {
    const auto now = t.time_since_epoch().count();
    if (transitions_.empty() || now >= transitions_.back()) {
        if (footer_) {
            return footer_->at(t);
        }
        if (transitions_.empty()) {
            return types_.front();
        }
    }
    if (now < transitions_.front()) {
        // RFC 8536: before the first transition, type 0.
        return types_.front();
    }
    const auto it = std::upper_bound(transitions_.begin(), transitions_.end(), now);
    const auto i = static_cast<std::size_t>(std::distance(transitions_.begin(), it)) - 1;
    return types_[type_of_[i]];
}

// ---------------------------------------------------------------- names

std::string format_utc_offset(std::int32_t seconds) {
    const char sign = seconds < 0 ? '-' : '+';
    const auto a = static_cast<std::int64_t>(seconds < 0 ? -std::int64_t{seconds} : seconds);
    const auto two = [](std::int64_t v) {
        return std::string(1, static_cast<char>('0' + v / 10)) + static_cast<char>('0' + v % 10);
    };
    std::string out(1, sign);
    out += two(a / 3600) + ":" + two(a / 60 % 60);
    if (a % 60 != 0) {
        out += ":" + two(a % 60);
    }
    return out;
}

namespace {

constexpr std::array<std::string_view, 16> kUtcNames = {
    "utc",
    "gmt",
    "z",
    "zulu",
    "uct",
    "universal",
    "etc/utc",
    "etc/gmt",
    "etc/uct",
    "etc/zulu",
    "greenwich",
    "etc/universal",
    "gmt0",
    "etc/gmt0",
    "gmt+0",
    "gmt-0",
};

// "+05:30", "-0800", "+5", "UTC+02:00", "GMT-3": seconds east of UTC.
std::optional<std::int32_t> parse_fixed_offset(std::string_view s) {
    if (s.size() >= 3 && (iequals(s.substr(0, 3), "utc") || iequals(s.substr(0, 3), "gmt"))) {
        s.remove_prefix(3);
    }
    if (s.empty() || (s.front() != '+' && s.front() != '-')) {
        return std::nullopt;
    }
    const int sign = s.front() == '-' ? -1 : 1;
    s.remove_prefix(1);
    const auto all_digits = [](std::string_view d) {
        return !d.empty() &&
               std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    std::string_view hh;
    std::string_view mm;
    if (const auto colon = s.find(':'); colon != std::string_view::npos) {
        hh = s.substr(0, colon);
        mm = s.substr(colon + 1);
        if (mm.size() != 2) {
            return std::nullopt;
        }
    } else if (s.size() == 4) {
        hh = s.substr(0, 2);
        mm = s.substr(2);
    } else {
        hh = s;
    }
    if (hh.empty() || hh.size() > 2 || !all_digits(hh) || (!mm.empty() && !all_digits(mm))) {
        return std::nullopt;
    }
    const int hours = std::stoi(std::string(hh));
    const int minutes = mm.empty() ? 0 : std::stoi(std::string(mm));
    if (minutes > 59 || hours * 60 + minutes > 14 * 60) {
        return std::nullopt;
    }
    return sign * (hours * 3600 + minutes * 60);
}

bool valid_iana_name(std::string_view s) noexcept {
    if (s.empty() || s.size() > kMaxZoneNameLength || s.front() == '/' || s.back() == '/' ||
        s.find("..") != std::string_view::npos || s.find("//") != std::string_view::npos) {
        return false;
    }
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '+' || c == '-' || c == '/';
    });
}

// The relative path of the file `name` names under `dir`, each component matched exactly or,
// failing that, case-insensitively (the first match in sorted order).
std::optional<std::string> resolve_case(const fs::path& dir, std::string_view name) {
    fs::path current = dir;
    std::string out;
    for (const auto& part : split_list(name, '/')) {
        std::error_code ec;
        std::string found;
        if (fs::exists(current / part, ec)) {
            found = part;
        } else {
            std::vector<std::string> matches;
            for (fs::directory_iterator it(current, ec), end; !ec && it != end; it.increment(ec)) {
                const auto entry = it->path().filename().string();
                if (iequals(entry, part)) {
                    matches.push_back(entry);
                }
            }
            if (matches.empty()) {
                return std::nullopt;
            }
            std::sort(matches.begin(), matches.end());
            found = matches.front();
        }
        current /= found;
        out += (out.empty() ? "" : "/") + found;
    }
    return out;
}

// Whether `path` (resolved through symbolic links) lies inside `dir`.
bool inside(const fs::path& dir, const fs::path& path) {
    std::error_code ec;
    const auto base = fs::canonical(dir, ec);
    if (ec) {
        return false;
    }
    const auto target = fs::canonical(path, ec);
    if (ec) {
        return false;
    }
    const auto [b, t] = std::mismatch(base.begin(), base.end(), target.begin(), target.end());
    return b == base.end() && t != target.end();
}

Error unknown_zone(std::string_view name) {
    return make_error(
        ErrorType::not_found,
        "unknown time zone \"" + std::string(name) +
            "\": use an IANA name such as \"Europe/Paris\", \"UTC\", or an offset such as "
            "\"+05:30\""
    );
}

}  // namespace

ZoneDatabase::ZoneDatabase(fs::path dir) : dir_(std::move(dir)) {}

Result<ResolvedZone> ZoneDatabase::find(std::string_view raw) const {
    const auto name = trim(raw);
    for (const auto utc : kUtcNames) {
        if (iequals(name, utc)) {
            static const auto kUtc = std::make_shared<const TimeZone>(TimeZone::fixed(0, "UTC"));
            return ResolvedZone{"UTC", kUtc};
        }
    }
    if (const auto offset = parse_fixed_offset(name)) {
        const auto text = format_utc_offset(*offset);
        return ResolvedZone{text, std::make_shared<const TimeZone>(TimeZone::fixed(*offset, text))};
    }
    if (!valid_iana_name(name)) {
        return unknown_zone(name);
    }
    const auto relative = resolve_case(dir_, name);
    if (!relative || to_lower(*relative).starts_with("right/")) {
        return unknown_zone(name);
    }
    return load(*relative);
}

Result<ResolvedZone> ZoneDatabase::load(const std::string& name) const {
    {
        const std::lock_guard lock(mutex_);
        if (const auto it = cache_.find(name); it != cache_.end()) {
            return it->second;
        }
    }
    const auto path = dir_ / name;
    std::error_code ec;
    if (!inside(dir_, path) || !fs::is_regular_file(path, ec)) {
        return unknown_zone(name);
    }
    // A TZif file is a few kilobytes; anything much larger is something else.
    constexpr std::uintmax_t kMaxBytes = 256 * 1024;
    const auto size = fs::file_size(path, ec);
    if (ec || size > kMaxBytes) {
        return unknown_zone(name);
    }
    std::ifstream in(path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto zone = TimeZone::from_tzif(bytes);
    if (!zone) {
        return unknown_zone(name);
    }
    ResolvedZone resolved{name, std::make_shared<const TimeZone>(std::move(*zone))};
    const std::lock_guard lock(mutex_);
    return cache_.emplace(name, std::move(resolved)).first->second;
}

}  // namespace parley::tools
