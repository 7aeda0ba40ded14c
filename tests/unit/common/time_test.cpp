#include "common/time.hpp"

#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace parley {
namespace {

TEST(TimeTest, RoundTripsWithMilliseconds) {
    const auto t = parse_iso8601("2026-11-25T12:34:56.789Z");
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(to_iso8601(*t), "2026-11-25T12:34:56.789Z");
    EXPECT_EQ(to_unix_seconds(*parse_iso8601("1970-01-01T00:00:00Z")), 0);
}

TEST(TimeTest, FormatsEveryFieldWithItsWidth) {
    using namespace std::chrono;
    const TimePoint early =
        sys_days{January / 2 / 1970} + hours(3) + minutes(4) + seconds(5) + milliseconds(6);
    EXPECT_EQ(to_iso8601(early), "1970-01-02T03:04:05.006Z");
    const TimePoint late = sys_days{December / 31 / 2199} + hours(23) + minutes(59) + seconds(59) +
                           milliseconds(999) + microseconds(999);
    EXPECT_EQ(to_iso8601(late), "2199-12-31T23:59:59.999Z") << "sub-millisecond part truncated";
    EXPECT_EQ(to_iso8601(TimePoint{}), "1970-01-01T00:00:00.000Z");
}

TEST(TimeTest, AppliesOffsets) {
    EXPECT_EQ(to_iso8601(*parse_iso8601("2026-11-25T14:00:00+02:00")), "2026-11-25T12:00:00.000Z");
    EXPECT_EQ(to_iso8601(*parse_iso8601("2026-11-25T10:30:00-01:30")), "2026-11-25T12:00:00.000Z");
}

TEST(TimeTest, RejectsMalformedAndOutOfRange) {
    for (const char* text :
         {"",
          "2026-11-25",
          "2026-13-01T00:00:00Z",
          "2026-02-30T00:00:00Z",
          "2026-11-25T24:00:00Z",
          "2026-11-25T12:00:00",
          "2026-11-25T12:00:00.Z",
          "2026-11-25T12:00:00+2:00",
          // outside 1970–2200: the nanosecond clock overflows past 2262
          "2999-01-01T00:00:00Z",
          "0001-01-01T00:00:00Z",
          "1969-12-31T23:59:59Z"}) {
        EXPECT_FALSE(parse_iso8601(text).has_value()) << text;
    }
    EXPECT_TRUE(parse_iso8601("2200-12-31T23:59:59Z").has_value());
}

// The stored form ("…T….mmmZ") is read by a fast path; the same instant written with a "+00:00"
// offset goes through the general parser, so both must agree on every date, valid or not.
TEST(TimeTest, StoredFormAgreesWithTheGeneralParser) {
    std::vector<std::string> stamps = {
        "1970-01-01T00:00:00.000Z",
        "1969-12-31T23:59:59.999Z",
        "2200-12-31T23:59:59.999Z",
        "2201-01-01T00:00:00.000Z",
        "2024-02-29T12:00:00.500Z",
        "2023-02-29T12:00:00.500Z",
        "2100-02-29T00:00:00.000Z",
        "2000-02-29T00:00:00.000Z",
        "2026-13-01T00:00:00.000Z",
        "2026-00-10T00:00:00.000Z",
        "2026-04-31T00:00:00.000Z",
        "2026-04-00T00:00:00.000Z",
        "2026-12-03T24:00:00.000Z",
        "2026-12-03T23:60:00.000Z",
        "2026-12-03T23:59:60.000Z",
        "2026-12-03T23:59:61.000Z",
        "2026-12-03T03:04:05.006Z",
    };
    // Every day of four years (a leap year, a century that is not one), at varied times.
    for (int y : {1970, 2000, 2100, 2199}) {
        for (int m = 1; m <= 12; ++m) {
            for (int d = 1; d <= 31; ++d) {
                char buf[32];
                std::snprintf(
                    buf,
                    sizeof buf,
                    "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                    y,
                    m,
                    d,
                    (d * 7) % 24,
                    (m * 13) % 60,
                    (d * 11) % 60,
                    (y + m * d) % 1000
                );
                stamps.emplace_back(buf);
            }
        }
    }
    for (const auto& z : stamps) {
        const std::string offset = z.substr(0, z.size() - 1) + "+00:00";
        EXPECT_EQ(parse_iso8601(z), parse_iso8601(offset)) << z;
        if (const auto t = parse_iso8601(z); t && z.find(":60.") == std::string::npos) {
            EXPECT_EQ(to_iso8601(*t), z);
        }
    }
    // Near misses of the stored form still go to the general parser and mean the same.
    EXPECT_EQ(parse_iso8601("2026-12-03T03:04:05.006z"), parse_iso8601("2026-12-03T03:04:05.006Z"));
    EXPECT_EQ(parse_iso8601("2026-12-03 03:04:05.006Z"), parse_iso8601("2026-12-03T03:04:05.006Z"));
    EXPECT_EQ(
        parse_iso8601("2026-12-03T03:04:05.0061Z").value() - std::chrono::microseconds(100),
        parse_iso8601("2026-12-03T03:04:05.006Z").value()
    );
    EXPECT_FALSE(parse_iso8601("2026-12-03T03:04:05.0a6Z"));
    EXPECT_FALSE(parse_iso8601("2026-12-03T03:04:05.006Zx"));
}

}  // namespace
}  // namespace parley
