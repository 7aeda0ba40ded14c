#include "common/json_writer.hpp"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <gtest/gtest.h>

namespace parley {
namespace {

namespace bj = boost::json;

// Strings whose escaping could differ between the writer and Boost.JSON's serializer: every byte
// from 0 to 255 alone, quotes, backslashes, control characters Boost.JSON writes short (\b \f)
// or long (\u001f), DEL, UTF-8 of every length, and invalid UTF-8 (stray continuation bytes, a
// truncated sequence, overlong forms, a surrogate), which both pass through unchanged.
std::vector<std::string> tricky_strings() {
    std::vector<std::string> out = {
        "",
        "plain text",
        "quote \" and backslash \\ and slash /",
        "\b\f\n\r\t\v\x01\x1f\x7f",
        std::string("nul \0 inside", 12),
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe6\x97\xa5\xe6\x9c\xac",
        "\x80\xbf stray continuation",
        "truncated \xe2\x82",
        "overlong \xc0\xaf and \xe0\x80\xaf",
        "surrogate \xed\xa0\x80",
        "\xff\xfe",
        "</script><!-- \u2028 \u2029",
        std::string(100, '"'),
        std::string(40, 'x') + "\"" + std::string(40, '\\') + "\n",
    };
    for (int c = 0; c < 256; ++c) {
        out.emplace_back(1, static_cast<char>(c));
        out.push_back("a" + std::string(1, static_cast<char>(c)) + "b");
        // Long enough for the 8-byte scan, the byte at every offset of a word.
        for (std::size_t at : {0U, 3U, 7U, 8U, 13U, 23U}) {
            std::string text(24, 'x');
            text[at] = static_cast<char>(c);
            text[(at + 11) % 24] = static_cast<char>(0xff - c);
            out.push_back(std::move(text));
        }
    }
    return out;
}

TEST(JsonWriterTest, StringsAreEscapedExactlyAsBoostJsonSerialisesThem) {
    for (const auto& s : tricky_strings()) {
        std::string written;
        json::Writer(written).string(s);
        EXPECT_EQ(written, bj::serialize(bj::value(s)))
            << "for a string of " << s.size() << " bytes";
    }
}

TEST(JsonWriterTest, NumbersAreFormattedAsBoostJsonFormatsThem) {
    const std::vector<std::int64_t> ints = {
        0,
        1,
        -1,
        9,
        10,
        123456789,
        -987654321,
        std::numeric_limits<std::int64_t>::max(),
        std::numeric_limits<std::int64_t>::min()};
    for (const auto i : ints) {
        std::string written;
        json::Writer(written).integer(i);
        EXPECT_EQ(written, bj::serialize(bj::value(i)));
    }
    const std::vector<double> doubles = {
        0.0, -0.0, 1.0, 1.5, 0.1, 1e-6, 0.000123, 123456.789, 1e300, -2.5e-300, 0.3333333333333333};
    for (const auto d : doubles) {
        std::string written;
        json::Writer(written).number(d);
        EXPECT_EQ(written, bj::serialize(bj::value(d))) << d;
    }
}

TEST(JsonWriterTest, NestedDocumentMatchesTheSerialisedTree) {
    bj::object tree;
    tree["status"] = "success";
    bj::array items;
    items.push_back(bj::object{{"a", 1}, {"b", nullptr}, {"c", true}, {"d\n", "x\"y"}});
    items.push_back(bj::object{});
    items.push_back(bj::array{});
    items.push_back(bj::array{1, 2.5, "z", false});
    tree["data"] = std::move(items);
    tree["page"] = 3;
    tree["empty"] = bj::object{};
    tree["value"] = bj::value(bj::object{{"k", bj::array{bj::object{{"deep", -7}}}}});

    std::string written;
    json::Writer w(written);
    w.begin_object();
    w.key("status").string("success");
    w.key("data").begin_array();
    w.begin_object()
        .key("a")
        .integer(1)
        .key("b")
        .string_or_null(std::nullopt)
        .key("c")
        .boolean(true)
        .key("d\n")
        .string("x\"y")
        .end_object();
    w.begin_object().end_object();
    w.begin_array().end_array();
    w.begin_array().integer(1).number(2.5).string("z").boolean(false).end_array();
    w.end_array();
    w.key("page").integer_or_null(3);
    w.key("empty").begin_object().end_object();
    w.key("value").value(bj::value(bj::object{{"k", bj::array{bj::object{{"deep", -7}}}}}));
    w.end_object();
    EXPECT_EQ(written, bj::serialize(tree));
}

TEST(JsonWriterTest, ValueSerialisesLargeValuesWhole) {
    // Longer than the writer's 512-byte serialisation buffer: read in several pieces.
    bj::array big;
    for (int i = 0; i < 300; ++i) {
        big.push_back(bj::value("item \"" + std::to_string(i) + "\""));
    }
    std::string written;
    json::Writer(written).value(bj::value(big));
    EXPECT_EQ(written, bj::serialize(big));
    written.clear();
    json::Writer(written).null();
    EXPECT_EQ(written, "null");
}

}  // namespace
}  // namespace parley

namespace parley {
namespace {

TEST(JsonWriterTest, TimestampsAndKeysMatchTheTree) {
    using namespace std::chrono_literals;
    const std::vector<TimePoint> times = {
        TimePoint{},
        TimePoint{} + 1'764'730'000'123ms,
        TimePoint{} + 1'764'730'000'123'456us,
        TimePoint{} - 86'400'001ms,
        TimePoint{} + 7'258'118'399'999ms,
    };
    for (const auto t : times) {
        std::string written;
        json::Writer w(written);
        w.begin_array().timestamp(t).timestamp(t).end_array();
        EXPECT_EQ(
            written, bj::serialize(bj::array{bj::value(to_iso8601(t)), bj::value(to_iso8601(t))})
        );
    }
    // Keys: the one-append path (plain, short) and the escaping one (quotes, long names).
    const std::string long_key(60, 'k');
    std::string written;
    json::Writer w(written);
    w.begin_object().key("plain").integer(1).key("q\"uote").integer(2).key(long_key).integer(3);
    w.key("").integer(4).end_object();
    EXPECT_EQ(
        written, bj::serialize(bj::object{{"plain", 1}, {"q\"uote", 2}, {long_key, 3}, {"", 4}})
    );
}

}  // namespace
}  // namespace parley
