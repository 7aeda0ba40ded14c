#include "auth/tokens.hpp"

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace parley::auth {
namespace {

bool is_base64url(std::string_view s) {
    for (const char c : s) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok) {
            return false;
        }
    }
    return true;
}

TEST(TokensTest, RandomTokenLengthAndAlphabet) {
    const std::string token = random_token();
    EXPECT_EQ(token.size(), 43U);  // 32 bytes, unpadded
    EXPECT_TRUE(is_base64url(token)) << token;
    EXPECT_EQ(random_token(16).size(), 22U);
    EXPECT_EQ(random_token(1).size(), 2U);
    EXPECT_EQ(random_token(0), "");
    EXPECT_EQ(base64url_decode(token).value().size(), 32U);
}

TEST(TokensTest, RandomTokensAreUnique) {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        seen.insert(random_token());
    }
    EXPECT_EQ(seen.size(), 1000U);
}

TEST(TokensTest, Base64UrlMatchesRfc4648Vectors) {
    // RFC 4648 §10, without the padding.
    const std::pair<std::string_view, std::string_view> vectors[] = {
        {"", ""},
        {"f", "Zg"},
        {"fo", "Zm8"},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg"},
        {"fooba", "Zm9vYmE"},
        {"foobar", "Zm9vYmFy"},
        {"\xfb\xff", "-_8"},  // the two URL-safe characters
    };
    for (const auto& [plain, encoded] : vectors) {
        EXPECT_EQ(base64url_encode(plain), encoded);
        EXPECT_EQ(base64url_decode(encoded), std::optional<std::string>(plain)) << encoded;
    }
}

TEST(TokensTest, Base64UrlDecodeIsStrict) {
    for (const std::string_view bad : {
             "Zg==",       // padding
             "Zm9v YmFy",  // whitespace
             "Zm9v\nYmFy",
             "+/8",    // standard alphabet
             "Z",      // impossible length
             "Zm9vY",  // impossible length
             "Zh",     // non-zero trailing bits: "Zg" is the only encoding of "f"
             "Zm9*",
         }) {
        EXPECT_EQ(base64url_decode(bad), std::nullopt) << bad;
    }
}

TEST(TokensTest, Sha256HexKnownVectors) {
    EXPECT_EQ(
        sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(TokensTest, ConstantTimeEqual) {
    EXPECT_TRUE(constant_time_equal("secret-value", "secret-value"));
    EXPECT_FALSE(constant_time_equal("secret-value", "secret-valuf"));
    EXPECT_FALSE(constant_time_equal("Secret-value", "secret-value"));
    EXPECT_FALSE(constant_time_equal("secret", "secret-value"));
    EXPECT_FALSE(constant_time_equal("", "x"));
    EXPECT_TRUE(constant_time_equal("", ""));
    EXPECT_TRUE(constant_time_equal(std::string_view{}, ""));
}

TEST(TokensTest, ApiKeyFormatPrefixAndHash) {
    const NewApiKey key = new_api_key();
    EXPECT_TRUE(key.key.starts_with("prly_")) << key.key;
    EXPECT_EQ(key.key.size(), kApiKeyLength);
    EXPECT_TRUE(is_base64url(std::string_view(key.key).substr(5)));
    EXPECT_TRUE(looks_like_api_key(key.key));
    EXPECT_EQ(key.prefix.size(), 12U);
    EXPECT_EQ(key.prefix, key.key.substr(0, 12));
    EXPECT_EQ(key.sha256, sha256_hex(key.key));
    EXPECT_EQ(key.sha256.size(), 64U);

    const NewApiKey other = new_api_key();
    EXPECT_NE(other.key, key.key);
    EXPECT_NE(other.sha256, key.sha256);
}

TEST(TokensTest, LooksLikeApiKeyRejectsOtherShapes) {
    const std::string body(43, 'a');
    EXPECT_TRUE(looks_like_api_key("prly_" + body));
    EXPECT_FALSE(looks_like_api_key(""));
    EXPECT_FALSE(looks_like_api_key("prly_"));
    EXPECT_FALSE(looks_like_api_key("prly_" + body.substr(1)));  // too short
    EXPECT_FALSE(looks_like_api_key("prly_" + body + "a"));      // too long
    EXPECT_FALSE(looks_like_api_key("PRLY_" + body));
    EXPECT_FALSE(looks_like_api_key("prlx_" + body));
    EXPECT_FALSE(looks_like_api_key("prly_" + body.substr(1) + "+"));
    EXPECT_FALSE(looks_like_api_key("prly_" + body.substr(1) + "="));
    EXPECT_FALSE(looks_like_api_key("prly_" + body.substr(1) + " "));
    EXPECT_FALSE(looks_like_api_key(random_token(35)));
}

}  // namespace
}  // namespace parley::auth
