// The cache of verified access tokens (issue 14): a remembered token is found only while a fresh
// verification would still accept it at that time, and the map stays bounded.
#include "auth/verified_tokens.hpp"

#include <gtest/gtest.h>

namespace parley::auth {
namespace {

using std::chrono::seconds;

constexpr TimePoint kNow = TimePoint{} + seconds(1'800'000'000);

Claims claims_expiring_at(TimePoint exp) {
    Claims c;
    c.sub = "user-1";
    c.jti = "jti-1";
    c.iat = std::chrono::duration_cast<seconds>(kNow.time_since_epoch()).count();
    c.exp = std::chrono::duration_cast<seconds>(exp.time_since_epoch()).count();
    return c;
}

TEST(VerifiedTokensTest, FindsOnlyTheSameTokenWithItsClaims) {
    VerifiedTokens tokens;
    tokens.remember("a.b.c", claims_expiring_at(kNow + seconds(1800)), kNow);
    const auto found = tokens.find("a.b.c", kNow + seconds(1), seconds(30));
    ASSERT_TRUE(found);
    EXPECT_EQ(found->sub, "user-1");
    EXPECT_EQ(found->jti, "jti-1");
    EXPECT_FALSE(tokens.find("a.b.d", kNow, seconds(30)));
    EXPECT_FALSE(tokens.find("a.b.c.", kNow, seconds(30)));
    EXPECT_FALSE(tokens.find("a.b", kNow, seconds(30)));
}

// Jwt::verify refuses a token once exp <= now - leeway; so does the cache, whatever its TTL.
TEST(VerifiedTokensTest, AnExpiredTokenIsNotFound) {
    VerifiedTokens tokens(16, seconds(3600));
    tokens.remember("t", claims_expiring_at(kNow + seconds(100)), kNow);
    EXPECT_TRUE(tokens.find("t", kNow + seconds(129), seconds(30)));
    EXPECT_FALSE(tokens.find("t", kNow + seconds(130), seconds(30)));
    EXPECT_EQ(tokens.size(), 0U);  // dropped
    EXPECT_FALSE(tokens.find("t", kNow + seconds(1), seconds(30)));
}

TEST(VerifiedTokensTest, AnEntryLastsItsTtlAndNotBeforeItWasMade) {
    VerifiedTokens tokens(16, seconds(60));
    tokens.remember("t", claims_expiring_at(kNow + seconds(1800)), kNow);
    EXPECT_TRUE(tokens.find("t", kNow + seconds(59), seconds(30)));
    EXPECT_FALSE(tokens.find("t", kNow + seconds(60), seconds(30)));
    tokens.remember("t", claims_expiring_at(kNow + seconds(1800)), kNow);
    // A clock set back (iat or nbf could be in the future again): verify afresh.
    EXPECT_FALSE(tokens.find("t", kNow - seconds(1), seconds(30)));
}

TEST(VerifiedTokensTest, StaysWithinItsCapacity) {
    VerifiedTokens tokens(8, seconds(60));
    for (int i = 0; i < 100; ++i) {
        tokens.remember("token-" + std::to_string(i), claims_expiring_at(kNow + seconds(60)), kNow);
        EXPECT_LE(tokens.size(), 8U);
    }
    EXPECT_TRUE(tokens.find("token-99", kNow, seconds(30)));
}

}  // namespace
}  // namespace parley::auth
