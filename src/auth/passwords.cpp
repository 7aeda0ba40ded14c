#include "auth/passwords.hpp"

#include <stdexcept>

#include <sodium.h>

#include "auth/tokens.hpp"
#include "common/strings.hpp"

namespace parley::auth {

namespace {

constexpr std::string_view kArgon2idPrefix = "$argon2id$";
constexpr std::size_t kLocalPartMaxBytes = 64;
constexpr std::size_t kLabelMaxBytes = 63;

// The characters RFC 5322 does not allow unquoted in a local part (besides '@', handled apart),
// which we also refuse quoted.
constexpr std::string_view kLocalSpecials = "\"(),:;<>[\\]";

Error invalid_email() {
    return make_error(ErrorType::unprocessable, "email is not a valid address");
}

bool valid_local_part(std::string_view local) noexcept {
    if (local.empty() || local.size() > kLocalPartMaxBytes || local.front() == '.' ||
        local.back() == '.' || local.find("..") != std::string_view::npos) {
        return false;
    }
    for (const char c : local) {
        // Printable ASCII without the space: 0x21 '!' to 0x7E '~'.
        if (c < '!' || c > '~' || kLocalSpecials.find(c) != std::string_view::npos) {
            return false;
        }
    }
    return true;
}

bool valid_label(std::string_view label) noexcept {
    if (label.empty() || label.size() > kLabelMaxBytes || label.front() == '-' ||
        label.back() == '-') {
        return false;
    }
    for (const char c : label) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return false;
        }
    }
    return true;
}

bool valid_domain(std::string_view domain) noexcept {
    if (domain.find('.') == std::string_view::npos) {
        return false;
    }
    while (true) {
        const auto dot = domain.find('.');
        if (!valid_label(domain.substr(0, dot))) {
            return false;
        }
        if (dot == std::string_view::npos) {
            return true;
        }
        domain.remove_prefix(dot + 1);
    }
}

}  // namespace

std::string hash_password(std::string_view password) {
    ensure_sodium();
    char out[crypto_pwhash_STRBYTES];
    // libsodium's pointer parameters are declared non-null, which an empty view need not be.
    const char* data = password.empty() ? "" : password.data();
    if (crypto_pwhash_str_alg(
            out,
            data,
            password.size(),
            kPasswordOpsLimit,
            kPasswordMemLimit,
            crypto_pwhash_ALG_ARGON2ID13
        ) != 0) {
        throw std::runtime_error("out of memory while hashing a password");
    }
    return std::string(out);
}

bool verify_password(std::string_view password, std::string_view stored_hash) noexcept {
    // The PHC string must be NUL-terminated for libsodium, fit its buffer, and be one we could
    // have written: an embedded NUL would have libsodium check only a prefix of it.
    if (!stored_hash.starts_with(kArgon2idPrefix) || stored_hash.size() >= crypto_pwhash_STRBYTES ||
        stored_hash.find('\0') != std::string_view::npos) {
        return false;
    }
    try {
        ensure_sodium();
    } catch (const std::exception&) {
        return false;
    }
    char terminated[crypto_pwhash_STRBYTES] = {};
    stored_hash.copy(terminated, stored_hash.size());
    const char* data = password.empty() ? "" : password.data();
    return crypto_pwhash_str_verify(terminated, data, password.size()) == 0;
}

const std::string& dummy_password_hash() {
    static const std::string hash = hash_password(random_token(32));
    return hash;
}

Result<void> validate_password(std::string_view password) {
    if (!is_valid_utf8(password)) {
        return make_error(ErrorType::unprocessable, "password must be valid UTF-8");
    }
    const std::size_t chars = utf8_length(password);
    if (chars < kPasswordMinChars) {
        return make_error(ErrorType::unprocessable, "password must be at least 8 characters");
    }
    if (chars > kPasswordMaxChars) {
        return make_error(ErrorType::unprocessable, "password must be at most 128 characters");
    }
    return {};
}

Result<std::string> normalize_email(std::string_view email) {
    const std::string_view trimmed = trim(email);
    if (trimmed.size() > kEmailMaxBytes) {
        return make_error(ErrorType::unprocessable, "email is longer than 254 bytes");
    }
    std::string lowered = to_lower(trimmed);
    const std::string_view view = lowered;
    const auto at = view.find('@');
    if (at == std::string_view::npos || view.find('@', at + 1) != std::string_view::npos) {
        return invalid_email();
    }
    if (!valid_local_part(view.substr(0, at)) || !valid_domain(view.substr(at + 1))) {
        return invalid_email();
    }
    return lowered;
}

}  // namespace parley::auth
