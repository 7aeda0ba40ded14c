#include "redis/url.hpp"

#include <gtest/gtest.h>

namespace parley::redis {
namespace {

TEST(RedisUrlTest, HostPortAndDefaults) {
    auto e = parse_url("redis://127.0.0.1:6380");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->host, "127.0.0.1");
    EXPECT_EQ(e->port, 6380);
    EXPECT_EQ(e->db, 0);
    EXPECT_TRUE(e->password.empty());

    e = parse_url("redis://cache.internal");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->host, "cache.internal");
    EXPECT_EQ(e->port, 6379);
    EXPECT_EQ(e->describe(), "cache.internal:6379");
}

TEST(RedisUrlTest, CredentialsAndDatabase) {
    auto e = parse_url("redis://parley:s%40cret:x@redis:7000/3");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->username, "parley");
    EXPECT_EQ(e->password, "s@cret:x");
    EXPECT_EQ(e->host, "redis");
    EXPECT_EQ(e->port, 7000);
    EXPECT_EQ(e->db, 3);
    EXPECT_EQ(e->describe(), "redis:7000/3");  // no credentials in log lines

    e = parse_url("redis://:only-password@h");
    ASSERT_TRUE(e);
    EXPECT_TRUE(e->username.empty());
    EXPECT_EQ(e->password, "only-password");

    e = parse_url("redis://legacy@h");  // a lone userinfo is the password
    ASSERT_TRUE(e);
    EXPECT_TRUE(e->username.empty());
    EXPECT_EQ(e->password, "legacy");
}

TEST(RedisUrlTest, Ipv6InBrackets) {
    const auto e = parse_url("redis://[::1]:6390/1");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->host, "::1");
    EXPECT_EQ(e->port, 6390);
    EXPECT_EQ(e->describe(), "[::1]:6390/1");
}

TEST(RedisUrlTest, RejectsWhatItCannotServe) {
    for (const auto* url : {
             "rediss://h:6379",  // TLS: not in hiredis 0.14
             "http://h",
             "redis://",
             "redis://h:0",
             "redis://h:65536",
             "redis://h:port",
             "redis://h/x",
             "redis://h/-1",
             "redis://[::1",
             "redis://u:%zz@h",
         }) {
        EXPECT_FALSE(parse_url(url)) << url;
    }
    EXPECT_NE(parse_url("rediss://h").error().message.find("TLS"), std::string::npos);
}

}  // namespace
}  // namespace parley::redis
