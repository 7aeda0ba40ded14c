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

TEST(CorsTest, WebSocketsFromTheServersOwnPagesOrAllowedOrigins) {
    const CorsPolicy cors({"https://app.example"});
    EXPECT_TRUE(cors.allows_websocket("https://app.example", "api.example"));
    EXPECT_TRUE(cors.allows_websocket("http://127.0.0.1:8000", "127.0.0.1:8000"));
    EXPECT_TRUE(cors.allows_websocket("https://API.example", "api.example"));
    EXPECT_FALSE(cors.allows_websocket("https://evil.example", "api.example"));
    EXPECT_FALSE(cors.allows_websocket("http://127.0.0.1:9999", "127.0.0.1:8000"));
    EXPECT_FALSE(cors.allows_websocket("http://api.example.evil.example", "api.example"));
    EXPECT_FALSE(cors.allows_websocket("null", "api.example"));
    EXPECT_FALSE(cors.allows_websocket("https://api.example", ""));
    EXPECT_FALSE(cors.allows_websocket("ftp://api.example", "api.example"));
}

TEST(CorsTest, EmptyAllowlistAllowsNothing) {
    const CorsPolicy p({});
    EXPECT_FALSE(p.allows("https://app.example.com"));
}

}  // namespace
}  // namespace parley::http
