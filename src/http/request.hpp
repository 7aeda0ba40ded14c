// Parley's own view of an HTTP request, handed to middleware and route handlers instead of Beast
// types (so that feature code compiles without Beast). Built once per request by the session.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/principal.hpp"
#include "http/stream.hpp"

namespace parley::http {

enum class Method { get, head, post, put, patch, delete_, options, other };

Method parse_method(std::string_view name) noexcept;

// The client's address: `peer` itself, unless `peer` is a trusted proxy, in which case the
// right-most X-Forwarded-For entry that is not a trusted proxy (proxies append the address they
// saw, so entries left of the first untrusted one may be forged). `forwarded_for` is the header.
std::string client_address(
    std::string_view peer,
    std::optional<std::string_view> forwarded_for,
    const std::vector<std::string>& trusted_proxies
);
std::string_view method_name(Method m) noexcept;

class Request {
public:
    using Header = std::pair<std::string, std::string>;

    Request() = default;

    Request(Method method, std::string target, std::vector<Header> headers, std::string body);

    Method method() const noexcept { return method_; }

    // The request target as sent, e.g. "/api/v1/conversations?page=2".
    const std::string& target() const noexcept { return target_; }

    // The path part of the target (no query), e.g. "/api/v1/conversations".
    std::string_view path() const noexcept {
        return std::string_view(target_).substr(0, path_end_);
    }

    // The raw query string without '?', possibly empty.
    std::string_view query() const noexcept {
        return path_end_ < target_.size() ? std::string_view(target_).substr(path_end_ + 1)
                                          : std::string_view{};
    }

    // The first value of a header (case-insensitive name), if present.
    std::optional<std::string_view> header(std::string_view name) const noexcept;

    const std::vector<Header>& headers() const noexcept { return headers_; }

    const std::string& body() const noexcept { return body_; }

    // A decoded query parameter (first occurrence), if present; form decoding: + is a space.
    std::optional<std::string> query_param(std::string_view name) const;

    // A path parameter captured by the router ("{id}" → path_param("id")); empty if absent.
    std::string_view path_param(std::string_view name) const noexcept;

    void set_path_params(std::vector<std::pair<std::string, std::string>> params) {
        path_params_ = std::move(params);
    }

    // Set by the pipeline: the route template that matched ("/api/v1/conversations/{id}").
    std::string_view route() const noexcept { return route_; }

    void set_route(std::string_view route) { route_ = route; }

    const std::string& request_id() const noexcept { return request_id_; }

    void set_request_id(std::string id) { request_id_ = std::move(id); }

    std::string_view client_ip() const noexcept { return client_ip_; }

    void set_client_ip(std::string ip) { client_ip_ = std::move(ip); }

    // Who is calling, once the gate has authenticated the request (empty user_id before).
    const Principal& principal() const noexcept { return principal_; }

    void set_principal(Principal p) { principal_ = std::move(p); }

    // Maximum JSON nesting depth accepted in this request's body (from the server's limits).
    std::size_t json_max_depth() const noexcept { return json_max_depth_; }

    void set_json_max_depth(std::size_t depth) noexcept { json_max_depth_ = depth; }

    // Watches the connection while the handler runs, for a handler that waits long before it
    // answers (a stream's first event): `sink` is called with client_left when the client closes
    // or resets the connection, or shutdown when the server begins to drain (at once, inside
    // this call, when it drains already). A plain call from the session's read handler or its
    // drain, so `sink` only schedules work (issue 14: no coroutine to watch with). Called once
    // at most; an empty function ends the watch, and so does the handler's return. Never called for
    // a request without a connection (unit tests). The session provides it.
    void watch_close(std::function<void(CloseReason)> sink) const;

    using CloseWatch = std::function<void(std::function<void(CloseReason)>)>;

    void set_close_watch(CloseWatch watch) { close_watch_ = std::move(watch); }

    // Whether this is a WebSocket upgrade request (GET with Upgrade: websocket).
    bool is_websocket_upgrade() const noexcept;

private:
    CloseWatch close_watch_;
    Method method_ = Method::get;
    std::string target_;
    std::size_t path_end_ = 0;  // offsets, not views: a Request may be moved
    std::vector<Header> headers_;
    std::string body_;
    std::vector<std::pair<std::string, std::string>> path_params_;
    std::string route_;
    std::string request_id_;
    std::string client_ip_;
    Principal principal_;
    std::size_t json_max_depth_ = 64;
};

}  // namespace parley::http
