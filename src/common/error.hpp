// The one error vocabulary of Parley. Services and stores return Result<T> for expected failures;
// the HTTP boundary turns an Error into `{"status":"error","error":{type,message,request_id}}` with
// the status that error_status() gives. `message` is safe to show a client; `detail` is only
// logged.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include <boost/system/result.hpp>

namespace parley {

// Each enumerator is one distinct outcome; status and wire type come from the switches in
// error.cpp.
enum class ErrorType {
    invalid_request,         // 400 invalid_request_error
    unprocessable,           // 422 invalid_request_error (well-formed but semantically wrong)
    unsupported_media_type,  // 415 invalid_request_error
    method_not_allowed,      // 405 invalid_request_error
    authentication,          // 401 authentication_error
    permission,              // 403 permission_error
    not_found,               // 404 not_found_error
    conflict,                // 409 conflict_error
    request_too_large,       // 413 request_too_large
    headers_too_large,       // 431 request_too_large
    rate_limit,              // 429 rate_limit_error
    budget_exceeded,         // 429 budget_exceeded_error (a spending cap is reached)
    api,                     // 500 api_error
    upstream,                // 502 api_error (a provider answered badly)
    overloaded,              // 503 overloaded_error
};

struct Error {
    ErrorType type = ErrorType::api;
    std::string message;                    // shown to the client
    std::string detail;                     // logged only, never sent
    std::optional<int> retry_after_s{};     // Retry-After, for rate_limit and overloaded
    std::optional<std::string> reset_at{};  // budget_exceeded: when the budget resets (ISO 8601)
};

// The HTTP status for an error type.
int error_status(ErrorType type) noexcept;

// The wire string (`error.type`) for an error type, in the Anthropic API's vocabulary.
std::string_view error_type_name(ErrorType type) noexcept;

inline Error make_error(ErrorType type, std::string message, std::string detail = {}) {
    return Error{type, std::move(message), std::move(detail), std::nullopt};
}

template <class T>
using Result = boost::system::result<T, Error>;

// Thrown where returning a Result would only be passed straight up (request parsing helpers); the
// single catch at the HTTP boundary turns it into the structured error response.
class ErrorException : public std::exception {
public:
    explicit ErrorException(Error error) : error_(std::move(error)) {}

    const Error& error() const noexcept { return error_; }

    const char* what() const noexcept override { return error_.message.c_str(); }

private:
    Error error_;
};

// Unwraps a Result in request handlers, throwing its error to the HTTP boundary's one catch,
// which turns it into the structured error response.
template <class T>
T value_or_throw(Result<T> r) {
    if (!r) {
        throw ErrorException(std::move(r.error()));
    }
    if constexpr (!std::is_void_v<T>) {
        return std::move(*r);
    }
}

}  // namespace parley

// boost::system::result needs to know how to "throw" our error type from value() on failure.
namespace parley {
[[noreturn]] inline void throw_exception_from_error(const Error& e, const boost::source_location&) {
    throw ErrorException(e);
}
}  // namespace parley
