#include "http/request.hpp"

#include <algorithm>

#include <boost/url/parse_query.hpp>

#include "common/strings.hpp"

namespace parley::http {

Method parse_method(std::string_view name) noexcept {
    if (name == "GET") {
        return Method::get;
    }
    if (name == "POST") {
        return Method::post;
    }
    if (name == "PATCH") {
        return Method::patch;
    }
    if (name == "DELETE") {
        return Method::delete_;
    }
    if (name == "PUT") {
        return Method::put;
    }
    if (name == "HEAD") {
        return Method::head;
    }
    if (name == "OPTIONS") {
        return Method::options;
    }
    return Method::other;
}

std::string_view method_name(Method m) noexcept {
    switch (m) {
        case Method::get:
            return "GET";
        case Method::head:
            return "HEAD";
        case Method::post:
            return "POST";
        case Method::put:
            return "PUT";
        case Method::patch:
            return "PATCH";
        case Method::delete_:
            return "DELETE";
        case Method::options:
            return "OPTIONS";
        case Method::other:
            return "OTHER";
    }
    return "OTHER";
}

Request::Request(Method method, std::string target, std::vector<Header> headers, std::string body)
    : method_(method),
      target_(std::move(target)),
      headers_(std::move(headers)),
      body_(std::move(body)) {
    path_end_ = std::min(target_.find('?'), target_.size());
}

std::optional<std::string_view> Request::header(std::string_view name) const noexcept {
    for (const auto& [k, v] : headers_) {
        if (iequals(k, name)) {
            return std::string_view(v);
        }
    }
    return std::nullopt;
}

std::optional<std::string> Request::query_param(std::string_view name) const {
    const auto q = query();
    if (q.empty()) {
        return std::nullopt;
    }
    auto params = boost::urls::parse_query(q);
    if (!params) {
        return std::nullopt;
    }
    for (const auto& p : *params) {
        if (p.key == name) {
            if (!p.has_value) {
                return std::string{};
            }
            // Form encoding, as browsers' URLSearchParams and the seed's Python clients send
            // it: '+' is a space (a literal plus is %2B).
            boost::urls::encoding_opts opts;
            opts.space_as_plus = true;
            return p.value.decode(opts);
        }
    }
    return std::nullopt;
}

std::string_view Request::path_param(std::string_view name) const noexcept {
    for (const auto& [k, v] : path_params_) {
        if (k == name) {
            return v;
        }
    }
    return {};
}

void Request::watch_close(std::function<void(CloseReason)> sink) const {
    if (close_watch_) {
        close_watch_(std::move(sink));
    }
}

bool Request::is_websocket_upgrade() const noexcept {
    if (method_ != Method::get) {
        return false;
    }
    const auto upgrade = header("Upgrade");
    return upgrade && iequals(trim(*upgrade), "websocket");
}

std::string client_address(
    std::string_view peer,
    std::optional<std::string_view> forwarded_for,
    const std::vector<std::string>& trusted_proxies
) {
    const auto trusted = [&trusted_proxies](std::string_view ip) {
        return std::find(trusted_proxies.begin(), trusted_proxies.end(), ip) !=
               trusted_proxies.end();
    };
    if (!forwarded_for || !trusted(peer)) {
        return std::string(peer);
    }
    std::string_view rest = *forwarded_for;
    while (!rest.empty()) {
        const auto comma = rest.rfind(',');
        const std::string_view entry =
            trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(0, comma);
        if (entry.empty()) {
            continue;
        }
        if (!trusted(entry)) {
            return std::string(entry);
        }
    }
    return std::string(peer);
}

}  // namespace parley::http
