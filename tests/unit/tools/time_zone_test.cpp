// Time zones: the system's TZif files (tzdata) at fixed instants, summer and winter, both
// hemispheres, at DST transitions and beyond the files' transitions (the POSIX footer); POSIX TZ
// rules on their own; synthetic TZif files; name validation (no path tricks); the tool's JSON.
#include "tools/time_zone.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>
#include <unistd.h>

#include "support/run_awaitable.hpp"
#include "tools/builtins.hpp"

namespace parley::tools {
namespace {

namespace chr = std::chrono;
namespace fs = std::filesystem;

constexpr const char* kZoneinfo = "/usr/share/zoneinfo";

Seconds utc(int y, unsigned m, unsigned d, int hh, int mm = 0, int ss = 0) {
    return chr::sys_days(chr::year{y} / chr::month{m} / chr::day{d}) + chr::hours{hh} +
           chr::minutes{mm} + chr::seconds{ss};
}

class ZoneDatabaseTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(fs::exists(fs::path(kZoneinfo) / "Europe/Paris"))
            << "the tzdata package is missing (scripts/install-deps installs it)";
    }

    LocalTimeType at(std::string_view zone, Seconds t) {
        const auto z = db_.find(zone);
        EXPECT_TRUE(z) << zone << ": " << (z ? "" : z.error().message);
        if (!z) {
            return {};
        }
        return z->zone->at(t);
    }

    ZoneDatabase db_{kZoneinfo};
};

struct ZoneCase {
    const char* zone;
    Seconds at;
    const char* offset;
    const char* abbreviation;
    bool dst;
};

TEST_F(ZoneDatabaseTest, OffsetsAtFixedInstants) {
    const ZoneCase cases[] = {
        // The brief's examples: 2026-07-01T12:00:00Z.
        {"Europe/Paris", utc(2026, 7, 1, 12), "+02:00", "CEST", true},
        {"America/New_York", utc(2026, 7, 1, 12), "-04:00", "EDT", true},
        // Winter.
        {"Europe/Paris", utc(2026, 1, 15, 12), "+01:00", "CET", false},
        {"America/New_York", utc(2026, 1, 15, 12), "-05:00", "EST", false},
        // Southern hemisphere: summer in January.
        {"Australia/Sydney", utc(2026, 1, 15, 12), "+11:00", "AEDT", true},
        {"Australia/Sydney", utc(2026, 7, 1, 12), "+10:00", "AEST", false},
        // Offsets that are not whole hours; zones without DST.
        {"Asia/Kolkata", utc(2026, 7, 1, 12), "+05:30", "IST", false},
        {"Asia/Kathmandu", utc(2026, 7, 1, 12), "+05:45", "+0545", false},
        {"Asia/Tokyo", utc(2026, 1, 15, 12), "+09:00", "JST", false},
        // Paris's spring and autumn transitions in 2026 (01:00 UTC on the last Sundays).
        {"Europe/Paris", utc(2026, 3, 29, 0, 59, 59), "+01:00", "CET", false},
        {"Europe/Paris", utc(2026, 3, 29, 1), "+02:00", "CEST", true},
        {"Europe/Paris", utc(2026, 10, 25, 0, 59, 59), "+02:00", "CEST", true},
        {"Europe/Paris", utc(2026, 10, 25, 1), "+01:00", "CET", false},
        // New York's: 2026-03-08 at 2:00 EST (07:00 UTC), 2026-11-01 at 2:00 EDT (06:00 UTC).
        {"America/New_York", utc(2026, 3, 8, 6, 59, 59), "-05:00", "EST", false},
        {"America/New_York", utc(2026, 3, 8, 7), "-04:00", "EDT", true},
        {"America/New_York", utc(2026, 11, 1, 5, 59, 59), "-04:00", "EDT", true},
        {"America/New_York", utc(2026, 11, 1, 6), "-05:00", "EST", false},
        // Beyond the files' listed transitions (2037): the footer's POSIX rule.
        {"Europe/Paris", utc(2040, 7, 1, 12), "+02:00", "CEST", true},
        {"Europe/Paris", utc(2040, 1, 15, 12), "+01:00", "CET", false},
        {"America/New_York", utc(2045, 7, 4, 12), "-04:00", "EDT", true},
        {"Australia/Sydney", utc(2040, 1, 15, 12), "+11:00", "AEDT", true},
        {"Australia/Sydney", utc(2040, 7, 15, 12), "+10:00", "AEST", false},
        // A link inside the directory, and a name in the wrong case.
        {"US/Eastern", utc(2026, 7, 1, 12), "-04:00", "EDT", true},
        {"europe/paris", utc(2026, 7, 1, 12), "+02:00", "CEST", true},
        {"AMERICA/NEW_YORK", utc(2026, 1, 15, 12), "-05:00", "EST", false},
        // Before the first transition: local mean time, with seconds.
        {"Europe/Paris", utc(1800, 1, 1, 0), "+00:09:21", "LMT", false},
    };
    for (const auto& c : cases) {
        const auto local = at(c.zone, c.at);
        EXPECT_EQ(format_utc_offset(local.utc_offset), c.offset) << c.zone;
        EXPECT_EQ(local.abbreviation, c.abbreviation) << c.zone;
        EXPECT_EQ(local.is_dst, c.dst) << c.zone;
    }
}

