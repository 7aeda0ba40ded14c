#include "auth/jwt.hpp"

#include <array>
#include <optional>
#include <stdexcept>
#include <utility>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <sodium.h>

#include "auth/tokens.hpp"

namespace parley::auth {

namespace bj = boost::json;

namespace {

// base64url of {"alg":"HS256","typ":"JWT"}, the one header Parley issues.
constexpr std::string_view kHeader = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";
constexpr std::size_t kMinSecretBytes = 32;
// 32 bytes of HMAC-SHA256 in unpadded base64url.
constexpr std::size_t kSignatureChars = 43;
// Our header and claims are flat objects; aud may be an array of strings.
constexpr std::size_t kMaxJsonDepth = 4;
// Room for a header or payload we issued, so the usual token parses without touching the heap.
constexpr std::size_t kJsonArenaBytes = 2048;

Error rejected(std::string message, std::string detail) {
    return make_error(ErrorType::authentication, std::move(message), std::move(detail));
}

Error malformed(std::string detail) {
    return rejected("malformed token", std::move(detail));
}

std::int64_t unix_seconds(std::chrono::system_clock::time_point t) noexcept {
    return std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
}

// Strict unpadded base64url into `out` (which holds at least text.size() * 3 / 4 + 2 bytes);
// the decoded length, or nullopt as for base64url_decode.
std::optional<std::size_t> decode_into(
    std::string_view text, unsigned char* out, std::size_t capacity
) noexcept {
    std::size_t length = 0;
    const int rc = sodium_base642bin(
        out,
        capacity,
        text.data(),
        text.size(),
        nullptr,
        &length,
        nullptr,
        sodium_base64_VARIANT_URLSAFE_NO_PADDING
    );
    if (rc != 0) {
        return std::nullopt;
    }
    return length;
}

// Parses one decoded segment with its values allocated from `arena`. A null value (never an
// object) if it is not valid JSON.
bj::value parse_json(std::string_view text, bj::monotonic_resource& arena) {
    bj::parse_options options;
    options.max_depth = kMaxJsonDepth;
    boost::system::error_code ec;
    bj::value value = bj::parse(text, ec, bj::storage_ptr(&arena), options);
    if (ec) {
        return bj::value(bj::storage_ptr(&arena));
    }
    return value;
}

enum class IntClaim { absent, invalid, present };

// Reads the NumericDate claim `key`: absent (or null), not an integer, or present in `out`.
IntClaim read_int_claim(
    const bj::object& claims, std::string_view key, std::int64_t& out
) noexcept {
    const bj::value* v = claims.if_contains(key);
    if (v == nullptr || v->is_null()) {
        return IntClaim::absent;
    }
    if (v->is_int64()) {
        out = v->get_int64();
        return IntClaim::present;
    }
    if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
        out = static_cast<std::int64_t>(v->get_uint64());
        return IntClaim::present;
    }
    return IntClaim::invalid;
}

bool is_string_equal(const bj::value* v, std::string_view expected) noexcept {
    return v != nullptr && v->is_string() && v->get_string() == expected;
}

// aud is either the audience itself or an array that contains it (RFC 7519 §4.1.3).
bool audience_matches(const bj::value* aud, std::string_view audience) noexcept {
    if (aud == nullptr) {
        return false;
    }
    if (const auto* list = aud->if_array()) {
        for (const auto& entry : *list) {
            if (is_string_equal(&entry, audience)) {
                return true;
            }
        }
        return false;
    }
    return is_string_equal(aud, audience);
}

}  // namespace

Jwt::Jwt(JwtConfig config) : config_(std::move(config)) {
    if (config_.secret.size() < kMinSecretBytes) {
        throw std::invalid_argument("JWT secret must be at least 32 bytes");
    }
    ensure_sodium();
    crypto_auth_hmacsha256_init(
        &keyed_,
        reinterpret_cast<const unsigned char*>(config_.secret.data()),
        config_.secret.size()
    );
}

void Jwt::sign(std::string_view signing_input, unsigned char* mac) const noexcept {
    crypto_auth_hmacsha256_state state = keyed_;
    crypto_auth_hmacsha256_update(
        &state, reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()
    );
    // final() wipes `state` itself.
    crypto_auth_hmacsha256_final(&state, mac);
}

std::string Jwt::issue(std::string_view subject, std::chrono::system_clock::time_point now) const {
    const std::int64_t iat = unix_seconds(now);
    const bj::object claims{
        {"sub", subject},
        {"iat", iat},
        {"exp", iat + config_.lifetime.count()},
        {"jti", random_token(16)},
        {"iss", config_.issuer},
        {"aud", config_.audience},
    };
    std::string token(kHeader);
    token += '.';
    token += base64url_encode(bj::serialize(claims));

    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    sign(token, mac);
    token += '.';
    token += base64url_encode(std::string_view(reinterpret_cast<const char*>(mac), sizeof mac));
    return token;
}

