// Where Redis is: REDIS_URL parsed into host, port, credentials and database number. No I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace parley::redis {

struct Endpoint {
    std::string host;
    std::uint16_t port = 6379;
    std::string username;  // Redis 6 ACL user; empty: AUTH with the password alone
    std::string password;  // empty: no AUTH
    int db = 0;            // SELECT after connecting when not 0

    // host:port/db, without credentials, for log lines.
    std::string describe() const;
};

// Parses redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]. HOST may be a name, an IPv4 address or an
// IPv6 address in brackets; credentials are percent-decoded. Errors: invalid_request naming what
// is wrong, including rediss:// (TLS), which this build's hiredis (0.14) cannot speak.
Result<Endpoint> parse_url(std::string_view url);

}  // namespace parley::redis
