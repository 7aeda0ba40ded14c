#include "http/pipeline.hpp"

#include <exception>
#include <optional>
#include <stdexcept>

#include "common/ids.hpp"
#include "common/log.hpp"

namespace parley::http {

namespace {

std::string join_methods(const std::vector<Method>& methods) {
    std::string out;
    for (const auto m : methods) {
        if (!out.empty()) {
            out += ", ";
        }
        out += method_name(m);
        if (m == Method::get) {
            out += ", HEAD";
        }
    }
    return out;
}

void assign_request_id(Request& req) {
    if (!req.request_id().empty()) {
        return;
    }
    const auto incoming = req.header("X-Request-ID");
    if (incoming && is_sane_request_id(*incoming)) {
        req.set_request_id(std::string(*incoming));
    } else {
        req.set_request_id(new_request_id());
    }
}

}  // namespace

Pipeline::Pipeline(const Router& router, Metrics& metrics, PipelineOptions options, Gate* gate)
    : router_(router),
      metrics_(metrics),
      gate_(gate),
      cors_(options.allowed_origins),
      options_(std::move(options)) {
    if (options_.hsts_max_age_s > 0) {
        hsts_value_ = "max-age=" + std::to_string(options_.hsts_max_age_s) + "; includeSubDomains";
    }
}

Response Pipeline::dispatch_error(Request& req, const Error& error, ErrorShaper shaper) {
    if (!error.detail.empty()) {
        log::warn(
            "request failed",
            {{"request_id", req.request_id()},
             {"status", error_status(error.type)},
             {"detail", error.detail}}
        );
    }
    if (shaper != nullptr) {
        return shaper(error, req);
    }
    return error_response(error, req.request_id());
}

boost::asio::awaitable<Response> Pipeline::handle(Request& req) {
    const auto start = std::chrono::steady_clock::now();
    assign_request_id(req);
    Response res;

    const auto origin = req.header("Origin");
    const bool preflight = req.method() == Method::options && origin &&
                           req.header("Access-Control-Request-Method").has_value();
    if (preflight) {
        req.set_route("preflight");
        if (cors_.allows(*origin)) {
            res.status = 204;
            res.set_header("Access-Control-Allow-Methods", std::string(CorsPolicy::kAllowMethods));
            res.set_header("Access-Control-Allow-Headers", std::string(CorsPolicy::kAllowHeaders));
            res.set_header("Access-Control-Max-Age", std::string(CorsPolicy::kMaxAge));
        } else {
            res = error_response(
                make_error(ErrorType::permission, "origin not allowed by the CORS policy"),
                req.request_id()
            );
        }
    } else if (auto match = router_.match(req.method(), req.path())) {
        req.set_route(match->route->path);
        req.set_path_params(std::move(match->params));
        const ErrorShaper shaper = match->route->error_shaper;
        Gate::Headers gate_headers;
        try {
            std::optional<Error> refused;
            if (req.is_websocket_upgrade() && origin &&
                !cors_.allows_websocket(*origin, req.header("Host").value_or(""))) {
                refused = make_error(
                    ErrorType::permission,
                    "WebSocket connections from this origin are not allowed; add it to "
                    "ALLOWED_ORIGINS"
                );
            } else if (match->route->access != Access::open) {
                if (gate_ == nullptr) {
                    throw std::logic_error("route " + match->route->path + " needs a gate");
                }
                auto admitted = co_await gate_->admit(match->route->access, req, gate_headers);
                if (!admitted) {
                    refused = std::move(admitted.error());
                }
            }
            if (refused) {
                res = dispatch_error(req, *refused, shaper);
            } else {
                res = co_await match->route->handler(req);
            }
        } catch (const ErrorException& e) {
            res = dispatch_error(req, e.error(), shaper);
        } catch (const std::exception& e) {
            log::error(
                "unhandled exception", {{"request_id", req.request_id()}, {"what", e.what()}}
            );
            res = dispatch_error(req, make_error(ErrorType::api, "internal server error"), shaper);
        }
        for (auto& h : gate_headers) {
            // The error response may already carry one (Retry-After from the rate-limit error).
            if (res.header(h.first).empty()) {
                res.headers.push_back(std::move(h));
            }
        }
    } else {
        const auto allowed = router_.allowed_methods(req.path());
        req.set_route("unmatched");
        if (allowed.empty()) {
            res = error_response(
                make_error(ErrorType::not_found, "no route for " + std::string(req.path())),
                req.request_id()
            );
        } else if (req.method() == Method::options) {
            res.status = 204;
            res.set_header("Allow", join_methods(allowed) + ", OPTIONS");
        } else {
            res = error_response(
                make_error(
                    ErrorType::method_not_allowed,
                    std::string(method_name(req.method())) + " is not allowed on " +
                        std::string(req.path())
                ),
                req.request_id()
            );
            res.set_header("Allow", join_methods(allowed));
        }
    }
    if (origin && cors_.allows(*origin)) {
        res.set_header("Access-Control-Allow-Origin", std::string(*origin));
        res.set_header("Access-Control-Expose-Headers", std::string(CorsPolicy::kExposeHeaders));
    }
    if (origin) {
        res.set_header("Vary", "Origin");
    }
    finish(req, res, start);
    co_return res;
}

Response Pipeline::reject(Request& req, const Error& error) {
    const auto start = std::chrono::steady_clock::now();
    assign_request_id(req);
    req.set_route("rejected");
    Response res = error_response(error, req.request_id());
    finish(req, res, start);
    return res;
}

void Pipeline::finish(Request& req, Response& res, std::chrono::steady_clock::time_point start) {
    res.set_header("X-Request-ID", req.request_id());
    if (res.status == 401 && res.header("WWW-Authenticate").empty()) {
        res.set_header("WWW-Authenticate", "Bearer realm=\"parley\"");
    }
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("X-Frame-Options", "DENY");
    res.set_header("Referrer-Policy", "no-referrer");
    if (!res.cacheable) {
        res.set_header("Cache-Control", "no-store");
    }
    if (!hsts_value_.empty()) {
        res.set_header("Strict-Transport-Security", hsts_value_);
    }

    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto method = method_name(req.method());
    metrics_.observe_request(req.route(), method, res.status, seconds);
    if (options_.access_log) {
        log::info(
            "request",
            {
                {"request_id", req.request_id()},
                {"method", method},
                {"path", req.path()},
                {"route", req.route()},
                {"status", res.status},
                {"latency_ms", seconds * 1000.0},
                {"bytes", res.body.size()},
                {"remote", req.client_ip()},
            }
        );
    }
}

}  // namespace parley::http