TEST_F(ZoneDatabaseTest, CanonicalNames) {
    EXPECT_EQ(db_.find("europe/paris")->name, "Europe/Paris");
    EXPECT_EQ(db_.find(" Europe/Paris ")->name, "Europe/Paris");
    for (const auto* u : {"UTC", "utc", "Z", "GMT", "Etc/UTC", "zulu"}) {
        const auto z = db_.find(u);
        ASSERT_TRUE(z) << u;
        EXPECT_EQ(z->name, "UTC") << u;
        EXPECT_EQ(z->zone->at(utc(2026, 7, 1, 12)).utc_offset, 0);
    }
    // The IANA Etc/GMT+5 is POSIX-style: five hours west.
    EXPECT_EQ(at("Etc/GMT+5", utc(2026, 7, 1, 12)).utc_offset, -5 * 3600);
}

TEST_F(ZoneDatabaseTest, FixedOffsets) {
    const std::pair<const char*, const char*> cases[] = {
        {"+05:30", "+05:30"},
        {"-08:00", "-08:00"},
        {"+0530", "+05:30"},
        {"-0800", "-08:00"},
        {"+5", "+05:00"},
        {"-11", "-11:00"},
        {"UTC+02:00", "+02:00"},
        {"utc-3", "-03:00"},
        {"GMT+1", "+01:00"},  // ISO sign, as people mean it
        {"+14:00", "+14:00"},
        {"-00:00", "+00:00"},
    };
    for (const auto& [in, want] : cases) {
        const auto z = db_.find(in);
        ASSERT_TRUE(z) << in;
        EXPECT_EQ(z->name, want) << in;
        EXPECT_EQ(format_utc_offset(z->zone->at(utc(2026, 7, 1, 12)).utc_offset), want) << in;
    }
}

TEST_F(ZoneDatabaseTest, Refusals) {
    for (const std::string& name : std::vector<std::string>{
             "",
             "../etc/passwd",
             "/etc/passwd",
             "Europe/../../etc/passwd",
             "Europe/Paris/..",
             "Europe//Paris",
             "Europe/Paris/",
             "Europe/Nowhere",
             "Mars/Olympus_Mons",
             "Europe",              // a directory
             "zone.tab",            // not a zone, and '.' is not allowed
             "leapseconds",         // a file, not TZif
             "right/Europe/Paris",  // leap-second timestamps
             "Europe/Pa\nris",
             "Europe/Paris;rm",
             "Europe\\Paris",
             "+15:00",
             "+05:60",
             "+5:3",
             "UTC+",
             std::string(65, 'A'),
         }) {
        const auto z = db_.find(name);
        EXPECT_FALSE(z) << name;
        if (!z) {
            EXPECT_EQ(z.error().type, ErrorType::not_found);
            EXPECT_NE(z.error().message.find("unknown time zone"), std::string::npos);
        }
    }
}

