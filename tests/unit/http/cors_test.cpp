#include "http/cors.hpp"

#include <gtest/gtest.h>

namespace parley::http {
namespace {

TEST(CorsTest, ExactOriginMatchOnly) {
    const CorsPolicy p({"https://app.example.com", "http://localhost:5173/"});
    EXPECT_TRUE(p.allows("https://app.example.com"));
    EXPECT_TRUE(p.allows("http://localhost:5173"));  // configured with a trailing slash
    EXPECT_FALSE(p.allows("https://app.example.com.evil.io"));
    EXPECT_FALSE(p.allows("https://evil.app.example.com"));
    EXPECT_FALSE(p.allows("http://app.example.com"));  // scheme matters
    EXPECT_FALSE(p.allows("https://app.example.com:8443"));
    EXPECT_FALSE(p.allows("null"));
    EXPECT_FALSE(p.allows(""));
}

TEST(CorsTest, EmptyAllowlistAllowsNothing) {
    const CorsPolicy p({});
    EXPECT_FALSE(p.allows("https://app.example.com"));
}

}  // namespace
}  // namespace parley::http
