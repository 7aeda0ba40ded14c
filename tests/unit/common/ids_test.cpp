#include "common/ids.hpp"

#include <set>

#include <gtest/gtest.h>

namespace parley {
namespace {

TEST(IdsTest, UuidV7IsCanonicalVersionedAndUnique) {
    std::set<std::string> seen;
    std::string previous;
    for (int i = 0; i < 1000; ++i) {
        const auto id = new_uuid_v7();
        ASSERT_TRUE(is_uuid(id)) << id;
        EXPECT_EQ(id[14], '7') << id;                                    // version nibble
        EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos);  // RFC 9562 variant
        EXPECT_TRUE(seen.insert(id).second) << "duplicate " << id;
        // The first 48 bits are a millisecond timestamp: ids never go backwards in time.
        if (!previous.empty()) {
            EXPECT_LE(previous.substr(0, 13), id.substr(0, 13));
        }
        previous = id;
    }
}

TEST(IdsTest, UuidV7sMadeOnOneThreadSortInTheOrderTheyWereMade) {
    // Thousands within the same milliseconds: the counter in rand_a keeps them in order.
    std::string previous = new_uuid_v7();
    for (int i = 0; i < 20'000; ++i) {
        std::string next = new_uuid_v7();
        ASSERT_LT(previous, next) << "id " << i;
        ASSERT_EQ(next[14], '7') << next;
        previous = std::move(next);
    }
}

TEST(IdsTest, NameBasedIdsAreVersion8AndStable) {
    const std::string hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const auto id = uuid_v8_from_hex(hex);
    EXPECT_EQ(id, "01234567-89ab-8def-8123-456789abcdef");
    EXPECT_TRUE(is_uuid(id));
    EXPECT_EQ(uuid_v8_from_hex(hex), id);
}

TEST(IdsTest, IsUuidRejectsNearMisses) {
    EXPECT_TRUE(is_uuid("0190c6a8-7b7e-7c3a-9f2e-1d2c3b4a5f60"));
    EXPECT_TRUE(is_uuid("0190C6A8-7B7E-7C3A-9F2E-1D2C3B4A5F60"));
    EXPECT_FALSE(is_uuid(""));
    EXPECT_FALSE(is_uuid("not-a-uuid"));
    EXPECT_FALSE(is_uuid("0190c6a8-7b7e-7c3a-9f2e-1d2c3b4a5f6"));    // short
    EXPECT_FALSE(is_uuid("0190c6a8-7b7e-7c3a-9f2e-1d2c3b4a5f600"));  // long
    EXPECT_FALSE(is_uuid("0190c6a8x7b7e-7c3a-9f2e-1d2c3b4a5f60"));   // bad dash
    EXPECT_FALSE(is_uuid("0190c6a8-7b7e-7c3a-9f2e-1d2c3b4a5g60"));   // non-hex
    EXPECT_FALSE(is_uuid("../../../../../../etc/passwd/aaaaaaaa"));
}

TEST(IdsTest, RequestIdsAreSaneAndDistinct) {
    const auto a = new_request_id();
    const auto b = new_request_id();
    EXPECT_NE(a, b);
    EXPECT_TRUE(is_sane_request_id(a));
    EXPECT_EQ(a.rfind("req_", 0), 0U);
}

TEST(IdsTest, SaneRequestIdAcceptsTraceIdsAndRejectsInjection) {
    EXPECT_TRUE(is_sane_request_id("abc-123_DEF.4:5"));
    EXPECT_TRUE(is_sane_request_id(std::string(128, 'a')));
    EXPECT_FALSE(is_sane_request_id(std::string(129, 'a')));
    EXPECT_FALSE(is_sane_request_id(""));
    EXPECT_FALSE(is_sane_request_id("has space"));
    EXPECT_FALSE(is_sane_request_id("quote\"d"));
    EXPECT_FALSE(is_sane_request_id("line\r\nbreak"));
    EXPECT_FALSE(is_sane_request_id("{json}"));
}

}  // namespace
}  // namespace parley
