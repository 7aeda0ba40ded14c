#include "common/strings.hpp"

#include <gtest/gtest.h>

namespace parley {
namespace {

TEST(StringsTest, TrimLowerEquals) {
    EXPECT_EQ(trim("  a b \t\r\n"), "a b");
    EXPECT_EQ(trim(" \t "), "");
    EXPECT_EQ(to_lower("MiXeD-123"), "mixed-123");
    EXPECT_TRUE(iequals("Content-Type", "content-type"));
    EXPECT_FALSE(iequals("Content-Type", "content-typ"));
}

TEST(StringsTest, SplitListTrimsAndDropsEmpties) {
    const auto parts = split_list(" https://a.example , ,https://b.example,", ',');
    ASSERT_EQ(parts.size(), 2U);
    EXPECT_EQ(parts[0], "https://a.example");
    EXPECT_EQ(parts[1], "https://b.example");
    EXPECT_TRUE(split_list("", ',').empty());
}

TEST(StringsTest, Utf8LengthAndPrefix) {
    EXPECT_EQ(utf8_length(""), 0U);
    EXPECT_EQ(utf8_length("abc"), 3U);
    EXPECT_EQ(utf8_length("h\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"), 4U);  // h é € 😀
    const std::string_view text =
        "ab\xE2\x82\xAC"
        "cd";  // a b € c d
    EXPECT_EQ(utf8_prefix(text, 10), text);
    EXPECT_EQ(utf8_prefix(text, 2), "ab");
    EXPECT_EQ(utf8_prefix(text, 3), "ab");  // would cut € after its first byte
    EXPECT_EQ(utf8_prefix(text, 4), "ab");  // … or its second
    EXPECT_EQ(utf8_prefix(text, 5), "ab\xE2\x82\xAC");
    EXPECT_EQ(utf8_prefix(text, 0), "");
}

TEST(StringsTest, Utf8Validation) {
    EXPECT_TRUE(is_valid_utf8("plain ascii"));
    EXPECT_TRUE(is_valid_utf8("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80"));  // é € 😀
    EXPECT_FALSE(is_valid_utf8("\xC3"));                                       // truncated
    EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));                                   // overlong '/'
    EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));                               // surrogate
    EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));                           // > U+10FFFF
    EXPECT_FALSE(is_valid_utf8("\xFF"));
    EXPECT_FALSE(is_valid_utf8("ok\x80"));  // stray continuation byte
}

}  // namespace
}  // namespace parley