Result<Claims> Jwt::verify(std::string_view token, std::chrono::system_clock::time_point now)
    const {
    if (token.size() > kMaxJwtBytes) {
        return malformed("token longer than kMaxJwtBytes");
    }
    const auto dot1 = token.find('.');
    const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
        return malformed("not three dot-separated segments");
    }
    const std::string_view header_text = token.substr(0, dot1);
    const std::string_view payload_text = token.substr(dot1 + 1, dot2 - dot1 - 1);
    const std::string_view signature_text = token.substr(dot2 + 1);

    // Decoding only shrinks text, so one stack buffer holds each decoded segment in turn, and the
    // JSON values live in a stack arena: verifying a token we issued allocates nothing on the heap
    // but the strings it returns.
    std::array<unsigned char, kMaxJwtBytes> decoded;
    std::array<unsigned char, kJsonArenaBytes> arena_buffer;
    bj::monotonic_resource arena(arena_buffer.data(), arena_buffer.size());
    const auto as_text = [&decoded](std::size_t length) {
        return std::string_view(reinterpret_cast<const char*>(decoded.data()), length);
    };

    // The header first: the algorithm is pinned, never taken from the token (RFC 8725 §3.1).
    {
        const auto length = decode_into(header_text, decoded.data(), decoded.size());
        if (!length) {
            return malformed("header is not base64url");
        }
        const bj::value parsed = parse_json(as_text(*length), arena);
        const bj::object* header = parsed.if_object();
        if (header == nullptr) {
            return malformed("header is not a JSON object");
        }
        if (!is_string_equal(header->if_contains("alg"), "HS256")) {
            return rejected("token algorithm is not accepted", "alg is not \"HS256\"");
        }
        // RFC 7515 §4.1.11: extensions we do not understand must not be ignored, and we
        // understand none.
        if (header->contains("crit")) {
            return rejected("token uses unsupported critical headers", "header has \"crit\"");
        }
    }

    // Then the signature, before anything in the payload is believed.
    {
        unsigned char presented[crypto_auth_hmacsha256_BYTES];
        if (signature_text.size() != kSignatureChars ||
            decode_into(signature_text, presented, sizeof presented) !=
                std::optional<std::size_t>(sizeof presented)) {
            return malformed("signature is not 32 bytes of base64url");
        }
        unsigned char expected[crypto_auth_hmacsha256_BYTES];
        sign(token.substr(0, dot2), expected);
        if (crypto_verify_32(presented, expected) != 0) {
            return rejected("token signature is invalid", "HMAC mismatch");
        }
    }

    const auto length = decode_into(payload_text, decoded.data(), decoded.size());
    if (!length) {
        return malformed("payload is not base64url");
    }
    const bj::value parsed = parse_json(as_text(*length), arena);
    const bj::object* claims = parsed.if_object();
    if (claims == nullptr) {
        return malformed("payload is not a JSON object");
    }

    const std::int64_t now_s = unix_seconds(now);
    const std::int64_t leeway = config_.leeway.count();
    Claims out;
    if (read_int_claim(*claims, "exp", out.exp) != IntClaim::present) {
        return rejected("token expiry is missing or invalid", "exp missing or not an integer");
    }
    if (out.exp <= now_s - leeway) {
        return rejected("token has expired", "exp <= now - leeway");
    }
    const IntClaim iat = read_int_claim(*claims, "iat", out.iat);
    std::int64_t nbf = 0;
    const IntClaim has_nbf = read_int_claim(*claims, "nbf", nbf);
    if (iat == IntClaim::invalid || has_nbf == IntClaim::invalid) {
        return malformed("iat or nbf is not an integer");
    }
    if ((iat == IntClaim::present && out.iat > now_s + leeway) ||
        (has_nbf == IntClaim::present && nbf > now_s + leeway)) {
        return rejected("token is not yet valid", "iat or nbf > now + leeway");
    }
    if (!is_string_equal(claims->if_contains("iss"), config_.issuer)) {
        return rejected("token issuer is not accepted", "iss mismatch");
    }
    if (!audience_matches(claims->if_contains("aud"), config_.audience)) {
        return rejected("token audience is not accepted", "aud mismatch");
    }
    const bj::value* sub = claims->if_contains("sub");
    if (sub == nullptr || !sub->is_string() || sub->get_string().empty()) {
        return rejected("token has no subject", "sub missing, empty or not a string");
    }
    out.sub = sub->get_string();
    if (const bj::value* jti = claims->if_contains("jti"); jti != nullptr && !jti->is_null()) {
        if (!jti->is_string()) {
            return malformed("jti is not a string");
        }
        out.jti = jti->get_string();
    }
    return out;
}

}  // namespace parley::auth
