// Secrets Parley makes for itself in development: a JWT signing key generated once and kept in the
// data directory, so tokens survive restarts without any set-up.
#pragma once

#include <string>

#include "common/error.hpp"

namespace parley::app {

// The secret stored in `data_dir`/jwt_secret, created (64 hex characters from libsodium's CSPRNG,
// mode 0600) if absent. Errors: api when the file cannot be read or written.
Result<std::string> load_or_create_jwt_secret(const std::string& data_dir);

}  // namespace parley::app