TEST_F(ZoneDatabaseTest, LinksMustStayInsideTheDirectory) {
    const auto dir = fs::temp_directory_path() / ("parley-zones-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir / "Good");
    fs::copy_file(fs::path(kZoneinfo) / "Europe/Paris", dir / "Good/Zone");
    fs::create_directory_symlink(dir / "Good", dir / "Alias");
    fs::create_symlink("Good/Zone", dir / "Inner");
    fs::create_symlink(fs::path(kZoneinfo) / "Europe/Paris", dir / "Outer");
    const ZoneDatabase db(dir);
    EXPECT_TRUE(db.find("Good/Zone"));
    EXPECT_TRUE(db.find("Inner"));
    EXPECT_TRUE(db.find("Alias/Zone"));
    // A valid zone file, but reached through a link that leaves the directory.
    EXPECT_FALSE(db.find("Outer"));
    EXPECT_FALSE(db.find("Europe/Paris"));
    fs::remove_all(dir);
}

TEST(PosixRuleTest, Parses) {
    for (const auto* tz : {
             "CET-1CEST,M3.5.0,M10.5.0/3",
             "EST5EDT,M3.2.0,M11.1.0",
             "AEST-10AEDT,M10.1.0,M4.1.0/3",
             "<+0530>-5:30",
             "<-03>3",
             "IST-2IDT,M3.4.4/26,M10.5.0",  // Israel: 26:00 on a Thursday
             "<-02>2<-01>,M3.5.0/-1,M10.5.0/0",
             "EST5EDT",
             "UTC0",
         }) {
        EXPECT_TRUE(PosixRule::parse(tz)) << tz;
    }
    for (const auto* tz : {
             "",
             "CET",
             "C1",
             "CET-1CEST,M13.1.0,M10.5.0",
             "CET-1CEST,M3.6.0,M10.5.0",
             "CET-1CEST,M3.5.7,M10.5.0",
             "CET-1CEST,J0,J10",
             "CET-1CEST,M3.5.0",
             "CET-1CEST,M3.5.0,M10.5.0/200",
             "CET-25",
             "<+05",
             "CET-1CEST,M3.5.0,M10.5.0x",
         }) {
        EXPECT_FALSE(PosixRule::parse(tz)) << tz;
    }
}

TEST(PosixRuleTest, Rules) {
    const auto paris = PosixRule::parse("CET-1CEST,M3.5.0,M10.5.0/3");
    ASSERT_TRUE(paris);
    EXPECT_EQ(paris->at(utc(2030, 3, 31, 0, 59, 59)).utc_offset, 3600);  // last Sunday of March
    EXPECT_EQ(paris->at(utc(2030, 3, 31, 1)).utc_offset, 7200);
    EXPECT_EQ(paris->at(utc(2030, 10, 27, 0, 59, 59)).utc_offset, 7200);
    EXPECT_EQ(paris->at(utc(2030, 10, 27, 1)).utc_offset, 3600);

    const auto india = PosixRule::parse("<+0530>-5:30");
    ASSERT_TRUE(india);
    EXPECT_EQ(india->at(utc(2030, 1, 1, 0)).utc_offset, 5 * 3600 + 1800);
    EXPECT_EQ(india->at(utc(2030, 1, 1, 0)).abbreviation, "+0530");

    // Without rules, a daylight time follows the US rule, one hour ahead.
    const auto us = PosixRule::parse("EST5EDT");
    ASSERT_TRUE(us);
    EXPECT_EQ(us->at(utc(2030, 7, 1, 12)).utc_offset, -4 * 3600);
    EXPECT_EQ(us->at(utc(2030, 1, 1, 12)).utc_offset, -5 * 3600);

    // Jn never counts February 29th; n (zero-based) does.
    const auto julian = PosixRule::parse("AAA0BBB,J60/0,J90/0");
    ASSERT_TRUE(julian);
    EXPECT_FALSE(julian->at(utc(2024, 2, 29, 12)).is_dst);
    EXPECT_TRUE(julian->at(utc(2024, 3, 1, 12)).is_dst);
    const auto zero = PosixRule::parse("AAA0BBB,59/0,90/0");
    ASSERT_TRUE(zero);
    EXPECT_TRUE(zero->at(utc(2024, 2, 29, 12)).is_dst);  // day 59 of a leap year
    EXPECT_FALSE(zero->at(utc(2026, 2, 28, 12)).is_dst);
    EXPECT_TRUE(zero->at(utc(2026, 3, 1, 12)).is_dst);  // day 59 of a common year

    // Israel's 26:00 on the Thursday before the last Sunday of March: Friday 02:00.
    const auto israel = PosixRule::parse("IST-2IDT,M3.4.4/26,M10.5.0");
    ASSERT_TRUE(israel);
    EXPECT_FALSE(israel->at(utc(2030, 3, 28, 23, 59, 59)).is_dst);  // Fri 01:59:59 IST
    EXPECT_TRUE(israel->at(utc(2030, 3, 29, 0)).is_dst);            // Fri 02:00 IST
}

// A TZif file built by hand: header, one data block (32- or 64-bit), footer.
std::string be32(std::uint32_t v) {
    std::string s(4, '\0');
    for (int i = 3; i >= 0; --i) {
        s[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xFF);
        v >>= 8;
    }
    return s;
}

std::string be64(std::int64_t value) {
    auto v = static_cast<std::uint64_t>(value);
    std::string s(8, '\0');
    for (int i = 7; i >= 0; --i) {
        s[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xFF);
        v >>= 8;
    }
    return s;
}

struct SynthType {
    std::int32_t utoff;
    bool dst;
    std::uint8_t desig;
};

std::string header(
    char version, std::uint32_t timecnt, std::uint32_t typecnt, std::uint32_t charcnt
) {
    return std::string("TZif") + version + std::string(15, '\0') + be32(0) + be32(0) + be32(0) +
           be32(timecnt) + be32(typecnt) + be32(charcnt);
}

std::string block(
    bool wide,
    const std::vector<std::int64_t>& times,
    const std::vector<std::uint8_t>& idx,
    const std::vector<SynthType>& types,
    const std::string& chars
) {
    std::string out;
    for (const auto t : times) {
        out += wide ? be64(t) : be32(static_cast<std::uint32_t>(static_cast<std::int32_t>(t)));
    }
    for (const auto i : idx) {
        out += static_cast<char>(i);
    }
    for (const auto& t : types) {
        out += be32(static_cast<std::uint32_t>(t.utoff));
        out += static_cast<char>(t.dst ? 1 : 0);
        out += static_cast<char>(t.desig);
    }
    return out + chars;
}

TEST(TzifTest, Version1) {
    const std::vector<std::int64_t> times = {1000};
    const std::vector<std::uint8_t> idx = {1};
    const std::vector<SynthType> types = {{0, false, 0}, {3600, true, 4}};
    const std::string chars("AAA\0BBB\0", 8);
    const auto bytes = header('\0', 1, 2, 8) + block(false, times, idx, types, chars);
    const auto z = TimeZone::from_tzif(bytes);
    ASSERT_TRUE(z) << z.error().message;
    EXPECT_EQ(z->at(Seconds(chr::seconds(999))).abbreviation, "AAA");
    EXPECT_EQ(z->at(Seconds(chr::seconds(1000))).abbreviation, "BBB");
    EXPECT_EQ(z->at(Seconds(chr::seconds(1000000))).utc_offset, 3600);
}

TEST(TzifTest, SlimVersion2UsesTheFooter) {
    // No transitions at all: every instant comes from the footer, as in "slim" tzdata builds.
    const std::vector<SynthType> types = {{3600, false, 0}};
    const std::string chars("CET\0", 4);
    const auto v1 = header('2', 0, 1, 4) + block(false, {}, {}, types, chars);
    const auto v2 = header('2', 0, 1, 4) + block(true, {}, {}, types, chars);
    const auto z = TimeZone::from_tzif(v1 + v2 + "\nCET-1CEST,M3.5.0,M10.5.0/3\n");
    ASSERT_TRUE(z) << z.error().message;
    EXPECT_EQ(z->at(utc(2026, 7, 1, 12)).abbreviation, "CEST");
    EXPECT_EQ(z->at(utc(2026, 1, 1, 12)).abbreviation, "CET");
    // An empty footer: the last (only) type stays in force.
    const auto plain = TimeZone::from_tzif(v1 + v2 + "\n\n");
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->at(utc(2026, 7, 1, 12)).abbreviation, "CET");
}

