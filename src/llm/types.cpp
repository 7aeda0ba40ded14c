#include "llm/types.hpp"

#include <ostream>

namespace parley::llm {

std::string_view finish_reason_name(FinishReason r) noexcept {
    switch (r) {
        case FinishReason::stop:
            return "stop";
        case FinishReason::length:
            return "length";
        case FinishReason::tool_use:
            return "tool_use";
        case FinishReason::content_filter:
            return "content_filter";
        case FinishReason::error:
            return "error";
        case FinishReason::cancelled:
            return "cancelled";
    }
    return "stop";
}

std::string_view upstream_error_name(UpstreamError e) noexcept {
    switch (e) {
        case UpstreamError::invalid_request:
            return "invalid_request";
        case UpstreamError::authentication:
            return "authentication";
        case UpstreamError::rate_limit:
            return "rate_limit";
        case UpstreamError::overloaded:
            return "overloaded";
        case UpstreamError::server:
            return "server";
        case UpstreamError::timeout:
            return "timeout";
        case UpstreamError::connection:
            return "connection";
        case UpstreamError::malformed:
            return "malformed";
    }
    return "server";
}

UpstreamError classify_status(int status) noexcept {
    if (status == 401 || status == 403) {
        return UpstreamError::authentication;
    }
    if (status == 429) {
        return UpstreamError::rate_limit;
    }
    if (status == 503 || status == 529) {
        return UpstreamError::overloaded;
    }
    if (status == 408 || status == 504) {
        return UpstreamError::timeout;
    }
    if (status >= 500) {
        return UpstreamError::server;
    }
    return UpstreamError::invalid_request;
}

std::ostream& operator<<(std::ostream& out, const MessageText& text) {
    return out << text.view();
}

}  // namespace parley::llm
