#include "common/error.hpp"

namespace parley {

int error_status(ErrorType type) noexcept {
    switch (type) {
        case ErrorType::invalid_request:
            return 400;
        case ErrorType::unprocessable:
            return 422;
        case ErrorType::unsupported_media_type:
            return 415;
        case ErrorType::method_not_allowed:
            return 405;
        case ErrorType::authentication:
            return 401;
        case ErrorType::permission:
            return 403;
        case ErrorType::not_found:
            return 404;
        case ErrorType::conflict:
            return 409;
        case ErrorType::request_too_large:
            return 413;
        case ErrorType::headers_too_large:
            return 431;
        case ErrorType::rate_limit:
        case ErrorType::budget_exceeded:
            return 429;
        case ErrorType::api:
            return 500;
        case ErrorType::upstream:
            return 502;
        case ErrorType::overloaded:
            return 503;
    }
    return 500;
}

std::string_view error_type_name(ErrorType type) noexcept {
    switch (type) {
        case ErrorType::invalid_request:
        case ErrorType::unprocessable:
        case ErrorType::unsupported_media_type:
        case ErrorType::method_not_allowed:
            return "invalid_request_error";
        case ErrorType::authentication:
            return "authentication_error";
        case ErrorType::permission:
            return "permission_error";
        case ErrorType::not_found:
            return "not_found_error";
        case ErrorType::conflict:
            return "conflict_error";
        case ErrorType::request_too_large:
        case ErrorType::headers_too_large:
            return "request_too_large";
        case ErrorType::rate_limit:
            return "rate_limit_error";
        case ErrorType::budget_exceeded:
            return "budget_exceeded_error";
        case ErrorType::api:
        case ErrorType::upstream:
            return "api_error";
        case ErrorType::overloaded:
            return "overloaded_error";
    }
    return "api_error";
}

}  // namespace parley
