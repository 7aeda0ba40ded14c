// The route table's data structure and matcher. A route is a method, a path template with `{name}`
// segments, what access it needs and a handler coroutine. Pure: no I/O, no Beast.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "http/request.hpp"
#include "http/response.hpp"

namespace parley::http {

// What a route requires of the caller, enforced by the pipeline's Gate before the handler runs:
// who may call it, with which scope, and under which rate limit.
enum class Access {
    open,        // anyone, no limit (health, docs)
    credential,  // anyone, limited per client IP (register, login, refresh: brute-force guard)
    read,        // an authenticated user with the read scope; the standard per-user limit
    write,       // … with the write scope; the standard per-user limit
    admin,       // … with the admin scope; the standard per-user limit
    model,       // … with the write scope; the per-user limit for routes that call a model
};

using Handler = std::function<boost::asio::awaitable<Response>(Request&)>;

// Shapes an error of a route whose API has its own error body (the OpenAI- and
// Anthropic-compatible endpoints), instead of Parley's envelope (http::error_response).
using ErrorShaper = Response (*)(const Error& error, const Request& req);

struct Route {
    Method method;
    std::string path;  // template, e.g. "/api/v1/conversations/{id}"
    Access access;
    Handler handler;
    // Every error of this route — the gate's, the handler's, an unexpected exception's — goes
    // through it; null: Parley's envelope.
    ErrorShaper error_shaper = nullptr;
};

class Router {
public:
    explicit Router(std::vector<Route> routes);

    struct Match {
        const Route* route;
        std::vector<std::pair<std::string, std::string>> params;
    };

    // The route for `method` and `path`. HEAD matches a GET route. nullopt when nothing matches.
    std::optional<Match> match(Method method, std::string_view path) const;

    // The methods some route accepts for `path` (for 405's Allow header), in table order; empty
    // when no template matches the path at all.
    std::vector<Method> allowed_methods(std::string_view path) const;

    const std::vector<Route>& routes() const noexcept { return routes_; }

private:
    struct Compiled {
        std::vector<std::string> segments;  // "{name}" marks a parameter
    };

    // Whether the path's `segments` (split_path's) match `c`; its parameters into `params` (when
    // given) only on a match.
    static bool match_segments(
        const Compiled& c,
        const std::vector<std::string_view>& segments,
        std::vector<std::pair<std::string, std::string>>* params
    );

    std::vector<Route> routes_;
    std::vector<Compiled> compiled_;
};

}  // namespace parley::http
