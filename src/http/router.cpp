#include "http/router.hpp"

#include <stdexcept>

namespace parley::http {

namespace {

bool is_param(std::string_view segment) {
    return segment.size() >= 3 && segment.front() == '{' && segment.back() == '}';
}

// Splits "/a/b/c" into {"a","b","c"}; "/" gives {}. A trailing slash is not ignored: "/a/" has an
// empty last segment, so it does not match "/a" (one canonical URL per resource).
std::vector<std::string_view> split_path(std::string_view path) {
    std::vector<std::string_view> out;
    if (path.empty() || path.front() != '/') {
        return out;
    }
    path.remove_prefix(1);
    if (path.empty()) {
        return out;
    }
    while (true) {
        const auto slash = path.find('/');
        out.push_back(path.substr(0, slash));
        if (slash == std::string_view::npos) {
            break;
        }
        path.remove_prefix(slash + 1);
    }
    return out;
}

}  // namespace

Router::Router(std::vector<Route> routes) : routes_(std::move(routes)) {
    for (const auto& r : routes_) {
        if (r.path.empty() || r.path.front() != '/') {
            throw std::invalid_argument("route path must start with '/': " + r.path);
        }
        Compiled c;
        for (const auto segment : split_path(r.path)) {
            c.segments.emplace_back(segment);
        }
        compiled_.push_back(std::move(c));
    }
}

bool Router::match_segments(
    const Compiled& c,
    const std::vector<std::string_view>& segments,
    std::vector<std::pair<std::string, std::string>>* params
) {
    if (segments.size() != c.segments.size()) {
        return false;
    }
    for (std::size_t i = 0; i < segments.size(); ++i) {
        const std::string_view want = c.segments[i];
        if (is_param(want)) {
            if (segments[i].empty()) {
                return false;
            }
        } else if (want != segments[i]) {
            return false;
        }
    }
    if (params != nullptr) {
        for (std::size_t i = 0; i < segments.size(); ++i) {
            const std::string_view want = c.segments[i];
            if (is_param(want)) {
                params->emplace_back(
                    std::string(want.substr(1, want.size() - 2)), std::string(segments[i])
                );
            }
        }
    }
    return true;
}

std::optional<Router::Match> Router::match(Method method, std::string_view path) const {
    if (path.empty() || path.front() != '/') {
        return std::nullopt;
    }
    // The path is split once, not once a route tried (issue 14: a request's routing walked the
    // table splitting, and allocating, for every route of its method before its own).
    const auto segments = split_path(path);
    const Method wanted = method == Method::head ? Method::get : method;
    for (std::size_t i = 0; i < routes_.size(); ++i) {
        if (routes_[i].method != wanted) {
            continue;
        }
        std::vector<std::pair<std::string, std::string>> params;
        if (match_segments(compiled_[i], segments, &params)) {
            return Match{&routes_[i], std::move(params)};
        }
    }
    return std::nullopt;
}

std::vector<Method> Router::allowed_methods(std::string_view path) const {
    std::vector<Method> out;
    if (path.empty() || path.front() != '/') {
        return out;
    }
    const auto segments = split_path(path);
    for (std::size_t i = 0; i < routes_.size(); ++i) {
        if (match_segments(compiled_[i], segments, nullptr) &&
            std::find(out.begin(), out.end(), routes_[i].method) == out.end()) {
            out.push_back(routes_[i].method);
        }
    }
    return out;
}

}  // namespace parley::http