TEST(TzifTest, Refusals) {
    const std::vector<SynthType> types = {{0, false, 0}};
    const std::string chars("AAA\0", 4);
    const auto good = header('\0', 0, 1, 4) + block(false, {}, {}, types, chars);
    ASSERT_TRUE(TimeZone::from_tzif(good));
    EXPECT_FALSE(TimeZone::from_tzif(""));
    EXPECT_FALSE(TimeZone::from_tzif("TZif"));
    EXPECT_FALSE(TimeZone::from_tzif("# not a zone\n" + std::string(60, 'x')));
    EXPECT_FALSE(TimeZone::from_tzif(good.substr(0, good.size() - 1)));  // truncated
    // No types.
    EXPECT_FALSE(TimeZone::from_tzif(header('\0', 0, 0, 4) + chars));
    // A transition to a type that does not exist.
    EXPECT_FALSE(TimeZone::from_tzif(header('\0', 1, 1, 4) + block(false, {5}, {3}, types, chars)));
    // Transitions out of order.
    EXPECT_FALSE(
        TimeZone::from_tzif(header('\0', 2, 1, 4) + block(false, {5, 4}, {0, 0}, types, chars))
    );
    // An abbreviation index past the characters.
    const std::vector<SynthType> bad_desig = {{0, false, 9}};
    EXPECT_FALSE(TimeZone::from_tzif(header('\0', 0, 1, 4) + block(false, {}, {}, bad_desig, chars))
    );
    // Leap seconds ("right/" zones).
    const auto leap = std::string("TZif") + '\0' + std::string(15, '\0') + be32(0) + be32(0) +
                      be32(1) + be32(0) + be32(1) + be32(4) + block(false, {}, {}, types, chars) +
                      be32(100) + be32(1);
    const auto r = TimeZone::from_tzif(leap);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("leap seconds"), std::string::npos);
}

