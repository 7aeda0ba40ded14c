// Errors of the compatible endpoints in each API's own shape, so that the official SDKs raise
// their own exception types (they choose the type by status, then read the body):
// OpenAI `{"error":{"message","type","param","code"}}`, Anthropic
// `{"type":"error","error":{"type","message"},"request_id"}`. A 422 of Parley's (a well-formed
// request that is semantically wrong: unknown field, bad value) is a 400 in both APIs.
// These are http::ErrorShaper functions: the route table names one per route.
#pragma once

#include "common/error.hpp"
#include "http/request.hpp"
#include "http/response.hpp"

namespace parley::compat {

// POST /v1/chat/completions.
http::Response openai_error(const Error& error, const http::Request& req);

// POST /v1/messages, POST /v1/messages/count_tokens.
http::Response anthropic_error(const Error& error, const http::Request& req);

// GET /v1/models, which both SDKs call: Anthropic's shape when the request carries
// `anthropic-version` (every Anthropic SDK request does), else OpenAI's.
http::Response either_error(const Error& error, const http::Request& req);

}  // namespace parley::compat
