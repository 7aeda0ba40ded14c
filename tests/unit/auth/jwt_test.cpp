#include "auth/jwt.hpp"

#include <set>
#include <stdexcept>
#include <string>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>
#include <sodium.h>

#include "auth/tokens.hpp"

namespace parley::auth {
namespace {

namespace bj = boost::json;
using std::chrono::seconds;

constexpr std::string_view kSecret = "test-secret-0123456789abcdef-0123456789abcdef";
constexpr std::string_view kHs256Header = R"({"alg":"HS256","typ":"JWT"})";
constexpr std::int64_t kNowS = 1'700'000'000;
const std::chrono::system_clock::time_point kNow{seconds{kNowS}};

JwtConfig test_config(std::string_view secret = kSecret) {
    JwtConfig config;
    config.secret = std::string(secret);
    return config;
}

std::string_view as_chars(const unsigned char* p, std::size_t n) {
    return {reinterpret_cast<const char*>(p), n};
}

// HS256 over `input` keyed with the whole secret, base64url: an independent signer for crafting
// tokens.
std::string hs256(std::string_view input, std::string_view secret = kSecret) {
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init(
        &state, reinterpret_cast<const unsigned char*>(secret.data()), secret.size()
    );
    crypto_auth_hmacsha256_update(
        &state, reinterpret_cast<const unsigned char*>(input.data()), input.size()
    );
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_final(&state, mac);
    return base64url_encode(as_chars(mac, sizeof mac));
}

std::string hs512(std::string_view input, std::string_view secret = kSecret) {
    crypto_auth_hmacsha512_state state;
    crypto_auth_hmacsha512_init(
        &state, reinterpret_cast<const unsigned char*>(secret.data()), secret.size()
    );
    crypto_auth_hmacsha512_update(
        &state, reinterpret_cast<const unsigned char*>(input.data()), input.size()
    );
    unsigned char mac[crypto_auth_hmacsha512_BYTES];
    crypto_auth_hmacsha512_final(&state, mac);
    return base64url_encode(as_chars(mac, sizeof mac));
}

std::string signing_input(std::string_view header_json, std::string_view payload_json) {
    return base64url_encode(header_json) + "." + base64url_encode(payload_json);
}

// A token with exactly this header and payload, correctly HS256-signed with `secret`.
std::string craft(
    std::string_view header_json, std::string_view payload_json, std::string_view secret = kSecret
) {
    const std::string input = signing_input(header_json, payload_json);
    return input + "." + hs256(input, secret);
}

// Claims as Jwt::issue writes them at kNow; tests change or remove members.
bj::object good_claims() {
    return bj::object{
        {"sub", "user-1"},
        {"iat", kNowS},
        {"exp", kNowS + 1800},
        {"jti", "jti-1"},
        {"iss", "parley"},
        {"aud", "parley-api"},
    };
}

std::string craft_claims(const bj::object& claims) {
    return craft(kHs256Header, bj::serialize(claims));
}

std::string segment(const std::string& token, std::size_t index) {
    std::size_t start = 0;
    for (std::size_t i = 0; i < index; ++i) {
        start = token.find('.', start) + 1;
    }
    return token.substr(start, token.find('.', start) - start);
}

class JwtTest : public ::testing::Test {
protected:
    void expect_rejected(std::string_view token, std::string_view message) const {
        const auto r = jwt_.verify(token, kNow);
        ASSERT_FALSE(r.has_value()) << token;
        EXPECT_EQ(r.error().type, ErrorType::authentication);
        EXPECT_EQ(error_status(r.error().type), 401);
        EXPECT_EQ(r.error().message, message) << r.error().detail;
    }

    void expect_accepted(std::string_view token) const {
        const auto r = jwt_.verify(token, kNow);
        EXPECT_TRUE(r.has_value()) << (r.has_value() ? "" : r.error().detail);
    }

