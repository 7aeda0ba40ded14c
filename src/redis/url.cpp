#include "redis/url.hpp"

#include <charconv>
#include <optional>

namespace parley::redis {

namespace {

Error invalid(std::string message) {
    return make_error(ErrorType::invalid_request, std::move(message));
}

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

std::optional<std::string> percent_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out.push_back(s[i]);
            continue;
        }
        if (i + 2 >= s.size()) {
            return std::nullopt;
        }
        const int hi = hex_value(s[i + 1]);
        const int lo = hex_value(s[i + 2]);
        if (hi < 0 || lo < 0) {
            return std::nullopt;
        }
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
    }
    return out;
}

template <class Int>
bool parse_int(std::string_view s, Int& out) {
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && end == s.data() + s.size();
}

}  // namespace

std::string Endpoint::describe() const {
    const bool v6 = host.find(':') != std::string::npos;
    std::string out = v6 ? "[" + host + "]" : host;
    out += ":" + std::to_string(port);
    if (db != 0) {
        out += "/" + std::to_string(db);
    }
    return out;
}

Result<Endpoint> parse_url(std::string_view url) {
    constexpr std::string_view kScheme = "redis://";
    if (url.starts_with("rediss://")) {
        return invalid("rediss:// (TLS) is not supported: this build's hiredis has no TLS");
    }
    if (!url.starts_with(kScheme)) {
        return invalid("must start with redis://");
    }
    std::string_view rest = url.substr(kScheme.size());
    Endpoint endpoint;

    std::string_view path;
    if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
        path = rest.substr(slash + 1);
        rest = rest.substr(0, slash);
    }
    if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
        const std::string_view userinfo = rest.substr(0, at);
        rest = rest.substr(at + 1);
        std::string_view user = userinfo;
        std::string_view password;
        if (const auto colon = userinfo.find(':'); colon != std::string_view::npos) {
            user = userinfo.substr(0, colon);
            password = userinfo.substr(colon + 1);
        }
        auto u = percent_decode(user);
        auto p = percent_decode(password);
        if (!u || !p) {
            return invalid("malformed percent-encoding in the credentials");
        }
        if (p->empty() && !u->empty()) {
            // redis://secret@host: a lone userinfo is the password (the old, user-less AUTH).
            p = std::move(u);
            u = std::string();
        }
        endpoint.username = std::move(*u);
        endpoint.password = std::move(*p);
    }

    std::string_view port;
    if (rest.starts_with('[')) {
        const auto close = rest.find(']');
        if (close == std::string_view::npos) {
            return invalid("unclosed [ in the host");
        }
        endpoint.host = std::string(rest.substr(1, close - 1));
        const auto after = rest.substr(close + 1);
        if (!after.empty()) {
            if (!after.starts_with(':')) {
                return invalid("unexpected text after the host");
            }
            port = after.substr(1);
        }
    } else {
        const auto colon = rest.find(':');
        endpoint.host = std::string(rest.substr(0, colon));
        if (colon != std::string_view::npos) {
            port = rest.substr(colon + 1);
        }
    }
    if (endpoint.host.empty()) {
        return invalid("the host is missing");
    }
    if (!port.empty()) {
        int p = 0;
        if (!parse_int(port, p) || p < 1 || p > 65535) {
            return invalid("the port must be 1 to 65535");
        }
        endpoint.port = static_cast<std::uint16_t>(p);
    }
    if (const auto query = path.find('?'); query != std::string_view::npos) {
        path = path.substr(0, query);
    }
    if (!path.empty() && (!parse_int(path, endpoint.db) || endpoint.db < 0)) {
        return invalid("the database must be a non-negative number");
    }
    return endpoint;
}

}  // namespace parley::redis
