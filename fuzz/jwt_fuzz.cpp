// JWT verification. Mode 0: any bytes as a token: only one that carries the key's signature is
// accepted, never a crash. Mode 1: a header and a payload from the input, correctly signed with the
// key, so that the checks after the signature (header, claims, times) are reached; whatever
// verify() accepts has a subject and is not expired. Mode 2: issue() then verify() gives the
// subject back (when the token is within kMaxJwtBytes; refused when not).
#include <chrono>
#include <string>

#include <sodium/crypto_auth_hmacsha256.h>

#include "auth/jwt.hpp"
#include "auth/tokens.hpp"
#include "common/strings.hpp"
#include "fuzz_input.hpp"

using parley::fuzz::check;

namespace {

constexpr std::string_view kSecret = "fuzz-secret-fuzz-secret-fuzz-secret!";

const parley::auth::Jwt& jwt() {
    static const parley::auth::Jwt instance(parley::auth::JwtConfig{std::string(kSecret)});
    return instance;
}

// The base64url HMAC-SHA256 of `input` under the key, computed here independently of Jwt.
std::string signature(std::string_view input) {
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(
        &st, reinterpret_cast<const unsigned char*>(kSecret.data()), kSecret.size()
    );
    crypto_auth_hmacsha256_update(
        &st, reinterpret_cast<const unsigned char*>(input.data()), input.size()
    );
    crypto_auth_hmacsha256_final(&st, mac);
    return parley::auth::base64url_encode(std::string_view(reinterpret_cast<char*>(mac), sizeof mac)
    );
}

std::string signed_token(std::string_view header, std::string_view payload) {
    const std::string input =
        parley::auth::base64url_encode(header) + "." + parley::auth::base64url_encode(payload);
    return input + "." + signature(input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // A fixed "now" (2026-01-01T00:00:00Z): the run does not depend on the day.
    const std::chrono::system_clock::time_point now{std::chrono::seconds(1767225600)};
    const auto& config = jwt().config();
    parley::fuzz::Input in(data, size);
    const auto mode = in.byte() % 3;
    if (mode == 0) {
        const auto token = in.rest();
        if (jwt().verify(token, now)) {
            const auto dot = token.rfind('.');
            check(
                dot != std::string_view::npos &&
                    token.substr(dot + 1) == signature(token.substr(0, dot)),
                "a token without the key's signature accepted"
            );
        }
    } else if (mode == 1) {
        const auto text = in.rest();
        const auto split = text.find('\n');
        const auto header = split == std::string_view::npos
                                ? std::string_view(R"({"alg":"HS256","typ":"JWT"})")
                                : text.substr(0, split);
        const auto payload = split == std::string_view::npos ? text : text.substr(split + 1);
        if (auto claims = jwt().verify(signed_token(header, payload), now)) {
            check(!claims->sub.empty(), "a token without a subject accepted");
            const auto leeway = config.leeway.count();
            check(
                claims->exp > std::chrono::system_clock::to_time_t(now) - leeway,
                "an expired token accepted"
            );
        }
    } else {
        const auto subject = in.rest();
        const std::string token = jwt().issue(subject, now);
        auto claims = jwt().verify(token, now);
        if (subject.empty()) {
            check(!claims, "a token without a subject accepted");
        } else if (token.size() > parley::auth::kMaxJwtBytes) {
            // A subject that escapes long (control characters are six bytes in JSON) can make
            // a token over the limit verify() holds every token to.
            check(!claims, "a token over kMaxJwtBytes accepted");
        } else if (parley::is_valid_utf8(subject)) {
            check(claims && claims->sub == subject, "an issued token refused or altered");
        }
    }
    return 0;
}