    Jwt jwt_{test_config()};
};

TEST_F(JwtTest, RoundTripCarriesAllClaims) {
    const std::string token = jwt_.issue("user-42", kNow);
    const auto claims = jwt_.verify(token, kNow);
    ASSERT_TRUE(claims.has_value()) << claims.error().detail;
    EXPECT_EQ(claims->sub, "user-42");
    EXPECT_EQ(claims->iat, kNowS);
    EXPECT_EQ(claims->exp, kNowS + 1800);
    EXPECT_EQ(claims->jti.size(), 22U);  // 128 bits, unpadded base64url
    EXPECT_EQ(base64url_decode(claims->jti).value().size(), 16U);

    EXPECT_EQ(base64url_decode(segment(token, 0)).value(), kHs256Header);
    const bj::value payload = bj::parse(base64url_decode(segment(token, 1)).value());
    const bj::object& o = payload.as_object();
    EXPECT_EQ(o.size(), 6U);
    EXPECT_EQ(o.at("sub").as_string(), "user-42");
    EXPECT_EQ(o.at("iat").as_int64(), kNowS);
    EXPECT_EQ(o.at("exp").as_int64(), kNowS + 1800);
    EXPECT_EQ(o.at("jti").as_string(), claims->jti);
    EXPECT_EQ(o.at("iss").as_string(), "parley");
    EXPECT_EQ(o.at("aud").as_string(), "parley-api");
    // The signature is HS256 over the first two segments with the whole secret.
    EXPECT_EQ(segment(token, 2), hs256(token.substr(0, token.rfind('.'))));
}

TEST_F(JwtTest, RoundTripWithConfiguredIssuerAudienceAndLifetime) {
    JwtConfig config = test_config();
    config.issuer = "issuer-x";
    config.audience = "audience-y";
    config.lifetime = seconds{60};
    const Jwt jwt(config);
    const auto claims = jwt.verify(jwt.issue("u", kNow), kNow);
    ASSERT_TRUE(claims.has_value());
    EXPECT_EQ(claims->exp, kNowS + 60);
    EXPECT_EQ(jwt.config().issuer, "issuer-x");
    EXPECT_FALSE(jwt_.verify(jwt.issue("u", kNow), kNow).has_value());  // other iss and aud
}

TEST_F(JwtTest, TwoTokensHaveDifferentJti) {
    const auto a = jwt_.verify(jwt_.issue("user-1", kNow), kNow);
    const auto b = jwt_.verify(jwt_.issue("user-1", kNow), kNow);
    ASSERT_TRUE(a.has_value() && b.has_value());
    EXPECT_NE(a->jti, b->jti);
}

TEST_F(JwtTest, AcceptsCraftedTokenWithOurClaims) {
    expect_accepted(craft_claims(good_claims()));
}

TEST_F(JwtTest, RejectsAlgNoneWithEmptySignature) {
    const std::string token =
        signing_input(R"({"alg":"none","typ":"JWT"})", bj::serialize(good_claims())) + ".";
    expect_rejected(token, "token algorithm is not accepted");
}

TEST_F(JwtTest, RejectsAlgNoneEvenWithValidHs256Signature) {
    expect_rejected(
        craft(R"({"alg":"none","typ":"JWT"})", bj::serialize(good_claims())),
        "token algorithm is not accepted"
    );
}

TEST_F(JwtTest, RejectsHs512SignedWithTheSameSecret) {
    const std::string input =
        signing_input(R"({"alg":"HS512","typ":"JWT"})", bj::serialize(good_claims()));
    expect_rejected(input + "." + hs512(input), "token algorithm is not accepted");
}

TEST_F(JwtTest, RejectsRs256Header) {
    // Key confusion: even a signature that is a valid HMAC with our secret must not pass.
    expect_rejected(
        craft(R"({"alg":"RS256","typ":"JWT"})", bj::serialize(good_claims())),
        "token algorithm is not accepted"
    );
}

TEST_F(JwtTest, RejectsMissingAlg) {
    expect_rejected(
        craft(R"({"typ":"JWT"})", bj::serialize(good_claims())), "token algorithm is not accepted"
    );
}

TEST_F(JwtTest, RejectsAlgInOtherCaseOrType) {
    for (const std::string_view header : {
             R"({"alg":"hs256","typ":"JWT"})",
             R"({"alg":"HS256 ","typ":"JWT"})",
             R"({"alg":["HS256"],"typ":"JWT"})",
             R"({"alg":null,"typ":"JWT"})",
         }) {
        expect_rejected(
            craft(header, bj::serialize(good_claims())), "token algorithm is not accepted"
        );
    }
}

TEST_F(JwtTest, RejectsCritHeader) {
    expect_rejected(
        craft(R"({"alg":"HS256","typ":"JWT","crit":["exp"]})", bj::serialize(good_claims())),
        "token uses unsupported critical headers"
    );
}

TEST_F(JwtTest, RejectsHeaderThatIsNotJsonObject) {
    for (const std::string_view header : {"not json", R"(["HS256"])", R"("HS256")", ""}) {
        expect_rejected(craft(header, bj::serialize(good_claims())), "malformed token");
    }
}

TEST_F(JwtTest, RejectsTamperedPayloadWithOriginalSignature) {
    const std::string token = jwt_.issue("user-1", kNow);
    bj::object claims = good_claims();
    claims["sub"] = "admin";
    const std::string forged =
        segment(token, 0) + "." + base64url_encode(bj::serialize(claims)) + "." + segment(token, 2);
    expect_rejected(forged, "token signature is invalid");
}

TEST_F(JwtTest, RejectsTamperedHeaderWithOriginalSignature) {
    const std::string token = jwt_.issue("user-1", kNow);
    const std::string forged = base64url_encode(R"({"alg":"HS256","typ":"JWT","kid":"x"})") +
                               token.substr(token.find('.'));
    expect_rejected(forged, "token signature is invalid");
}

TEST_F(JwtTest, RejectsWrongSecret) {
    const Jwt other(test_config("another-secret-0123456789abcdef-0123456789"));
    expect_rejected(other.issue("user-1", kNow), "token signature is invalid");
    expect_rejected(
        craft(kHs256Header, bj::serialize(good_claims()), "another-secret-0123456789abcdef"),
        "token signature is invalid"
    );
}

TEST_F(JwtTest, RejectsSecretThatIsOnlyAPrefix) {
    // The whole secret keys the HMAC, not its first 32 bytes.
    expect_rejected(
        craft(kHs256Header, bj::serialize(good_claims()), kSecret.substr(0, 32)),
        "token signature is invalid"
    );
}

TEST_F(JwtTest, RejectsTruncatedToken) {
    const std::string token = jwt_.issue("user-1", kNow);
    expect_rejected(token.substr(0, token.size() - 1), "malformed token");
    expect_rejected(token.substr(0, token.size() - 10), "malformed token");
    expect_rejected(token.substr(0, token.rfind('.') + 1), "malformed token");
    expect_rejected(token.substr(0, token.size() / 2), "malformed token");
    expect_rejected("", "malformed token");
}

TEST_F(JwtTest, RejectsTwoSegments) {
    const std::string token = jwt_.issue("user-1", kNow);
    expect_rejected(token.substr(0, token.rfind('.')), "malformed token");
    expect_rejected("abc.def", "malformed token");
}

TEST_F(JwtTest, RejectsFourSegments) {
    expect_rejected(jwt_.issue("user-1", kNow) + ".AAAA", "malformed token");
    expect_rejected("..", "malformed token");
}

TEST_F(JwtTest, RejectsNonBase64UrlCharacters) {
    const std::string token = jwt_.issue("user-1", kNow);
    const std::size_t dot = token.find('.');
    const std::size_t last_dot = token.rfind('.');
    for (const char c : {'+', '/', '*', ' ', '\n', '\0', '='}) {
        // In the payload, re-signed over the altered text so that only the alphabet is at fault.
        std::string input = token.substr(0, last_dot);
        input[dot + 5] = c;
        expect_rejected(input + "." + hs256(input), "malformed token");

        std::string bad_header = token;
        bad_header[3] = c;
        expect_rejected(bad_header, "malformed token");

        std::string bad_signature = token;
        bad_signature[token.size() - 3] = c;
        expect_rejected(bad_signature, "malformed token");
    }
}

TEST_F(JwtTest, RejectsPaddingAdded) {
    const std::string token = jwt_.issue("user-1", kNow);
    expect_rejected(token + "=", "malformed token");
    const std::string header = segment(token, 0);  // 36 characters: "=" can only be appended
    expect_rejected(header + "=" + token.substr(header.size()), "malformed token");
    const std::string payload = segment(token, 1);
    const std::string padded = payload + std::string((4 - payload.size() % 4) % 4 + 1, '=');
    const std::string input = header + "." + padded;
    // Signed over the padded text, so only the padding itself can be the reason.
    expect_rejected(input + "." + hs256(input), "malformed token");
}

TEST_F(JwtTest, RejectsPayloadThatIsNotJsonObject) {
    for (const std::string_view payload : {"[1,2]", R"("user-1")", "42", "null", "{", "not json"}) {
        expect_rejected(craft(kHs256Header, payload), "malformed token");
    }
}

TEST_F(JwtTest, RejectsMissingExp) {
    bj::object claims = good_claims();
    claims.erase("exp");
    expect_rejected(craft_claims(claims), "token expiry is missing or invalid");
    claims["exp"] = nullptr;
    expect_rejected(craft_claims(claims), "token expiry is missing or invalid");
}

TEST_F(JwtTest, RejectsExpAsString) {
    bj::object claims = good_claims();
    claims["exp"] = std::to_string(kNowS + 1800);
    expect_rejected(craft_claims(claims), "token expiry is missing or invalid");
}

TEST_F(JwtTest, RejectsNonIntegerExp) {
    bj::object claims = good_claims();
    claims["exp"] = static_cast<double>(kNowS + 1800) + 0.5;
    expect_rejected(craft_claims(claims), "token expiry is missing or invalid");
    claims["exp"] = true;
    expect_rejected(craft_claims(claims), "token expiry is missing or invalid");
    claims["exp"] = 18446744073709551615ULL;  // beyond int64
    expect_rejected(craft_claims(claims), "token expiry is missing or invalid");
}

TEST_F(JwtTest, ExpiredAtExactlyExpWithoutLeeway) {
    JwtConfig config = test_config();
    config.leeway = seconds{0};
    const Jwt strict(config);
    const std::string token = strict.issue("user-1", kNow);
    const auto exp = kNow + config.lifetime;
    EXPECT_TRUE(strict.verify(token, exp - seconds{1}).has_value());
    const auto at_exp = strict.verify(token, exp);
    ASSERT_FALSE(at_exp.has_value());
    EXPECT_EQ(at_exp.error().message, "token has expired");
    EXPECT_FALSE(strict.verify(token, exp + seconds{1}).has_value());
}

TEST_F(JwtTest, ExpiredAtExpPlusLeewayAndOneSecondAfter) {
    const std::string token = jwt_.issue("user-1", kNow);
    const auto exp = kNow + jwt_.config().lifetime;
    const auto leeway = jwt_.config().leeway;
    ASSERT_EQ(leeway, seconds{30});
    EXPECT_TRUE(jwt_.verify(token, exp).has_value());  // within the leeway
    EXPECT_TRUE(jwt_.verify(token, exp + leeway - seconds{1}).has_value());
    for (const auto when : {exp + leeway, exp + leeway + seconds{1}, exp + seconds{86400}}) {
        const auto r = jwt_.verify(token, when);
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().type, ErrorType::authentication);
        EXPECT_EQ(r.error().message, "token has expired");
    }
}

TEST_F(JwtTest, RejectsIatInTheFutureBeyondLeeway) {
    bj::object claims = good_claims();
    claims["iat"] = kNowS + 30;  // within the leeway
    expect_accepted(craft_claims(claims));
    claims["iat"] = kNowS + 31;
    expect_rejected(craft_claims(claims), "token is not yet valid");
}

TEST_F(JwtTest, RejectsNbfInTheFutureBeyondLeeway) {
    bj::object claims = good_claims();
    claims["nbf"] = kNowS + 30;
    expect_accepted(craft_claims(claims));
    claims["nbf"] = kNowS + 31;
    expect_rejected(craft_claims(claims), "token is not yet valid");
}

TEST_F(JwtTest, RejectsNonIntegerIatOrNbf) {
    bj::object claims = good_claims();
    claims["iat"] = "now";
    expect_rejected(craft_claims(claims), "malformed token");
    claims = good_claims();
    claims["nbf"] = 1.5;
    expect_rejected(craft_claims(claims), "malformed token");
}

TEST_F(JwtTest, RejectsWrongIssuer) {
    bj::object claims = good_claims();
    claims["iss"] = "someone-else";
    expect_rejected(craft_claims(claims), "token issuer is not accepted");
    claims["iss"] = bj::array{"parley"};
    expect_rejected(craft_claims(claims), "token issuer is not accepted");
    claims.erase("iss");
    expect_rejected(craft_claims(claims), "token issuer is not accepted");
}

TEST_F(JwtTest, RejectsWrongAudience) {
    bj::object claims = good_claims();
    claims["aud"] = "another-api";
    expect_rejected(craft_claims(claims), "token audience is not accepted");
    claims["aud"] = "PARLEY-API";
    expect_rejected(craft_claims(claims), "token audience is not accepted");
    claims.erase("aud");
    expect_rejected(craft_claims(claims), "token audience is not accepted");
}

TEST_F(JwtTest, AcceptsAudArrayContainingTheAudience) {
    bj::object claims = good_claims();
    claims["aud"] = bj::array{"another-api", "parley-api"};
    expect_accepted(craft_claims(claims));
}

TEST_F(JwtTest, RejectsAudArrayWithoutTheAudience) {
    bj::object claims = good_claims();
    claims["aud"] = bj::array{"another-api", 7, nullptr};
    expect_rejected(craft_claims(claims), "token audience is not accepted");
    claims["aud"] = bj::array{};
    expect_rejected(craft_claims(claims), "token audience is not accepted");
}

TEST_F(JwtTest, RejectsMissingSub) {
    bj::object claims = good_claims();
    claims.erase("sub");
    expect_rejected(craft_claims(claims), "token has no subject");
}

TEST_F(JwtTest, RejectsEmptyOrNonStringSub) {
    bj::object claims = good_claims();
    claims["sub"] = "";
    expect_rejected(craft_claims(claims), "token has no subject");
    claims["sub"] = 42;
    expect_rejected(craft_claims(claims), "token has no subject");
}

TEST_F(JwtTest, RejectsNonStringJti) {
    bj::object claims = good_claims();
    claims["jti"] = 7;
    expect_rejected(craft_claims(claims), "malformed token");
}

TEST_F(JwtTest, RejectsOverlongToken) {
    bj::object claims = good_claims();
    claims["pad"] = std::string(kMaxJwtBytes, 'x');
    expect_rejected(craft_claims(claims), "malformed token");
}

TEST_F(JwtTest, AcceptsUnknownClaimsAndLargeTokensUnderTheLimit) {
    bj::object claims = good_claims();
    claims["pad"] = std::string(4000, 'x');  // beyond the parser's stack arena
    claims["roles"] = bj::array{"a", "b"};
    expect_accepted(craft_claims(claims));
}

TEST(JwtConfigTest, ConstructorRejectsShortSecret) {
    EXPECT_THROW(Jwt(test_config("")), std::invalid_argument);
    EXPECT_THROW(Jwt(test_config(std::string(31, 'k'))), std::invalid_argument);
    EXPECT_NO_THROW(Jwt(test_config(std::string(32, 'k'))));
}

TEST(JwtConfigTest, LongSecretIsUsedWhole) {
    // Over one SHA-256 block (64 bytes), HMAC hashes the key first; our signer must agree.
    const std::string secret(200, 's');
    const Jwt jwt(test_config(secret));
    const std::string token = jwt.issue("user-1", kNow);
    EXPECT_EQ(segment(token, 2), hs256(token.substr(0, token.rfind('.')), secret));
    EXPECT_TRUE(jwt.verify(token, kNow).has_value());
}

}  // namespace
}  // namespace parley::auth
