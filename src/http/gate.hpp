// The pipeline's hook for authentication, authorisation and rate limiting. http/ only declares it;
// the auth feature implements it (auth/gate.cpp), so the transport knows nothing of tokens or keys.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "common/error.hpp"
#include "http/request.hpp"
#include "http/router.hpp"

namespace parley::http {

class Gate {
public:
    virtual ~Gate() = default;

    using Headers = std::vector<std::pair<std::string, std::string>>;

    // Decides whether `req` may reach a route that requires `access`: authenticates it (setting
    // req.principal()), checks the scope and counts it against its rate limit. Appends the headers
    // every response to it must carry (X-RateLimit-*) to `headers`, admitted or not.
    // Errors: authentication (401), permission (403), rate_limit (429, with retry_after_s).
    virtual boost::asio::awaitable<Result<void>> admit(
        Access access, Request& req, Headers& headers
    ) = 0;
};

}  // namespace parley::http
