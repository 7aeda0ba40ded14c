// The client address behind trusted proxies (X-Forwarded-For), WebSocket upgrade detection and
// query parameters.
#include "http/request.hpp"

#include <gtest/gtest.h>

namespace parley::http {
namespace {

const std::vector<std::string> kProxies{"10.0.0.1", "10.0.0.2"};

TEST(ClientAddressTest, APeerThatIsNoTrustedProxyIsTheClientWhateverItForwards) {
    EXPECT_EQ(client_address("203.0.113.9", "198.51.100.1", kProxies), "203.0.113.9");
    EXPECT_EQ(client_address("203.0.113.9", "198.51.100.1", {}), "203.0.113.9");
}

TEST(ClientAddressTest, ATrustedProxyNamesTheClientInForwardedFor) {
    EXPECT_EQ(client_address("10.0.0.1", "198.51.100.1", kProxies), "198.51.100.1");
    EXPECT_EQ(client_address("10.0.0.1", " 198.51.100.1 ", kProxies), "198.51.100.1");
}

TEST(ClientAddressTest, TheRightMostUntrustedEntryWinsSoForgedEntriesOnTheLeftDoNot) {
    // The client forged "1.2.3.4"; the proxy appended the address it saw.
    EXPECT_EQ(client_address("10.0.0.1", "1.2.3.4, 198.51.100.1", kProxies), "198.51.100.1");
    // Two proxies in a row: both are skipped.
    EXPECT_EQ(
        client_address("10.0.0.1", "1.2.3.4, 198.51.100.1, 10.0.0.2", kProxies), "198.51.100.1"
    );
}

TEST(ClientAddressTest, WithoutAUsableHeaderThePeerStays) {
    EXPECT_EQ(client_address("10.0.0.1", std::nullopt, kProxies), "10.0.0.1");
    EXPECT_EQ(client_address("10.0.0.1", "", kProxies), "10.0.0.1");
    EXPECT_EQ(client_address("10.0.0.1", " , ,", kProxies), "10.0.0.1");
    EXPECT_EQ(client_address("10.0.0.1", "10.0.0.2", kProxies), "10.0.0.1");
}

TEST(RequestTest, WebSocketUpgradeNeedsGetAndTheUpgradeHeader) {
    const Request upgrade(
        Method::get, "/ws", {{"Upgrade", "WebSocket"}, {"Connection", "Upgrade"}}, ""
    );
    EXPECT_TRUE(upgrade.is_websocket_upgrade());
    const Request post(Method::post, "/ws", {{"Upgrade", "websocket"}}, "");
    EXPECT_FALSE(post.is_websocket_upgrade());
    const Request plain(Method::get, "/ws", {}, "");
    EXPECT_FALSE(plain.is_websocket_upgrade());
}

TEST(RequestTest, QueryParametersAreFormDecoded) {
    const Request req(Method::get, "/search?q=cat+OR+dog&plus=a%2Bb&pct=a%20b&empty=&bare", {}, "");
    EXPECT_EQ(req.query_param("q"), "cat OR dog");
    EXPECT_EQ(req.query_param("plus"), "a+b");
    EXPECT_EQ(req.query_param("pct"), "a b");
    EXPECT_EQ(req.query_param("empty"), "");
    EXPECT_EQ(req.query_param("bare"), "");
    EXPECT_EQ(req.query_param("missing"), std::nullopt);
}

}  // namespace
}  // namespace parley::http