TEST(UtcOffsetTest, Format) {
    EXPECT_EQ(format_utc_offset(0), "+00:00");
    EXPECT_EQ(format_utc_offset(7200), "+02:00");
    EXPECT_EQ(format_utc_offset(-4 * 3600), "-04:00");
    EXPECT_EQ(format_utc_offset(5 * 3600 + 45 * 60), "+05:45");
    EXPECT_EQ(format_utc_offset(-(3 * 3600 + 30 * 60)), "-03:30");
    EXPECT_EQ(format_utc_offset(561), "+00:09:21");
}

// --- the tool, on a fixed clock

ToolResult now_in(const std::string& arguments, TimePoint fixed) {
    const auto tool = make_current_time_tool(
        [fixed] { return fixed; }, std::make_shared<const ZoneDatabase>(kZoneinfo)
    );
    const auto args = boost::json::parse(arguments).as_object();
    return testing::run_awaitable(tool->run(ToolContext{}, args));
}

TEST(CurrentTimeToolTest, Zones) {
    const TimePoint summer = utc(2026, 7, 1, 12) + chr::milliseconds(250);
    const TimePoint winter = utc(2026, 1, 15, 12);

    struct Case {
        const char* args;
        TimePoint at;
        const char* json;
    };

    const Case cases[] = {
        {R"({"timezone": "Europe/Paris"})",
         summer,
         R"({"timezone":"Europe/Paris","iso8601":"2026-07-01T14:00:00+02:00","utc_offset":"+02:00","abbreviation":"CEST","dst":true,"day_of_week":"Wednesday","utc":"2026-07-01T12:00:00.000Z"})"},
        {R"({"timezone": "America/New_York"})",
         summer,
         R"({"timezone":"America/New_York","iso8601":"2026-07-01T08:00:00-04:00","utc_offset":"-04:00","abbreviation":"EDT","dst":true,"day_of_week":"Wednesday","utc":"2026-07-01T12:00:00.000Z"})"},
        {R"({"timezone": "Europe/Paris"})",
         winter,
         R"({"timezone":"Europe/Paris","iso8601":"2026-01-15T13:00:00+01:00","utc_offset":"+01:00","abbreviation":"CET","dst":false,"day_of_week":"Thursday","utc":"2026-01-15T12:00:00.000Z"})"},
        {R"({"timezone": "America/New_York"})",
         winter,
         R"({"timezone":"America/New_York","iso8601":"2026-01-15T07:00:00-05:00","utc_offset":"-05:00","abbreviation":"EST","dst":false,"day_of_week":"Thursday","utc":"2026-01-15T12:00:00.000Z"})"},
        {R"({"timezone": "Pacific/Kiritimati"})",
         winter,
         R"({"timezone":"Pacific/Kiritimati","iso8601":"2026-01-16T02:00:00+14:00","utc_offset":"+14:00","abbreviation":"+14","dst":false,"day_of_week":"Friday","utc":"2026-01-15T12:00:00.000Z"})"},
        {R"({"timezone": "+05:30"})",
         summer,
         R"({"timezone":"+05:30","iso8601":"2026-07-01T17:30:00+05:30","utc_offset":"+05:30","abbreviation":"+05:30","dst":false,"day_of_week":"Wednesday","utc":"2026-07-01T12:00:00.000Z"})"},
        {R"({})",
         summer,
         R"({"timezone":"UTC","iso8601":"2026-07-01T12:00:00+00:00","utc_offset":"+00:00","abbreviation":"UTC","dst":false,"day_of_week":"Wednesday","utc":"2026-07-01T12:00:00.000Z"})"},
        {R"({"timezone": ""})",
         summer,
         R"({"timezone":"UTC","iso8601":"2026-07-01T12:00:00+00:00","utc_offset":"+00:00","abbreviation":"UTC","dst":false,"day_of_week":"Wednesday","utc":"2026-07-01T12:00:00.000Z"})"},
    };
    for (const auto& c : cases) {
        const auto r = now_in(c.args, c.at);
        EXPECT_TRUE(r.ok) << c.args;
        EXPECT_EQ(r.content, c.json) << c.args;
    }
}

TEST(CurrentTimeToolTest, Errors) {
    const TimePoint t = utc(2026, 7, 1, 12);
    const auto unknown = now_in(R"({"timezone": "Mars/Base"})", t);
    EXPECT_FALSE(unknown.ok);
    EXPECT_NE(unknown.content.find("unknown time zone \\\"Mars/Base\\\""), std::string::npos)
        << unknown.content;
    const auto traversal = now_in(R"({"timezone": "../../etc/passwd"})", t);
    EXPECT_FALSE(traversal.ok);
    const auto wrong_type = now_in(R"({"timezone": 5})", t);
    EXPECT_FALSE(wrong_type.ok);
    EXPECT_EQ(wrong_type.content, R"({"error":"`timezone` must be a string"})");
}

}  // namespace
}  // namespace parley::tools
