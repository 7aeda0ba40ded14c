#include "compat/errors.hpp"

#include <string>
#include <utility>

#include <boost/json/object.hpp>

namespace parley::compat {

namespace bj = boost::json;

namespace {

int compat_status(ErrorType type) noexcept {
    return type == ErrorType::unprocessable ? 400 : error_status(type);
}

// OpenAI's `type` and `code` for an error (what its API answers for the same outcome).
std::pair<std::string_view, std::string_view> openai_type(ErrorType type) noexcept {
    switch (type) {
        case ErrorType::authentication:
            return {"invalid_request_error", "invalid_api_key"};
        case ErrorType::permission:
            return {"invalid_request_error", "insufficient_permissions"};
        case ErrorType::not_found:
            return {"invalid_request_error", "model_not_found"};
        case ErrorType::rate_limit:
            return {"requests", "rate_limit_exceeded"};
        case ErrorType::budget_exceeded:
            return {"budget_exceeded", "budget_exceeded"};
        case ErrorType::api:
        case ErrorType::upstream:
        case ErrorType::overloaded:
            return {"server_error", ""};
        default:
            return {"invalid_request_error", ""};
    }
}

http::Response with_retry_after(http::Response r, const Error& error) {
    if (error.retry_after_s) {
        r.set_header("Retry-After", std::to_string(*error.retry_after_s));
    }
    return r;
}

}  // namespace

http::Response openai_error(const Error& error, const http::Request& /*req*/) {
    const auto [type, code] = openai_type(error.type);
    return with_retry_after(
        http::json_response(
            compat_status(error.type),
            bj::object{
                {"error",
                 bj::object{
                     {"message", error.message},
                     {"type", type},
                     {"param", nullptr},
                     {"code", code.empty() ? bj::value(nullptr) : bj::value(code)},
                 }},
            }
        ),
        error
    );
}

http::Response anthropic_error(const Error& error, const http::Request& req) {
    auto r = http::json_response(
        compat_status(error.type),
        bj::object{
            {"type", "error"},
            {"error",
             bj::object{{"type", error_type_name(error.type)}, {"message", error.message}}},
            {"request_id", req.request_id()},
        }
    );
    // The SDK reads the request id of an error from this header (APIError.requestID).
    r.set_header("request-id", std::string(req.request_id()));
    return with_retry_after(std::move(r), error);
}

http::Response either_error(const Error& error, const http::Request& req) {
    if (req.header("anthropic-version")) {
        return anthropic_error(error, req);
    }
    return openai_error(error, req);
}

}  // namespace parley::compat
