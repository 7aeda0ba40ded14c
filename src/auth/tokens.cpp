#include "auth/tokens.hpp"

#include <stdexcept>

#include <sodium.h>

namespace parley::auth {

namespace {

constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;

bool is_base64url_char(char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

}  // namespace

void ensure_sodium() {
    // A function-local static: initialised exactly once even when threads race here.
    static const int status = sodium_init();
    if (status < 0) {
        throw std::runtime_error("libsodium failed to initialise");
    }
}

std::string base64url_encode(std::string_view bytes) {
    ensure_sodium();
    // sodium_base64_ENCODED_LEN counts the terminating NUL, which std::string keeps for us.
    std::string out(sodium_base64_ENCODED_LEN(bytes.size(), kVariant) - 1, '\0');
    sodium_bin2base64(
        out.data(),
        out.size() + 1,
        reinterpret_cast<const unsigned char*>(bytes.data()),
        bytes.size(),
        kVariant
    );
    return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
    ensure_sodium();
    std::string out(text.size() / 4 * 3 + 2, '\0');
    std::size_t length = 0;
    // No `ignore` set and no end pointer: libsodium then fails unless it consumed all of `text`,
    // and it always rejects non-zero trailing bits.
    const int rc = sodium_base642bin(
        reinterpret_cast<unsigned char*>(out.data()),
        out.size(),
        text.data(),
        text.size(),
        nullptr,
        &length,
        nullptr,
        kVariant
    );
    if (rc != 0) {
        return std::nullopt;
    }
    out.resize(length);
    return out;
}

std::string random_token(std::size_t bytes) {
    ensure_sodium();
    std::string raw(bytes, '\0');
    randombytes_buf(raw.data(), raw.size());
    std::string token = base64url_encode(raw);
    sodium_memzero(raw.data(), raw.size());
    return token;
}

std::string sha256_hex(std::string_view data) {
    ensure_sodium();
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(data.data()), data.size());
    std::string hex(crypto_hash_sha256_BYTES * 2, '\0');
    sodium_bin2hex(hex.data(), hex.size() + 1, digest, sizeof digest);
    return hex;
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) {
        return false;
    }
    if (a.empty()) {
        return true;
    }
    return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

NewApiKey new_api_key() {
    NewApiKey out;
    out.key = std::string(kApiKeyPrefix) + random_token(32);
    out.prefix = out.key.substr(0, kApiKeyDisplayPrefixLength);
    out.sha256 = sha256_hex(out.key);
    return out;
}

bool looks_like_api_key(std::string_view text) noexcept {
    if (text.size() != kApiKeyLength || !text.starts_with(kApiKeyPrefix)) {
        return false;
    }
    for (const char c : text.substr(kApiKeyPrefix.size())) {
        if (!is_base64url_char(c)) {
            return false;
        }
    }
    return true;
}

}  // namespace parley::auth
